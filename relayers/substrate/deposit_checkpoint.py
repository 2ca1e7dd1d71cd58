"""Checkpoints of an enclave's Phala deposit view (`PhalaSourceVerifier`): where it has read to (with the deposit
count there), and for every block that held deposits, its hash and the count before it. Not the deposits
themselves: a deposit from before the snapshot is re-read from its one block when a signing session asks about it,
numbered from the count before that block, by the same watcher code (so exactly as a full scan would number it).

Encoding, version 3, big-endian:

    b"PBDV" | version u8 = 3 | bridge account (32) | start block u64
    schedules: u8 n, n x (destination domain u8 | transfer u128 | call u128 | u16 k,
                          k x (from block u64 | transfer u128 | call u128))   ascending domains, none all-zero
    position: block u64 | hash (32) | deposits counted u64
    blocks:   u32 n, n x (block u64 | hash (32) | deposits before it u64)     ascending, each with >= 1 deposit
    blake2b-256 of everything before it (32)

A destination's schedule is its minimum at the start block and the changes after it, in one form
(`MinimumSchedule.from_start`: ascending, each a real change). Version 2 (one minimum per destination) and version 1
(no minimums) are still read, as schedules with one entry from the start (v1: none).

The snapshot carries the schedules it was counted under, like its start block, and a view takes it only if its own
schedules judge every block up to the snapshot's position alike (`first_difference`): a change scheduled ABOVE the
position (added, moved or dropped) judged no counted deposit, so the snapshot holds and the view carries on under
its config, which is how an operator schedules a change without a full re-scan. A difference at or below the
position means the counted deposits would be numbered otherwise: another deployment's numbering, refused
(`OtherConfig`, saying so) and re-scanned. `decode_deposit_snapshot` refuses anything malformed with a
`SnapshotError` (never a partial snapshot).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.errors import InputError
from bridge.minimums import (
    DepositMinimum,
    MinimumChange,
    Minimums,
    MinimumSchedule,
    as_schedules,
    first_difference,
)
from bridge.ports import ChainPosition
from relayers.substrate.index_checkpoint import Loaded, OtherConfig, ViewCheckpoints
from relayers.substrate.index_snapshot import SnapshotError, hex32, open_body, seal_body

if TYPE_CHECKING:
    from relayers.substrate.source_verifier import PhalaSourceVerifier

MAGIC = b"PBDV"
VERSION = 3
_READS = (1, 2, 3)
_ENTRY = struct.Struct(">Q32sQ")
_MINIMUM = struct.Struct(">B16s16s")  # v2: domain, transfer, call
_SCHEDULE = struct.Struct(">B16s16sH")  # v3: domain, transfer, call (from the start), changes
_CHANGE = struct.Struct(">Q16s16s")  # v3: from block, transfer, call


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
    # Destination domain -> the schedule the deposits were counted under, in one form per rule (see `rules`).
    minimums: Mapping[int, MinimumSchedule]

    # By hand: `minimums` may be given as plain minimums or any schedules, and is kept in its one form.
    def __init__(
        self,
        bridge_account: bytes,
        start_block: int,
        position: ChainPosition,
        blocks: tuple[DepositBlock, ...],
        minimums: Minimums | None = None,
    ) -> None:
        object.__setattr__(self, "bridge_account", bridge_account)
        object.__setattr__(self, "start_block", start_block)
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "minimums", rules(minimums or {}, start_block))


def rules(minimums: Minimums, start_block: int) -> dict[int, MinimumSchedule]:
    """The schedules in one form per rule from `start_block` on: ascending domains, each from the start with only
    real changes after it, no destination whose minimum is always 0 (a listed 0 is no minimum)."""
    out = {d: s.from_start(start_block) for d, s in as_schedules(minimums).items()}
    return {d: s for d, s in out.items() if s != MinimumSchedule()}


def encode_deposit_snapshot(snap: DepositSnapshot) -> bytes:
    out = bytearray(MAGIC + bytes([VERSION]))
    if len(snap.bridge_account) != 32:
        raise SnapshotError("bridge account must be 32 bytes")
    out += snap.bridge_account + struct.pack(">Q", snap.start_block)
    if any(not 1 <= d <= 255 for d in snap.minimums):
        raise SnapshotError("a destination domain is 1..255")
    out += bytes([len(snap.minimums)])
    for d, schedule in snap.minimums.items():
        first = schedule.initial
        out += _SCHEDULE.pack(d, _u128(first.transfer), _u128(first.call), len(schedule.changes))
        for c in schedule.changes:
            out += _CHANGE.pack(c.from_block, _u128(c.minimum.transfer), _u128(c.minimum.call))
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
    minimums: dict[int, MinimumSchedule] = {}
    if version == 2:
        minimums, at = _minimums_v2(body, at)
    elif version >= 3:
        minimums, at = _schedules(body, at, start)
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


def _u128(value: int) -> bytes:
    return value.to_bytes(16, "big")


def _minimum(transfer: bytes, call: bytes) -> DepositMinimum:
    return DepositMinimum(int.from_bytes(transfer, "big"), int.from_bytes(call, "big"))


def _minimums_v2(body: bytes, at: int) -> tuple[dict[int, MinimumSchedule], int]:
    if len(body) < at + 1:
        raise SnapshotError("snapshot truncated")
    n, at = body[at], at + 1
    if len(body) < at + n * _MINIMUM.size:
        raise SnapshotError(f"{n} minimums do not fit the snapshot")
    out: dict[int, MinimumSchedule] = {}
    for i in range(n):
        domain, transfer, call = _MINIMUM.unpack_from(body, at + i * _MINIMUM.size)
        minimum = _minimum(transfer, call)
        if domain == 0 or (out and domain <= max(out)) or minimum == DepositMinimum():
            raise SnapshotError(f"minimum for domain {domain}: out of order, domain 0, or all zero")
        out[domain] = MinimumSchedule(minimum)  # one value from the start
    return out, at + n * _MINIMUM.size


def _schedules(body: bytes, at: int, start: int) -> tuple[dict[int, MinimumSchedule], int]:
    if len(body) < at + 1:
        raise SnapshotError("snapshot truncated")
    n, at = body[at], at + 1
    out: dict[int, MinimumSchedule] = {}
    for _ in range(n):
        if len(body) < at + _SCHEDULE.size:
            raise SnapshotError(f"{n} schedules do not fit the snapshot")
        domain, transfer, call, k = _SCHEDULE.unpack_from(body, at)
        at += _SCHEDULE.size
        if len(body) < at + k * _CHANGE.size:
            raise SnapshotError(f"{k} minimum changes for domain {domain} do not fit the snapshot")
        try:
            changes = []
            for _ in range(k):
                block, c_transfer, c_call = _CHANGE.unpack_from(body, at)
                changes.append(MinimumChange(block, _minimum(c_transfer, c_call)))
                at += _CHANGE.size
            schedule = MinimumSchedule(_minimum(transfer, call), tuple(changes))
        except InputError as exc:
            raise SnapshotError(f"schedule for domain {domain}: {exc}") from None
        if domain == 0 or (out and domain <= max(out)):
            raise SnapshotError(f"schedule for domain {domain}: out of order, or domain 0")
        if schedule != schedule.from_start(start) or schedule == MinimumSchedule():
            raise SnapshotError(
                f"schedule for domain {domain}: not in its one form (a change at or before the start "
                "block, one that changes nothing, or a minimum always 0)"
            )
        out[domain] = schedule
    return out, at


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
        # Only the blocks the snapshot counted matter: a change scheduled above its position judged nothing in it.
        differ = first_difference(snap.minimums, config.min_deposit, snap.start_block)
        if differ is not None and differ.block <= snap.position.block_number:
            ours = rules(config.min_deposit, config.start_block)
            raise OtherConfig(
                f"the snapshot counted deposits under other minimums ({_show(snap.minimums)}; this config: "
                f"{_show(ours)}): from block {differ.block}, at or before its position {snap.position.block_number}, "
                f"domain {differ.dest_domain} is judged otherwise, so the deposits already counted would be "
                "numbered differently: this config is another deployment's numbering (a change must be scheduled "
                "from a block no member has counted yet)"
            )
        summary = {"deposits": snap.position.sequence, "deposit_blocks": len(snap.blocks)}
        return Loaded(snap.position, lambda: view.restore(snap), summary)


def _show(minimums: Mapping[int, MinimumSchedule]) -> str:
    def one(m: DepositMinimum) -> str:
        return f"transfer {m.transfer}, call {m.call} planck"

    items = [
        f"domain {d}: {one(s.initial)}" + "".join(f", from block {c.from_block}: {one(c.minimum)}" for c in s.changes)
        for d, s in minimums.items()
    ]
    return "; ".join(items) or "none"


__all__ = [
    "DepositBlock",
    "DepositCheckpoints",
    "DepositSnapshot",
    "decode_deposit_snapshot",
    "encode_deposit_snapshot",
    "rules",
]
