"""Checkpoints of an enclave's Phala deposit view (`PhalaSourceVerifier`): where it has read to (with the deposit
count there), and for every block that held deposits, its hash and the count before it. Not the deposits
themselves: a deposit from before the snapshot is re-read from its one block when a signing session asks about it,
numbered from the count before that block, by the same watcher code (so exactly as a full scan would number it).

Encoding, version 2, big-endian:

    b"PBDV" | version u8 = 2 | bridge account (32) | start block u64
    minimums: u8 n, n x (destination domain u8 | transfer u128 | call u128)  ascending, none all-zero
    position: block u64 | hash (32) | deposits counted u64
    blocks:   u32 n, n x (block u64 | hash (32) | deposits before it u64)     ascending, each with >= 1 deposit
    blake2b-256 of everything before it (32)

Version 1 (no minimums field) is still read, as made with no minimum. The snapshot carries the deposit minimums it
was counted under, like its start block: a view configured with other minimums numbers deposits differently, so
it does not take the snapshot (`OtherConfig`) and rescans. `decode_deposit_snapshot` refuses anything else with a
`SnapshotError` (never a partial snapshot).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.minimums import DepositMinimum
from bridge.ports import ChainPosition
from relayers.substrate.index_checkpoint import Loaded, OtherConfig, ViewCheckpoints
from relayers.substrate.index_snapshot import SnapshotError, hex32, open_body, seal_body

if TYPE_CHECKING:
    from relayers.substrate.source_verifier import PhalaSourceVerifier

MAGIC = b"PBDV"
VERSION = 2
_READS = (1, 2)
_ENTRY = struct.Struct(">Q32sQ")
_MINIMUM = struct.Struct(">B16s16s")


@dataclass(frozen=True)
class DepositBlock:
    number: int
    hash: str
    before: int  # deposits counted before this block (its first deposit is number before + 1)


@dataclass(frozen=True)
class DepositSnapshot:
    bridge_account: bytes
    start_block: int
    position: ChainPosition  # `sequence`: deposits counted up to and including this block
    blocks: tuple[DepositBlock, ...]
    # Destination domain -> the minimums the deposits were counted under; only the non-zero ones (see `rules`).
    minimums: Mapping[int, DepositMinimum] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "minimums", rules(self.minimums))


def rules(minimums: Mapping[int, DepositMinimum]) -> dict[int, DepositMinimum]:
    """The minimums in one form per rule: ascending domains, no all-zero entry (a listed 0 is no minimum)."""
    return {d: m for d, m in sorted(minimums.items()) if m != DepositMinimum()}


def encode_deposit_snapshot(snap: DepositSnapshot) -> bytes:
    out = bytearray(MAGIC + bytes([VERSION]))
    if len(snap.bridge_account) != 32:
        raise SnapshotError("bridge account must be 32 bytes")
    out += snap.bridge_account + struct.pack(">Q", snap.start_block)
    if any(not 1 <= d <= 255 for d in snap.minimums):
        raise SnapshotError("a destination domain is 1..255")
    out += bytes([len(snap.minimums)])
    for d, m in snap.minimums.items():
        out += _MINIMUM.pack(d, m.transfer.to_bytes(16, "big"), m.call.to_bytes(16, "big"))
    out += struct.pack(">Q", snap.position.block_number)
    out += hex32(snap.position.block_hash, "position block hash") + struct.pack(
        ">QI", snap.position.sequence, len(snap.blocks)
    )
    for b in snap.blocks:
        out += _ENTRY.pack(b.number, hex32(b.hash, "deposit block hash"), b.before)
    return seal_body(out)


def decode_deposit_snapshot(data: bytes) -> DepositSnapshot:
    version, body = open_body(data, MAGIC, _READS, "a deposit-view")
    at = len(MAGIC) + 1
    if len(body) < at + 40:
        raise SnapshotError("snapshot truncated")
    account = body[at : at + 32]
    (start,) = struct.unpack_from(">Q", body, at + 32)
    at += 40
    minimums, at = _minimums(body, at) if version >= 2 else ({}, at)
    fixed = at + 8 + 32 + 8 + 4
    if len(body) < fixed:
        raise SnapshotError("snapshot truncated")
    (number,) = struct.unpack_from(">Q", body, at)
    block_hash = "0x" + body[at + 8 : at + 40].hex()
    counted, n = struct.unpack_from(">QI", body, at + 40)
    if len(body) != fixed + n * _ENTRY.size:
        raise SnapshotError(f"{n} blocks do not fit the snapshot's {len(body) - fixed} bytes")
    if number + 1 < max(start, 1):
        raise SnapshotError(f"position {number} is before the start block {start}")
    blocks: list[DepositBlock] = []
    for i in range(n):
        b_number, b_hash, before = _ENTRY.unpack_from(body, fixed + i * _ENTRY.size)
        if not max(start, 1) <= b_number <= number:
            raise SnapshotError(f"deposit block {b_number} is outside {max(start, 1)}..{number}")
        if blocks and (b_number <= blocks[-1].number or before <= blocks[-1].before):
            raise SnapshotError(f"deposit block {b_number} is out of order (each holds at least one deposit)")
        blocks.append(DepositBlock(b_number, "0x" + b_hash.hex(), before))
    if blocks and blocks[-1].before >= counted:
        raise SnapshotError(
            f"{counted} deposits counted, but block {blocks[-1].number} starts after {blocks[-1].before}"
        )
    if not blocks and counted:
        raise SnapshotError(f"{counted} deposits counted in no block")
    return DepositSnapshot(account, start, ChainPosition(number, block_hash, counted), tuple(blocks), minimums)


def _minimums(body: bytes, at: int) -> tuple[dict[int, DepositMinimum], int]:
    if len(body) < at + 1:
        raise SnapshotError("snapshot truncated")
    n, at = body[at], at + 1
    if len(body) < at + n * _MINIMUM.size:
        raise SnapshotError(f"{n} minimums do not fit the snapshot")
    out: dict[int, DepositMinimum] = {}
    for i in range(n):
        domain, transfer, call = _MINIMUM.unpack_from(body, at + i * _MINIMUM.size)
        minimum = DepositMinimum(int.from_bytes(transfer, "big"), int.from_bytes(call, "big"))
        if domain == 0 or (out and domain <= max(out)) or minimum == DepositMinimum():
            raise SnapshotError(f"minimum for domain {domain}: out of order, domain 0, or all zero")
        out[domain] = minimum
    return out, at + n * _MINIMUM.size


class DepositCheckpoints(ViewCheckpoints["PhalaSourceVerifier"]):
    def position(self, view: PhalaSourceVerifier) -> ChainPosition | None:
        return view.position

    def encode(self, view: PhalaSourceVerifier) -> bytes | None:
        snap = view.snapshot()
        return None if snap is None else encode_deposit_snapshot(snap)

    def decode(self, view: PhalaSourceVerifier, data: bytes) -> Loaded:
        snap = decode_deposit_snapshot(data)
        config = view.config
        if snap.bridge_account != config.bridge_account or snap.start_block != config.start_block:
            raise OtherConfig("the snapshot is of another bridge account or start block")
        if snap.minimums != rules(config.min_deposit):
            raise OtherConfig(
                f"the snapshot counted deposits under other minimums ({_show(snap.minimums)}; this config: "
                f"{_show(rules(config.min_deposit))})"
            )
        summary = {"deposits": snap.position.sequence, "deposit_blocks": len(snap.blocks)}
        return Loaded(snap.position, lambda: view.restore(snap), summary)


def _show(minimums: Mapping[int, DepositMinimum]) -> str:
    items = [f"domain {d}: transfer {m.transfer}, call {m.call} planck" for d, m in minimums.items()]
    return "; ".join(items) or "none"


__all__ = [
    "DepositBlock",
    "DepositCheckpoints",
    "DepositSnapshot",
    "decode_deposit_snapshot",
    "encode_deposit_snapshot",
    "rules",
]
