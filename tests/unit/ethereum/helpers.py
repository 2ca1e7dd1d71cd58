"""Shared builders for the Ethereum adapter's unit tests: handmade bridge logs, messages and facts."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode

from bridge.messages import BridgeMessage, MessageKind, SourceRef
from relayers.ethereum.logs import (
    CALL_EXECUTED_TOPIC,
    DEPOSIT_TOPIC,
    MESSAGE_SENT_TOPIC,
    RELEASE_QUEUED_TOPIC,
)
from relayers.ethereum.rebuild import DestinationFacts
from relayers.ethereum.views import RawLog

BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TARGET = "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9"
RID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")
RESOURCES = {RID: {1: 18, 2: 12}}
DEPOSITOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
BLOCK_HASH = "0x" + "ab" * 32
TX_HASH = "0x" + "cd" * 32


def u(value: int) -> bytes:
    return value.to_bytes(32, "big")


def addr_topic(address: str) -> bytes:
    return b"\x00" * 12 + bytes.fromhex(address[2:])


def raw_log(topics: list[bytes], data: bytes, **kw: Any) -> RawLog:
    fields: dict[str, Any] = dict(
        address=BRIDGE,
        topics=tuple(topics),
        data=data,
        block_number=100,
        block_hash=BLOCK_HASH,
        tx_hash=TX_HASH,
        log_index=3,
    )
    fields.update(kw)
    return RawLog(**fields)


def deposit_log(
    nonce: int = 7, dest: int = 2, recipient: bytes = b"\x42" * 32, amount: int = 5 * 10**18, **kw: Any
) -> RawLog:
    data = encode(["address", "bytes", "uint256"], [DEPOSITOR, recipient, amount])
    return raw_log([DEPOSIT_TOPIC, u(nonce), u(dest), kw.pop("resource", RID)], data, **kw)


def message_sent_log(nonce: int = 8, dest: int = 2, payload: bytes = b"hello", **kw: Any) -> RawLog:
    data = encode(["bytes", "uint256"], [payload, 10**15])
    return raw_log([MESSAGE_SENT_TOPIC, u(nonce), u(dest), addr_topic(DEPOSITOR)], data, **kw)


def call_executed_log(
    nonce: int, success: bool, result: bytes, domain: int = 2, target: str = TARGET, **kw: Any
) -> RawLog:
    data = encode(["bool", "bytes"], [success, result])
    return raw_log([CALL_EXECUTED_TOPIC, u(domain), u(nonce), addr_topic(target)], data, **kw)


def release_queued_log(nonce: int, reason: bytes, domain: int = 2) -> RawLog:
    data = encode(["address", "uint256", "uint256", "bytes"], [DEPOSITOR, 10**23, 1_800_000_000, reason])
    return raw_log([RELEASE_QUEUED_TOPIC, u(domain), u(nonce), addr_topic(TOKEN)], data)


def inbound(nonce: int, amount: int = 10**18, recipient: bytes | None = None, **kw: Any) -> BridgeMessage:
    """A Phala -> Ethereum PHA transfer (amount in Ethereum base units)."""
    fields: dict[str, Any] = dict(
        source_domain=2,
        dest_domain=1,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 32,
        recipient=recipient if recipient is not None else bytes([nonce % 250 + 1]) * 20,
        resource_id=RID,
        source_amount=amount // 10**6,
        amount=amount,
        source=SourceRef(block_number=1, block_hash=b"\x01" * 32, tx_hash=b"\x02" * 32, index=0),
    )
    fields.update(kw)
    return BridgeMessage(**fields)


def call_message(nonce: int, target: str = TARGET, data: bytes = b"\xca\x11") -> BridgeMessage:
    return inbound(nonce, 0, bytes.fromhex(target[2:]), kind=MessageKind.CALL, payload=data, resource_id=None)


def facts(**kw: Any) -> DestinationFacts:
    fields: dict[str, Any] = dict(
        chain_id=31337,
        bridge=BRIDGE,
        epoch=1,
        tokens={RID: TOKEN},
        allowed_targets=frozenset({TARGET}),
        used=frozenset(),
        call_gas_limit=200_000,
    )
    fields.update(kw)
    return DestinationFacts(**fields)
