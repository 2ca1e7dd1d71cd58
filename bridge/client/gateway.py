"""Following a transfer through the XCM gateway, read from the chains themselves: the gateway record the bridge
account wrote on Phala (sent on, or refunded and why), the XCMP message Phala sent (`XcmpQueue.XcmpMessageSent` with
the program's hash), and what the destination did with it (`XcmTracker`: success with deposits, failure with its
reason, trapped assets and how to claim them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.gateway import (
    GatewayConfig,
    GatewayError,
    GatewayRecord,
    GatewayStatus,
    XcmDestination,
    check_destination,
    decode_record,
    is_record,
)
from bridge.network import GatewaySide, NetworkInfo
from bridge.xcm import xcm_message_hash
from relayers.substrate.bridge_calls import parse_batch
from relayers.substrate.chain import ChainReader
from relayers.substrate.client import SubstrateClient
from relayers.substrate.xcm_origin import sent_hashes
from relayers.substrate.xcm_tracker import SentMessage, XcmOutcome, XcmTracker


def gateway_config(net: NetworkInfo) -> GatewayConfig | None:
    side: GatewaySide | None = net.gateway
    if side is None:
        return None
    resource_id = bytes.fromhex(net.pha_resource_id[2:])
    return GatewayConfig.of(bytes.fromhex(side.reserve_account[2:]), side.parachains, resource_id)


def refusal(dest: XcmDestination, amount: int, config: GatewayConfig) -> str | None:
    """What the committee would refund `dest` for, said before anything moves; None when the route takes it."""
    found = check_destination(dest, amount, config)
    return None if found is None else f"{found[0].name.lower().replace('_', ' ')}: {found[1]}"


@dataclass(frozen=True)
class PhalaLeg:
    record: GatewayRecord
    extrinsic_hash: str
    block_number: int

    @property
    def message_hash(self) -> bytes:
        return xcm_message_hash(self.record.program)


def gateway_leg(phala: SubstrateClient, extrinsic_hash: str, block_number: int, message_id: str) -> PhalaLeg | None:
    """The gateway record for `message_id` in the bridge extrinsic `extrinsic_hash` of block `block_number`."""
    from relayers.substrate.scale import blake2_256

    reader = ChainReader(phala)
    block_hash = reader.block_hash(block_number)
    if block_hash is None:
        return None
    block = reader.block(block_hash)
    for raw in block.extrinsics:
        if "0x" + blake2_256(raw).hex() != extrinsic_hash.lower():
            continue
        decoded = reader.decode_signed(raw, block_hash)
        batch = parse_batch(reader.runtime_facts(block_hash).indices, decoded.call) if decoded else None
        for remark in batch.remarks if batch else ():
            if not is_record(remark):
                continue
            try:
                record = decode_record(remark)
            except GatewayError:
                continue
            if record.message_id_hex == message_id.lower():
                return PhalaLeg(record, extrinsic_hash.lower(), block_number)
    return None


def find_sent(phala: SubstrateClient, message_hash: bytes, from_block: int) -> int | None:
    """The Phala block whose `XcmpQueue.XcmpMessageSent` names `message_hash`, searched from `from_block`."""
    reader = ChainReader(phala)
    head = reader.finalized_head().block_number
    for number in range(from_block, head + 1):
        block_hash = reader.block_hash(number)
        if block_hash is not None and message_hash in sent_hashes(reader.events(block_hash)):
            return number
    return None


def wait_sent(phala: SubstrateClient, message_hash: bytes, from_block: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        found = find_sent(phala, message_hash, from_block)
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def find_outcome(peer: SubstrateClient, message_hash: bytes, from_block: int, timeout: float) -> XcmOutcome | None:
    """The destination's outcome for the message, in its finalized blocks after `from_block`; None on timeout."""
    from relayers.substrate.xcm_tracker import XcmOutcomeTimeout

    try:
        return XcmTracker(peer).wait(SentMessage(message_hash), after_block=from_block, timeout=timeout)
    except XcmOutcomeTimeout:
        return None


def describe_record(record: GatewayRecord) -> str:
    if record.status is GatewayStatus.SENT:
        return f"sent on to para {record.para_id} (XCM 0x{xcm_message_hash(record.program).hex()})"
    assert record.reason is not None
    return (
        f"refunded ({record.reason.name.lower().replace('_', ' ')}): the whole amount was credited to "
        f"0x{record.account.hex()} on Phala"
    )


__all__ = [
    "PhalaLeg",
    "describe_record",
    "find_outcome",
    "find_sent",
    "gateway_config",
    "gateway_leg",
    "refusal",
    "wait_sent",
]
