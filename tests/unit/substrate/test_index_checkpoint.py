"""Executed-index checkpoints: the snapshot codec (round trip, every malformed input refused) and the resume /
fallback / save logic over a fake chain reader."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field, replace

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ports import ChainPosition
from bridge.refunds import Refund, RefundReason, encode_refund_note
from relayers.substrate.chain import RawBlock
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex, IndexSnapshot
from relayers.substrate.index_checkpoint import CheckpointPolicy, IndexCheckpoints
from relayers.substrate.index_snapshot import MAGIC, SnapshotError, decode_snapshot, encode_snapshot
from tests.unit.substrate.helpers import BRIDGE, CONFIG

pytestmark = pytest.mark.usefixtures("all_log_levels")  # info events are asserted on


def h(n: int, chain: str = "a") -> str:
    return "0x" + hashlib.sha256(f"{chain}{n}".encode()).hexdigest()


def x(byte: int) -> str:
    return "0x" + bytes([byte]).hex() * 32


def record(block: int, index: int, tx: int, ids: tuple[int, ...] = (), failure: str | None = None,
           notes: tuple[bytes, ...] = ()) -> BridgeExtrinsic:  # fmt: skip
    return BridgeExtrinsic(block, h(block), index, x(tx), 7 + tx, tuple(x(i) for i in ids), failure, notes)


OK = record(3, 1, 0xA1, ids=(1, 2))
FAILED = record(4, 2, 0xA2, ids=(3,), failure="Module { index: 10, error: Ünicode }")
NOTED = record(5, 1, 0xA3, notes=(b"PBCC\x00call record", b"", b"\xff" * 300))
OLD_NOTED = record(2, 0, 0xA4, notes=(b"only in noted",))  # fell out of the remembered window


def snapshot(**kw: object) -> IndexSnapshot:
    fields: dict[str, object] = dict(
        bridge_account=BRIDGE,
        index_start_block=0,
        scanned=ChainPosition(6, h(6)),
        executed=((x(1), x(0xA1)), (x(2), x(0xA1))),
        extrinsics=(OK, FAILED, NOTED),
        noted=(OLD_NOTED, NOTED),
    )
    fields.update(kw)
    return IndexSnapshot(**fields)  # type: ignore[arg-type]


def reseal(body: bytes) -> bytes:
    """A body with a correct checksum: to reach the checks behind it."""
    return body + hashlib.blake2b(body, digest_size=32).digest()


# ---- the codec ------------------------------------------------------------------------------------------------


def test_round_trip() -> None:
    snap = snapshot()
    data = encode_snapshot(snap)
    assert data.startswith(MAGIC + b"\x01")
    assert decode_snapshot(data) == snap
    assert encode_snapshot(decode_snapshot(data)) == data  # canonical: one encoding per snapshot
    assert data.count(b"\xff" * 300) == 1  # a record both remembered and noted is stored once


@given(
    st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32)), max_size=20),
    st.lists(st.binary(max_size=64), max_size=4),
    st.none() | st.text(max_size=40),
)
@settings(max_examples=50)
def test_round_trip_any(pairs: list[tuple[bytes, bytes]], notes: list[bytes], failure: str | None) -> None:
    executed = tuple({"0x" + a.hex(): "0x" + b.hex() for a, b in pairs}.items())
    e = replace(NOTED, notes=tuple(notes), failure=failure)
    noted = (e,) if failure is None and notes else ()
    snap = snapshot(executed=executed, extrinsics=(OK, e), noted=noted)
    assert decode_snapshot(encode_snapshot(snap)) == snap


def test_every_truncation_and_every_flipped_byte_is_refused() -> None:
    data = encode_snapshot(snapshot())
    for n in range(len(data)):
        with pytest.raises(SnapshotError):
            decode_snapshot(data[:n])
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        with pytest.raises(SnapshotError):
            decode_snapshot(bytes(flipped))
    with pytest.raises(SnapshotError, match="unexpected bytes"):
        decode_snapshot(reseal(data[:-32] + b"\x00"))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "wrong magic"),
        (b"PBSEAL\x01", "wrong magic"),
        (MAGIC + b"\x02" + b"\x00" * 64, "unsupported snapshot version 2"),
        (MAGIC + b"\x01", "truncated"),
        (MAGIC + b"\x01" + b"\x00" * 40, "checksum mismatch"),
    ],
)
def test_malformed_headers(data: bytes, error: str) -> None:
    with pytest.raises(SnapshotError, match=error):
        decode_snapshot(data)


def test_not_bytes() -> None:
    with pytest.raises(SnapshotError, match="is bytes"):
        decode_snapshot("PBXI")  # type: ignore[arg-type]


def _head(start: int = 0, scanned: int = 6) -> bytes:
    return MAGIC + b"\x01" + BRIDGE + struct.pack(">QQ", start, scanned) + bytes.fromhex(h(scanned)[2:])


def _rec(block: int = 3, ids: bytes = b"", failure: bytes = b"\x00", notes: bytes = b"\x00\x00\x00\x00") -> bytes:
    n_ids = len(ids) // 32
    return (struct.pack(">Q", block) + b"\x11" * 32 + struct.pack(">I", 0) + b"\x22" * 32 + struct.pack(">QI", 1, n_ids)
            + ids + failure + notes)  # fmt: skip


def _u32s(*values: int) -> bytes:
    return struct.pack(">I", len(values)) + b"".join(struct.pack(">I", v) for v in values)


EMPTY_TAIL = _u32s() + _u32s() + _u32s() + _u32s()  # executed, records, extrinsics, noted


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_head() + EMPTY_TAIL, None),  # the well-formed baseline the others break
        (_head(start=10, scanned=6) + EMPTY_TAIL, "before the index start block"),
        (_head() + struct.pack(">I", 10**6) + b"\x00" * 64, "executed ids count 1000000 exceeds"),
        (_head() + struct.pack(">I", 2) + (b"\x01" * 32 + b"\x02" * 32) * 2 + _u32s() * 3, "listed twice"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec(block=7) + _u32s(0) + _u32s(), "after the scanned block"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec(failure=b"\x02") + _u32s(0) + _u32s(), "failure flag 2"),
        (
            _head()
            + _u32s()
            + struct.pack(">I", 1)
            + _rec(failure=b"\x01\x00\x00\x00\x02\xff\xfe")
            + _u32s(0)
            + _u32s(),
            "not UTF-8",
        ),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec(ids=b"\x05" * 64) + _u32s(0) + _u32s(), "id twice"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec() + _u32s(1) + _u32s(), "refers to record 1, of 1"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec() + _u32s(0, 0) + _u32s(), "remembered twice"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec() + _u32s() + _u32s(0), "carries no notes"),
        (_head() + _u32s() + struct.pack(">I", 1) + _rec() + _u32s() + _u32s(), "unreferenced"),
        (_head() + _u32s() + struct.pack(">I", 2) + _rec() + _rec() + _u32s(0, 1) + _u32s(), "remembered twice"),
        (
            _head()
            + _u32s()
            + struct.pack(">I", 1)
            + _rec(notes=struct.pack(">II", 1, 99) + b"ab")
            + _u32s(0)
            + _u32s(),
            "truncated in record 0 note",
        ),
        (
            _head() + _u32s() + struct.pack(">I", 1) + _rec(notes=struct.pack(">II", 1, 1) + b"a") + _u32s() + _u32s(0),
            None,
        ),
    ],
)
def test_malformed_bodies(body: bytes, error: str | None) -> None:
    if error is None:
        decode_snapshot(reseal(body))
        return
    with pytest.raises(SnapshotError, match=error):
        decode_snapshot(reseal(body))


def test_noted_out_of_chain_order_is_refused() -> None:
    with pytest.raises(SnapshotError, match="chain order"):
        decode_snapshot(encode_snapshot(snapshot(noted=(NOTED, OLD_NOTED))))


def test_encoding_refuses_values_it_cannot_carry() -> None:
    with pytest.raises(SnapshotError, match="scanned block hash"):
        encode_snapshot(snapshot(scanned=ChainPosition(6, "0x1234")))
    with pytest.raises(SnapshotError, match="not hex"):
        encode_snapshot(snapshot(executed=(("0xzz", x(1)),)))


# ---- resume, fallback and saves over a fake chain --------------------------------------------------------------


@dataclass
class FakeChain:
    """A finalized chain of empty blocks (no bridge extrinsics), counting what is read."""

    head: int
    name: str = "a"
    blocks_read: list[int] = field(default_factory=list)

    def finalized_head(self) -> ChainPosition:
        return ChainPosition(self.head, h(self.head, self.name))

    def block_hash(self, number: int) -> str | None:
        return h(number, self.name) if number <= self.head else None

    def block(self, block_hash: str) -> RawBlock:
        number = next(n for n in range(self.head + 1) if h(n, self.name) == block_hash)
        self.blocks_read.append(number)
        return RawBlock(number, block_hash, h(number - 1, self.name), (b"\x04\x00",))


class MemoryStore:
    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}
        self.saves: list[int] = []
        self.fail_saves = False
        self.fail_loads = False

    def load_checkpoint(self, name: str) -> bytes | None:
        if self.fail_loads:
            raise OSError("disk gone")
        return self.saved.get(name)

    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None:
        if self.fail_saves:
            raise OSError("disk full")
        self.saved[name] = data
        self.saves.append(block_number)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def indexed(chain: FakeChain, store: MemoryStore, policy: CheckpointPolicy | None = None,
            clock: Clock | None = None, config: object = CONFIG) -> ExecutedIndex:  # fmt: skip
    checkpoints = IndexCheckpoints(store, "phala/executed-index/test", policy, clock=clock or Clock())
    return ExecutedIndex(config, checkpoints=checkpoints)  # type: ignore[arg-type]


def sync(index: ExecutedIndex, chain: FakeChain) -> None:
    while not index.sync(chain, chain.finalized_head(), max_blocks=25):  # type: ignore[arg-type]
        pass


def test_resume_reads_only_newer_blocks_and_equals_a_full_scan() -> None:
    store, chain = MemoryStore(), FakeChain(head=60)
    first = indexed(chain, store, CheckpointPolicy(every_blocks=10**6, every_seconds=10**6))
    sync(first, chain)
    first._add(OK)  # content to carry (the fake chain's blocks hold no bridge extrinsics)
    first._add(NOTED)
    assert first.save_checkpoint()
    chain.head, chain.blocks_read = 90, []
    with structlog.testing.capture_logs() as logs:
        second = indexed(chain, store)
        sync(second, chain)
    assert chain.blocks_read == list(range(61, 91))
    resumed = [e for e in logs if e["event"] == "index_resumed"]
    assert resumed and resumed[0]["block"] == 60 and resumed[0]["behind"] == 30 and resumed[0]["executed"] == 2
    assert second.executed_by(x(1)) == x(0xA1) and second.noted() == [NOTED]
    assert second.extrinsic(x(0xA1)) == OK
    assert second.checkpoints is not None and second.checkpoints.resumed_from == ChainPosition(60, h(60))


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("none", "none"),
        ("garbage", "malformed"),
        ("load_fails", "unreadable"),
        ("other_chain", "hash_mismatch"),
        ("node_behind", "ahead_of_node"),
        ("other_account", "other_config"),
        ("other_start", "other_config"),
    ],
)
def test_fallback_is_a_full_scan_with_the_reason_logged(tamper: str, reason: str) -> None:
    store, chain = MemoryStore(), FakeChain(head=40)
    first = indexed(chain, store)
    sync(first, chain)
    assert first.save_checkpoint() and store.saves[-1] == 40
    name = "phala/executed-index/test"
    config = CONFIG
    if tamper == "none":
        store.saved.clear()
    elif tamper == "garbage":
        store.saved[name] = store.saved[name][:-1]
    elif tamper == "load_fails":
        store.fail_loads = True
    elif tamper == "other_chain":
        chain = FakeChain(head=40, name="b")  # same numbers, other hashes: a fork or another network
    elif tamper == "node_behind":
        chain = FakeChain(head=30)
    elif tamper == "other_account":
        config = replace(CONFIG, bridge_account=b"\xcc" * 32)
    else:
        config = replace(CONFIG, index_start_block=5)
    chain.blocks_read = []
    with structlog.testing.capture_logs() as logs:
        again = indexed(chain, store, config=config)
        sync(again, chain)
    fallback = [e for e in logs if e["event"] == "index_checkpoint_fallback"]
    assert [e["reason"] for e in fallback] == [reason] and fallback[0]["action"] == "full_scan"
    assert not any(e["event"] == "index_resumed" for e in logs)
    start = max(config.index_start_block, 1)
    assert chain.blocks_read == list(range(start, chain.head + 1))
    assert again.scanned == chain.finalized_head()


def test_a_snapshot_for_a_block_the_node_lacks_falls_back() -> None:
    store, chain = MemoryStore(), FakeChain(head=40)
    first = indexed(chain, store)
    sync(first, chain)
    assert first.save_checkpoint() and store.saves[-1] == 40

    class Lacking(FakeChain):
        def block_hash(self, number: int) -> str | None:
            return None if number == 40 else super().block_hash(number)

    lacking = Lacking(head=45)
    with structlog.testing.capture_logs() as logs:
        again = indexed(lacking, store)
        assert again.checkpoints is not None
        assert not again.checkpoints.resume(again, lacking, lacking.finalized_head())
    assert [e["reason"] for e in logs if e["event"] == "index_checkpoint_fallback"] == ["block_unknown"]
    assert again.scanned is None


def test_saves_every_n_blocks_or_m_seconds() -> None:
    store, chain, clock = MemoryStore(), FakeChain(head=100), Clock()
    index = indexed(chain, store, CheckpointPolicy(every_blocks=50, every_seconds=30), clock)
    for to in range(10, 101, 10):
        index.sync(chain, ChainPosition(to, h(to)))  # type: ignore[arg-type]
    assert store.saves == [10, 60]  # the first step, then 50 blocks later (the clock stood still)
    clock.now = 31
    index.sync(chain, ChainPosition(100, h(100)))  # type: ignore[arg-type]
    assert store.saves == [10, 60, 100]  # 30 s passed with blocks 61-100 unsaved
    clock.now = 70
    index.sync(chain, ChainPosition(100, h(100)))  # type: ignore[arg-type]
    assert store.saves == [10, 60, 100]  # nothing new scanned: nothing to save
    chain.head = 101
    index.sync(chain, ChainPosition(101, h(101)))  # type: ignore[arg-type]
    assert store.saves == [10, 60, 100, 101]
    chain.head = 102
    index.sync(chain, ChainPosition(102, h(102)))  # type: ignore[arg-type]
    assert store.saves == [10, 60, 100, 101]  # one block, no time: not yet


def test_a_failing_store_never_stops_the_index() -> None:
    store, chain = MemoryStore(), FakeChain(head=20)
    store.fail_saves = True
    with structlog.testing.capture_logs() as logs:
        index = indexed(chain, store, CheckpointPolicy(every_blocks=1))
        sync(index, chain)
        assert not index.save_checkpoint()
    assert index.scanned == chain.finalized_head()
    assert any(e["event"] == "index_checkpoint_save_failed" and "disk full" in e["error"] for e in logs)


def test_no_checkpoints_attached_is_the_old_behaviour() -> None:
    chain = FakeChain(head=15)
    index = ExecutedIndex(CONFIG)
    sync(index, chain)
    assert not index.save_checkpoint()
    assert chain.blocks_read == list(range(1, 16))


def test_restore_trims_to_this_index_s_bound_and_refuses_another_config() -> None:
    index = ExecutedIndex(CONFIG, remember_extrinsics=2)
    index.restore(snapshot())
    assert index.extrinsic(OK.hash) is None and index.extrinsic(NOTED.hash) == NOTED  # oldest dropped
    with pytest.raises(ValueError, match="another bridge account"):
        index.restore(snapshot(bridge_account=b"\x01" * 32))


def test_a_restored_index_still_knows_which_settled_ids_were_refunded() -> None:
    refund = Refund(9, b"\x11" * 20, 5 * 10**18, 5 * 10**12, b"\x01" * 32, RefundReason.BRIDGE_ACCOUNT)
    unsettled = Refund(10, b"\x11" * 20, 10**18, 10**12, b"\x01" * 32, RefundReason.BRIDGE_ACCOUNT)
    note = encode_refund_note([refund, unsettled])
    # the extrinsic's executed record settles deposit 9 only: a note entry without it refunds nothing
    refunded = BridgeExtrinsic(5, h(5), 1, x(0xA5), 9, (refund.deposit_id,), None, (note,))
    snap = snapshot(executed=((refund.deposit_id, x(0xA5)),), extrinsics=(refunded,), noted=(refunded,))
    index = ExecutedIndex(CONFIG)
    index.restore(decode_snapshot(encode_snapshot(snap)))
    ids = [refund.deposit_id, unsettled.deposit_id, x(1)]
    assert index.executed_among(ids) == {refund.deposit_id}
    assert index.refunded_among(ids) == {refund.deposit_id: refund}
