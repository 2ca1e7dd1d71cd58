"""The deposit-view snapshot codec: round trip, and every malformed input refused with a reason; a snapshot counted
under other deposit minimums (or another start block) is not taken, unless the schedules differ only above the
snapshot's position (a change scheduled ahead: nothing counted was judged by it). v1 and v2 snapshots still read."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest

from bridge.minimums import DepositMinimum, MinimumChange, Minimums, MinimumSchedule
from bridge.ports import ChainPosition
from relayers.substrate.config import PhalaConfig
from relayers.substrate.deposit_checkpoint import (
    MAGIC,
    DepositBlock,
    DepositCheckpoints,
    DepositSnapshot,
    decode_deposit_snapshot,
    encode_deposit_snapshot,
)
from relayers.substrate.index_checkpoint import OtherConfig
from relayers.substrate.index_snapshot import SnapshotError

H = "0x" + "ab" * 32
SNAP = DepositSnapshot(b"\xbb" * 32, 5, ChainPosition(40, H, 7), (DepositBlock(6, H, 0), DepositBlock(30, H, 4)))


def reseal(body: bytes) -> bytes:
    return body + hashlib.blake2b(body, digest_size=32).digest()


def body(start: int = 5, number: int = 40, counted: int = 7, blocks: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Version 1 (no minimums), which this build still reads."""
    out = MAGIC + b"\x01" + b"\xbb" * 32 + struct.pack(">QQ", start, number) + b"\xab" * 32
    out += struct.pack(">QI", counted, len(blocks))
    return out + b"".join(struct.pack(">Q32sQ", n, b"\xab" * 32, before) for n, before in blocks)


def test_round_trip() -> None:
    data = encode_deposit_snapshot(SNAP)
    assert decode_deposit_snapshot(data) == SNAP
    empty = DepositSnapshot(b"\xbb" * 32, 0, ChainPosition(0, H, 0), ())
    assert decode_deposit_snapshot(encode_deposit_snapshot(empty)) == empty


def test_every_truncation_and_flipped_byte_is_refused() -> None:
    data = encode_deposit_snapshot(SNAP)
    for n in range(len(data)):
        with pytest.raises(SnapshotError):
            decode_deposit_snapshot(data[:n])
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x80
        with pytest.raises(SnapshotError):
            decode_deposit_snapshot(bytes(flipped))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (reseal(body(blocks=((6, 0), (30, 4)))), None),  # the baseline the others break
        (b"PBXI\x01" + b"\x00" * 200, "wrong magic"),
        (MAGIC + b"\x04" + b"\x00" * 200, "unsupported snapshot version 4"),
        (reseal(body(blocks=((6, 0), (30, 4))) + b"\x00"), "do not fit"),
        (reseal(body(start=50, blocks=())), "before the start block"),
        (reseal(body(blocks=((41, 0),))), "outside 5..40"),
        (reseal(body(blocks=((4, 0),))), "outside 5..40"),
        (reseal(body(blocks=((30, 0), (6, 4)))), "out of order"),
        (reseal(body(blocks=((6, 3), (30, 3)))), "out of order"),
        (reseal(body(counted=4, blocks=((6, 0), (30, 4)))), "starts after 4"),
        (reseal(body(counted=3, blocks=())), "counted in no block"),
    ],
)
def test_malformed(data: bytes, error: str | None) -> None:
    if error is None:
        decode_deposit_snapshot(data)
        return
    with pytest.raises(SnapshotError, match=error):
        decode_deposit_snapshot(data)


MIN = {1: DepositMinimum(transfer=10**12, call=5 * 10**12)}


def snap_under(minimums: Minimums) -> DepositSnapshot:
    """SNAP counted under plain minimums. The hand-written __init__ takes them (and so does `replace` at run time),
    but mypy types `replace` by the field, which holds schedules."""
    return DepositSnapshot(SNAP.bridge_account, SNAP.start_block, SNAP.position, SNAP.blocks, minimums)


def test_the_minimums_are_part_of_the_snapshot() -> None:
    snap = snap_under(MIN)
    data = encode_deposit_snapshot(snap)
    assert data[len(MAGIC)] == 3 and decode_deposit_snapshot(data) == snap
    assert decode_deposit_snapshot(data).minimums == {1: MinimumSchedule(MIN[1])}
    # A listed all-zero minimum is no minimum: the same rule, the same bytes.
    assert encode_deposit_snapshot(snap_under({1: DepositMinimum()})) == encode_deposit_snapshot(SNAP)


def test_a_version_1_snapshot_reads_as_counted_without_minimums() -> None:
    old = decode_deposit_snapshot(reseal(body(blocks=((6, 0), (30, 4)))))
    assert old.minimums == {} and old.position.sequence == 7


def v2(minimums: bytes, n: int) -> bytes:
    out = MAGIC + b"\x02" + b"\xbb" * 32 + struct.pack(">Q", 5) + bytes([n]) + minimums
    return reseal(out + struct.pack(">Q", 40) + b"\xab" * 32 + struct.pack(">QI", 0, 0))


def entry(domain: int, transfer: int, call: int) -> bytes:
    return bytes([domain]) + transfer.to_bytes(16, "big") + call.to_bytes(16, "big")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (v2(entry(1, 5, 0) + entry(3, 0, 1), 2), None),
        (v2(entry(1, 5, 0), 9), "do not fit"),
        (v2(entry(0, 5, 0), 1), "domain 0"),
        (v2(entry(3, 5, 0) + entry(1, 5, 0), 2), "out of order"),
        (v2(entry(1, 5, 0) + entry(1, 6, 0), 2), "out of order"),
        (v2(entry(1, 0, 0), 1), "all zero"),
    ],
)
def test_malformed_minimums(data: bytes, error: str | None) -> None:
    if error is None:
        # A v2 minimum is a schedule with one entry, from the start.
        assert decode_deposit_snapshot(data).minimums == {
            1: MinimumSchedule(DepositMinimum(5, 0)),
            3: MinimumSchedule(DepositMinimum(0, 1)),
        }
        return
    with pytest.raises(SnapshotError, match=error):
        decode_deposit_snapshot(data)


@dataclass
class _View:
    config: PhalaConfig
    restored: DepositSnapshot | None = None

    def restore(self, snap: DepositSnapshot) -> None:
        self.restored = snap


class _Store:
    def load_checkpoint(self, name: str) -> bytes | None:
        return None

    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None:
        pass


def test_a_snapshot_counted_under_other_minimums_is_not_taken() -> None:
    config = PhalaConfig(url="ws://127.0.0.1:1", bridge_account=b"\xbb" * 32, resource_id=b"\x07" * 32, start_block=5)
    checkpoints = DepositCheckpoints(_Store(), "deposits")
    made_with = encode_deposit_snapshot(snap_under(MIN))

    def decode(cfg: PhalaConfig, data: bytes) -> _View:
        view = _View(cfg)
        checkpoints.decode(cast(Any, view), data).apply()
        return view

    assert decode(replace(config, min_deposit=MIN), made_with).restored == snap_under(MIN)
    with pytest.raises(OtherConfig, match=r"other minimums .*domain 1: transfer 1000000000000, call 5000000000000"):
        decode(config, made_with)  # this member has no minimum
    with pytest.raises(OtherConfig, match="other minimums"):
        decode(replace(config, min_deposit={1: DepositMinimum(10**12, 10**12)}), made_with)
    with pytest.raises(OtherConfig, match="other minimums"):
        decode(replace(config, min_deposit=MIN), encode_deposit_snapshot(SNAP))  # an old snapshot, no minimum
    # no minimum, and a minimum of 0 listed: the same rule
    assert decode(replace(config, min_deposit={1: DepositMinimum()}), encode_deposit_snapshot(SNAP)).restored == SNAP


# ---- v3: schedules ---------------------------------------------------------------------------------------------------

UNIT = 10**12
LATER = MinimumChange(30, DepositMinimum(2 * UNIT, 6 * UNIT))  # below SNAP's position (40)
AHEAD = MinimumChange(41, DepositMinimum(2 * UNIT, 6 * UNIT))  # above it
SCHEDULED = {1: MinimumSchedule(MIN[1], (LATER,))}


def test_a_schedule_round_trips_in_one_form() -> None:
    snap = replace(SNAP, minimums=SCHEDULED)
    data = encode_deposit_snapshot(snap)
    assert data[len(MAGIC)] == 3 and decode_deposit_snapshot(data) == snap
    assert decode_deposit_snapshot(data).minimums == SCHEDULED
    # One form: a change at or before the start block is the start's value; one that changes nothing is dropped.
    noisy = MinimumSchedule(
        DepositMinimum(1, 1),
        (MinimumChange(5, MIN[1]), MinimumChange(20, MIN[1]), LATER, MinimumChange(35, LATER.minimum)),
    )
    assert encode_deposit_snapshot(replace(SNAP, minimums={1: noisy})) == data
    # A schedule with one entry is the v2 rule: a plain minimum encodes the same.
    assert encode_deposit_snapshot(replace(SNAP, minimums={1: MinimumSchedule(MIN[1])})) == encode_deposit_snapshot(
        snap_under(MIN)
    )


def v3(schedules: bytes, n: int, start: int = 5) -> bytes:
    out = MAGIC + b"\x03" + b"\xbb" * 32 + struct.pack(">Q", start) + bytes([n]) + schedules
    return reseal(out + struct.pack(">Q", 40) + b"\xab" * 32 + struct.pack(">QI", 0, 0))


def schedule(domain: int, transfer: int, call: int, *changes: tuple[int, int, int]) -> bytes:
    out = entry(domain, transfer, call) + struct.pack(">H", len(changes))
    return out + b"".join(struct.pack(">Q", b) + t.to_bytes(16, "big") + c.to_bytes(16, "big") for b, t, c in changes)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (v3(schedule(1, 5, 0, (30, 7, 7)) + schedule(3, 0, 0, (9, 0, 1)), 2), None),
        (v3(schedule(1, 5, 0, (30, 7, 7)), 2), "do not fit"),
        (v3(entry(1, 5, 0) + struct.pack(">H", 200), 1), "200 minimum changes for domain 1 do not fit"),
        (v3(schedule(0, 5, 0), 1), "domain 0"),
        (v3(schedule(3, 5, 0) + schedule(1, 5, 0), 2), "out of order"),
        (v3(schedule(1, 5, 0, (30, 7, 7), (30, 8, 8)), 1), "strictly increasing from_block"),
        (v3(schedule(1, 5, 0, (30, 7, 7), (20, 8, 8)), 1), "strictly increasing from_block"),
        (v3(schedule(1, 5, 0, (0, 7, 7)), 1), "from_block is a block number"),
        (v3(schedule(1, 5, 0, (5, 7, 7)), 1), "not in its one form"),  # at the start block
        (v3(schedule(1, 5, 0, (30, 5, 0)), 1), "not in its one form"),  # changes nothing
        (v3(schedule(1, 0, 0), 1), "not in its one form"),  # always 0
    ],
)
def test_malformed_schedules(data: bytes, error: str | None) -> None:
    if error is None:
        assert decode_deposit_snapshot(data).minimums == {
            1: MinimumSchedule(DepositMinimum(5, 0), (MinimumChange(30, DepositMinimum(7, 7)),)),
            3: MinimumSchedule(DepositMinimum(0, 0), (MinimumChange(9, DepositMinimum(0, 1)),)),
        }
        return
    with pytest.raises(SnapshotError, match=error):
        decode_deposit_snapshot(data)


def _decoder(config: PhalaConfig) -> Any:
    checkpoints = DepositCheckpoints(_Store(), "deposits")

    def decode(min_deposit: Any, data: bytes) -> DepositSnapshot | None:
        view = _View(replace(config, min_deposit=min_deposit))
        checkpoints.decode(cast(Any, view), data).apply()
        return view.restored

    return decode


CONFIG = PhalaConfig(url="ws://127.0.0.1:1", bridge_account=b"\xbb" * 32, resource_id=b"\x07" * 32, start_block=5)


def test_a_change_scheduled_above_the_snapshots_position_keeps_the_snapshot() -> None:
    """The snapshot counted blocks up to 40: a change from block 41 on judged none of them, so it holds."""
    decode = _decoder(CONFIG)
    made_under_one_value = encode_deposit_snapshot(snap_under(MIN))
    ahead = {1: MinimumSchedule(MIN[1], (AHEAD,))}
    assert decode(ahead, made_under_one_value) == snap_under(MIN)
    # Also from a v2 snapshot (one value per destination, the format before schedules).
    assert decode(ahead, v2(entry(1, 10**12, 5 * 10**12), 1)) is not None
    # A change ahead that is dropped again (or moved, still ahead) before it took effect: the same.
    assert decode(MIN, encode_deposit_snapshot(replace(SNAP, minimums=ahead))) is not None
    moved = {1: MinimumSchedule(MIN[1], (MinimumChange(60, AHEAD.minimum),))}
    assert decode(moved, encode_deposit_snapshot(replace(SNAP, minimums=ahead))) is not None
    # A change below the position that both know: the same rule everywhere.
    assert decode(SCHEDULED, encode_deposit_snapshot(replace(SNAP, minimums=SCHEDULED))) is not None


@pytest.mark.parametrize(
    ("made_under", "config_minimums", "block"),
    [
        (MIN, {1: MinimumSchedule(MIN[1], (MinimumChange(40, AHEAD.minimum),))}, 40),  # at the position: counted
        (MIN, SCHEDULED, 30),  # a change added in the past of the counted deposits
        (SCHEDULED, {1: MinimumSchedule(MIN[1], (MinimumChange(31, LATER.minimum),))}, 30),  # moved: 30 differs
        (MIN, {}, 5),  # the minimum removed: differs from the start
    ],
)
def test_a_change_at_or_below_the_position_is_another_deployment(
    made_under: Any, config_minimums: Any, block: int
) -> None:
    decode = _decoder(CONFIG)
    with pytest.raises(OtherConfig) as info:
        decode(config_minimums, encode_deposit_snapshot(replace(SNAP, minimums=made_under)))
    text = str(info.value)
    assert f"from block {block}, at or before its position 40, domain 1 is judged otherwise" in text
    assert "another deployment's numbering" in text and "scheduled from a block no member has counted yet" in text
