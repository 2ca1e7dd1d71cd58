"""Checkpoints of the confidential engine's Ethereum scan (`MemberChainView.final_calls`): where the scan has read
to, and the confidential calls it still has to offer the engine, so a restarted enclave reads only the blocks after
it instead of every block from `[chains.ethereum] start_block`.

Only the calls not yet executed are kept: a call whose execution record is in the bridge account's finalized Phala
log is never needed again by this member (the engine refuses to run it again, leaves it out of the "earlier calls
waiting" check, and a decryption of it serves nothing); see `MemberChainView` for why dropping it is safe.

Encoding, version 1, big-endian:

    b"PBES" | version u8 = 1
    config:   chain id u64 | bridge address (20) | domain u8 | start block u64 | Phala bridge account (32)
    position: block u64 | hash (32)
    records   u64                           PHCR records in the Phala log the calls were pruned against
    calls:    u32 n, n x message            the calls seen and not executed, in the order seen
    blake2b-256 of everything before it (32)

    message = source domain u8 | dest domain u8 | nonce u64 | kind u8 | sender (u16 length + bytes)
              | recipient (u16 length + bytes) | resource id: u8 0, or u8 1 + (32) | source amount (32)
              | amount (32) | payload (u32 length + bytes) | gas limit u32 (0: none)
              | source: block u64 | block hash (32) | tx hash (32) | log index u32

The checksum catches a torn or rotted file; the enclave's copy is sealed, which also authenticates it.
`decode_scan_snapshot` refuses anything else with a `SnapshotError` naming what is wrong (never part of a snapshot).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from pydantic import ValidationError

from bridge.confidential import is_confidential_call
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import ChainPosition
from relayers.substrate.index_checkpoint import Loaded, OtherConfig, ViewCheckpoints
from relayers.substrate.index_snapshot import SnapshotError, SnapshotReader, hex32, open_body, seal_body

if TYPE_CHECKING:
    from bridge.cli.confidential_wiring import MemberChainView

MAGIC = b"PBES"
VERSION = 1
_KINDS = tuple(MessageKind)  # the wire number of a kind is its place here: append only
_U256 = 2**256


@dataclass(frozen=True)
class ScanSnapshot:
    chain_id: int
    bridge_address: bytes  # 20
    domain: int
    start_block: int
    bridge_account: bytes  # 32: the Phala account whose log the calls were pruned against
    position: ChainPosition  # the last final block read
    records: int  # PHCR records in that log when last pruned: a view with fewer lags behind it
    calls: tuple[BridgeMessage, ...]


def encode_scan_snapshot(snap: ScanSnapshot) -> bytes:
    if len(snap.bridge_address) != 20 or len(snap.bridge_account) != 32:
        raise SnapshotError("a bridge address is 20 bytes and a bridge account 32")
    out = bytearray(MAGIC + bytes([VERSION]))
    out += struct.pack(">Q", snap.chain_id) + snap.bridge_address + struct.pack(">BQ", snap.domain, snap.start_block)
    out += (
        snap.bridge_account
        + struct.pack(">Q", snap.position.block_number)
        + hex32(snap.position.block_hash, "position block hash")
    )
    out += struct.pack(">QI", snap.records, len(snap.calls))
    for m in snap.calls:
        out += _message(m)
    return seal_body(out)


def decode_scan_snapshot(data: bytes) -> ScanSnapshot:
    _, body = open_body(data, MAGIC, (VERSION,), "an engine-scan")
    r = SnapshotReader(body, len(MAGIC) + 1)
    chain_id, address = r.uint(8, "chain id"), r.take(20, "bridge address")
    domain, start, account = r.uint(1, "domain"), r.uint(8, "start block"), r.take(32, "bridge account")
    number, block_hash = r.uint(8, "position block"), "0x" + r.take(32, "position hash").hex()
    if number + 1 < max(start, 1):
        raise SnapshotError(f"position {number} is before the start block {start}")
    records, n = r.uint(8, "records"), r.count(_MESSAGE_MIN, "call")
    calls: dict[bytes, BridgeMessage] = {}
    for i in range(n):
        m = _read_message(r, f"call {i}")
        if m.id in calls:
            raise SnapshotError(f"call {i} ({m.id_hex}) is listed twice")
        if m.source_domain != domain or not is_confidential_call(m):
            raise SnapshotError(f"call {i} is not a confidential call from domain {domain}")
        if m.source.block_number > number:
            raise SnapshotError(f"call {i} is in block {m.source.block_number}, after the position {number}")
        calls[m.id] = m
    r.end()
    return ScanSnapshot(
        chain_id, address, domain, start, account, ChainPosition(number, block_hash), records, tuple(calls.values())
    )


_MESSAGE_MIN = 1 + 1 + 8 + 1 + 2 + 2 + 1 + 32 + 32 + 4 + 4 + 8 + 32 + 32 + 4


def _message(m: BridgeMessage) -> bytes:
    out = bytearray(struct.pack(">BBQB", m.source_domain, m.dest_domain, m.nonce, _KINDS.index(m.kind)))
    for field in (m.sender, m.recipient):
        if len(field) > 0xFFFF:
            raise SnapshotError(f"message {m.id_hex}: a sender or recipient of {len(field)} bytes")
        out += struct.pack(">H", len(field)) + field
    out += b"\x00" if m.resource_id is None else b"\x01" + m.resource_id
    out += m.source_amount.to_bytes(32, "big") + m.amount.to_bytes(32, "big")
    out += struct.pack(">I", len(m.payload)) + m.payload + struct.pack(">I", m.gas_limit or 0)
    s = m.source
    return bytes(out + struct.pack(">Q", s.block_number) + s.block_hash + s.tx_hash + struct.pack(">I", s.index))


def _read_message(r: SnapshotReader, what: str) -> BridgeMessage:
    source_domain, dest_domain, nonce = r.uint(1, what), r.uint(1, what), r.uint(8, what)
    kind = r.uint(1, f"{what} kind")
    if kind >= len(_KINDS):
        raise SnapshotError(f"{what} has kind {kind} (0..{len(_KINDS) - 1})")
    sender = r.take(r.uint(2, f"{what} sender length"), f"{what} sender")
    recipient = r.take(r.uint(2, f"{what} recipient length"), f"{what} recipient")
    flag = r.uint(1, f"{what} resource flag")
    if flag not in (0, 1):
        raise SnapshotError(f"{what} has resource flag {flag} (0 or 1)")
    resource = r.take(32, f"{what} resource id") if flag else None
    source_amount, amount = r.uint(32, f"{what} amount"), r.uint(32, f"{what} amount")
    payload = r.take(r.uint(4, f"{what} payload length"), f"{what} payload")
    gas_limit = r.uint(4, f"{what} gas limit")
    block, block_hash, tx, index = r.uint(8, what), r.take(32, what), r.take(32, what), r.uint(4, what)
    try:
        return BridgeMessage(
            source_domain=source_domain, dest_domain=dest_domain, nonce=nonce, kind=_KINDS[kind], sender=sender,
            recipient=recipient, resource_id=resource, source_amount=source_amount, amount=amount, payload=payload,
            gas_limit=gas_limit or None,
            source=SourceRef(block_number=block, block_hash=block_hash, tx_hash=tx, index=index),
        )  # fmt: skip
    except ValidationError as exc:
        raise SnapshotError(f"{what} is not a valid message: {exc.errors()[0]['msg']}") from None


class EngineScanCheckpoints(ViewCheckpoints["MemberChainView"]):
    """Resume-or-fallback and saves of a `MemberChainView`'s Ethereum scan (events `engine_scan_*`)."""

    log = structlog.get_logger("engine.scan")
    resumed_event = "engine_scan_resumed"
    fallback_event = "engine_scan_checkpoint_fallback"
    saved_event = "engine_scan_checkpoint_saved"
    save_failed_event = "engine_scan_checkpoint_save_failed"

    def position(self, view: MemberChainView) -> ChainPosition | None:
        return view.scan_position

    def encode(self, view: MemberChainView) -> bytes | None:
        snap = view.scan_snapshot()
        return None if snap is None else encode_scan_snapshot(snap)

    def decode(self, view: MemberChainView, data: bytes) -> Loaded:
        snap = decode_scan_snapshot(data)
        eth = view.eth_config
        if (snap.chain_id, snap.domain, snap.start_block) != (eth.chain_id, eth.domain, eth.start_block) or (
            snap.bridge_address.hex() != eth.bridge_address.removeprefix("0x").lower()
        ):
            raise OtherConfig("the snapshot is of another Ethereum chain id, bridge, domain or start block")
        keys = view.group_keys()
        if keys is None:
            raise OtherConfig("this member has no committee keys yet: the snapshot's bridge account is unchecked")
        if keys.ed25519 != snap.bridge_account:
            raise OtherConfig("the snapshot's calls were pruned against another bridge account (a new DKG)")
        summary = {"calls": len(snap.calls), "records": snap.records}
        return Loaded(snap.position, lambda: view.restore_scan(snap), summary)


__all__ = [
    "MAGIC",
    "VERSION",
    "EngineScanCheckpoints",
    "ScanSnapshot",
    "decode_scan_snapshot",
    "encode_scan_snapshot",
]
