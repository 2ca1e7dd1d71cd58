"""The bridge's logs, decoded strictly (pure: raw topics and data in, typed values out).

    Deposit(uint64 indexed nonce, uint32 indexed destinationDomain, bytes32 indexed resourceId,
            address depositor, bytes recipient, uint256 amount)                      -> a transfer BridgeMessage
    MessageSent(uint64 indexed nonce, uint32 indexed destinationDomain, address indexed sender,
                bytes payload, uint256 fee)                                          -> a call BridgeMessage
    CallExecuted(uint32 indexed sourceDomain, uint64 indexed nonce, address indexed target, bool success, bytes result)
    ReleaseQueued(uint32 indexed sourceDomain, uint64 indexed nonce, address indexed token, address recipient,
                  uint256 amount, uint256 readyAt, bytes reason)

Strict means one encoding per value: four topics, indexed integers and addresses with zero high bytes, and data that
re-encodes to exactly the bytes read (no trailing or non-canonical bytes). Anything else is `Skipped` with the
reason, never an exception. A Deposit that decodes but cannot become a message (e.g. a destination id above 255) is
a `Rejection`: the tokens were locked, an operator must see them.

Amounts: `source_amount` is the event's amount (the resource's decimals on Ethereum); `amount` is its exact
conversion to the destination's decimals, or 0 when there is none (unknown resource or domain, inexact): the policy
stage then fails the message with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak
from pydantic import ValidationError

from bridge.amounts import convert_amount
from bridge.errors import AmountError
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import Rejection
from relayers.ethereum.views import RawLog, ResourceTable

DEPOSIT_SIGNATURE = "Deposit(uint64,uint32,bytes32,address,bytes,uint256)"
MESSAGE_SENT_SIGNATURE = "MessageSent(uint64,uint32,address,bytes,uint256)"
CALL_EXECUTED_SIGNATURE = "CallExecuted(uint32,uint64,address,bool,bytes)"
RELEASE_QUEUED_SIGNATURE = "ReleaseQueued(uint32,uint64,address,address,uint256,uint256,bytes)"
KEY_ROTATED_SIGNATURE = "KeyRotated(uint32,uint256,uint256,uint256)"

DEPOSIT_TOPIC = bytes(keccak(DEPOSIT_SIGNATURE.encode()))
MESSAGE_SENT_TOPIC = bytes(keccak(MESSAGE_SENT_SIGNATURE.encode()))
CALL_EXECUTED_TOPIC = bytes(keccak(CALL_EXECUTED_SIGNATURE.encode()))
RELEASE_QUEUED_TOPIC = bytes(keccak(RELEASE_QUEUED_SIGNATURE.encode()))
KEY_ROTATED_TOPIC = bytes(keccak(KEY_ROTATED_SIGNATURE.encode()))
SOURCE_TOPICS = (DEPOSIT_TOPIC, MESSAGE_SENT_TOPIC)


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
class Skipped:
    """A log that is not a bridge message, with why (logged by the caller, never raised)."""

    reason: str


@dataclass(frozen=True)
class CallOutcome:
    source_domain: int
    nonce: int
    target: str
    success: bool
    result: bytes


@dataclass(frozen=True)
class QueuedRelease:
    source_domain: int
    nonce: int
    token: str
    recipient: str
    amount: int
    ready_at: int
    reason: bytes


def _uint(topic: bytes, bits: int, what: str) -> int:
    value = int.from_bytes(topic, "big")
    if len(topic) != 32 or value >= 2**bits:
        raise _Malformed(f"indexed {what} is not a uint{bits}")
    return value


def _address(topic: bytes, what: str) -> str:
    if len(topic) != 32 or any(topic[:12]):
        raise _Malformed(f"indexed {what} is not an address")
    return "0x" + topic[12:].hex()


def _data(types: list[str], data: bytes, what: str) -> tuple[object, ...]:
    try:
        values = abi_decode(types, data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise _Malformed(f"{what} data does not decode: {exc}") from None
    if abi_encode(types, list(values)) != data:
        raise _Malformed(f"{what} data is not canonically encoded")
    return tuple(values)


def _topics(log: RawLog, count: int, what: str) -> tuple[bytes, ...]:
    if len(log.topics) != count:
        raise _Malformed(f"{what} has {len(log.topics)} topics, expected {count}")
    return log.topics


def _source(log: RawLog) -> SourceRef:
    return SourceRef(
        block_number=log.block_number,
        block_hash=bytes.fromhex(log.block_hash.removeprefix("0x")),
        tx_hash=bytes.fromhex(log.tx_hash.removeprefix("0x")),
        index=log.log_index,
    )


def destination_amount(resources: ResourceTable, resource_id: bytes, amount: int, source: int, dest: int) -> int:
    """`amount` converted exactly from `source`'s to `dest`'s decimals of the resource; 0 when it does not convert."""
    per_domain = resources.get(resource_id)
    if per_domain is None or source not in per_domain or dest not in per_domain:
        return 0
    try:
        return convert_amount(amount, per_domain[source], per_domain[dest])
    except AmountError:
        return 0


def decode_source_log(
    log: RawLog, *, bridge: str, resources: ResourceTable, domain: int = 1
) -> BridgeMessage | Rejection | Skipped:
    """A Deposit or MessageSent log of the bridge at `bridge` as the message it carries."""
    if log.removed:
        return Skipped("the log was removed (its block left the chain)")
    if log.address.lower() != bridge.lower():
        return Skipped(f"log of {log.address}, not of the bridge")
    if not log.topics:
        return Skipped("anonymous log")
    try:
        if log.topics[0] == DEPOSIT_TOPIC:
            return _deposit(log, resources, domain)
        if log.topics[0] == MESSAGE_SENT_TOPIC:
            return _message_sent(log, domain)
    except _Malformed as exc:
        return Skipped(str(exc))
    return Skipped(f"not a source event (topic 0x{log.topics[0].hex()})")


def _deposit(log: RawLog, resources: ResourceTable, domain: int) -> BridgeMessage | Rejection:
    _, t_nonce, t_dest, t_resource = _topics(log, 4, "Deposit")
    nonce = _uint(t_nonce, 64, "nonce")
    dest = _uint(t_dest, 32, "destinationDomain")
    depositor, recipient, amount = _data(["address", "bytes", "uint256"], log.data, "Deposit")
    assert isinstance(depositor, str) and isinstance(recipient, bytes) and isinstance(amount, int)
    sender = bytes.fromhex(depositor.removeprefix("0x"))
    try:
        return BridgeMessage(
            source_domain=domain,
            dest_domain=dest,
            nonce=nonce,
            kind=MessageKind.TRANSFER,
            sender=sender,
            recipient=recipient,
            resource_id=t_resource,
            source_amount=amount,
            amount=destination_amount(resources, t_resource, amount, domain, dest),
            source=_source(log),
        )
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return Rejection(log.block_number, log.block_hash, log.log_index, log.tx_hash, sender, amount, reason)


def _message_sent(log: RawLog, domain: int) -> BridgeMessage | Skipped:
    _, t_nonce, t_dest, t_sender = _topics(log, 4, "MessageSent")
    nonce = _uint(t_nonce, 64, "nonce")
    dest = _uint(t_dest, 32, "destinationDomain")
    sender = _address(t_sender, "sender")
    payload, _fee = _data(["bytes", "uint256"], log.data, "MessageSent")
    assert isinstance(payload, bytes)
    try:
        return BridgeMessage(
            source_domain=domain,
            dest_domain=dest,
            nonce=nonce,
            kind=MessageKind.CALL,
            sender=bytes.fromhex(sender[2:]),
            recipient=b"",
            payload=payload,
            source=_source(log),
        )
    except ValidationError as exc:
        return Skipped(f"MessageSent is not a valid message: {exc.errors()[0]['msg']}")


def decode_call_executed(log: RawLog) -> CallOutcome | None:
    """A CallExecuted log, or None when the log is another event or malformed."""
    if not log.topics or log.topics[0] != CALL_EXECUTED_TOPIC:
        return None
    try:
        _, t_domain, t_nonce, t_target = _topics(log, 4, "CallExecuted")
        success, result = _data(["bool", "bytes"], log.data, "CallExecuted")
        assert isinstance(success, bool) and isinstance(result, bytes)
        return CallOutcome(
            _uint(t_domain, 32, "sourceDomain"),
            _uint(t_nonce, 64, "nonce"),
            _address(t_target, "target"),
            success,
            result,
        )
    except _Malformed:
        return None


def decode_release_queued(log: RawLog) -> QueuedRelease | None:
    if not log.topics or log.topics[0] != RELEASE_QUEUED_TOPIC:
        return None
    try:
        _, t_domain, t_nonce, t_token = _topics(log, 4, "ReleaseQueued")
        recipient, amount, ready_at, reason = _data(
            ["address", "uint256", "uint256", "bytes"], log.data, "ReleaseQueued"
        )
        assert isinstance(recipient, str) and isinstance(amount, int) and isinstance(ready_at, int)
        assert isinstance(reason, bytes)
        return QueuedRelease(
            _uint(t_domain, 32, "sourceDomain"),
            _uint(t_nonce, 64, "nonce"),
            _address(t_token, "token"),
            recipient,
            amount,
            ready_at,
            reason,
        )
    except _Malformed:
        return None


def decode_key_rotated(log: RawLog) -> tuple[int, int, int] | None:
    """(epoch, pkX, pkY) of a KeyRotated log."""
    if len(log.topics) != 2 or log.topics[0] != KEY_ROTATED_TOPIC:
        return None
    try:
        pk_x, pk_y, _valid_until = _data(["uint256", "uint256", "uint256"], log.data, "KeyRotated")
        assert isinstance(pk_x, int) and isinstance(pk_y, int)
        return _uint(log.topics[1], 32, "epoch"), pk_x, pk_y
    except _Malformed:
        return None


def bridge_logs(logs: Sequence[RawLog], bridge: str) -> list[RawLog]:
    return [entry for entry in logs if entry.address.lower() == bridge.lower()]


__all__ = [
    "CALL_EXECUTED_TOPIC",
    "DEPOSIT_TOPIC",
    "KEY_ROTATED_TOPIC",
    "MESSAGE_SENT_TOPIC",
    "RELEASE_QUEUED_TOPIC",
    "SOURCE_TOPICS",
    "CallOutcome",
    "QueuedRelease",
    "Skipped",
    "bridge_logs",
    "decode_call_executed",
    "decode_key_rotated",
    "decode_release_queued",
    "decode_source_log",
    "destination_amount",
]
