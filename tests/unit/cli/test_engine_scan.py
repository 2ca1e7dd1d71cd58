"""The engine-scan snapshot (`PBES` v1): a strict round trip, and anything else refused with a `SnapshotError` naming
what is wrong (never a partial snapshot). And the scan's pruning: a call whose execution record is in the log the
engine read is dropped from memory (and so from the next snapshot), a replay refusal or an undecodable note drops
nothing, and a view behind the log a restored snapshot was pruned against is `not_ready`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from pathlib import Path

import pytest

from bridge.cli.confidential_wiring import MemberChainView
from bridge.cli.engine_scan import MAGIC, ScanSnapshot, decode_scan_snapshot, encode_scan_snapshot
from bridge.confidential import (
    CALL_MAGIC,
    NOTE_LOG_ROOT,
    VERSION,
    CallStatus,
    ExecutionRecord,
    encode_record,
    note_log_hash,
)
from bridge.config import NodeConfig, parse_config
from bridge.enclave_api import GroupKeys
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import ChainPosition
from enclave_signer.process.confidential import NotReady
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.index_snapshot import SnapshotError

ROOT = Path(__file__).resolve().parents[3]
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ACCOUNT = bytes(range(32))
CONTRACT = b"\x07" * 32


def call(nonce: int, block: int, size: int = 80) -> BridgeMessage:
    return BridgeMessage(
        source_domain=1, dest_domain=2, nonce=nonce, kind=MessageKind.CALL, sender=b"\x11" * 20,
        recipient=b"", payload=CALL_MAGIC + bytes([VERSION]) + CONTRACT + os.urandom(size),
        source=SourceRef(block_number=block, block_hash=os.urandom(32), tx_hash=os.urandom(32), index=nonce % 7),
    )  # fmt: skip


def snapshot(calls: tuple[BridgeMessage, ...] = (), *, block: int = 120, records: int = 4) -> ScanSnapshot:
    address = bytes.fromhex(BRIDGE[2:])
    return ScanSnapshot(31337, address, 1, 10, ACCOUNT, ChainPosition(block, "0x" + "ab" * 32), records, calls)


def reseal(body: bytes) -> bytes:
    """A body with a fresh checksum: the decoder's own checks, past the checksum."""
    return body + hashlib.blake2b(body, digest_size=32).digest()


def test_round_trip() -> None:
    calls = (call(5, 100), call(9, 110, size=16_000), call(3, 120).model_copy(update={"kind": "confidential_call"}))
    snap = snapshot(calls)
    data = encode_scan_snapshot(snap)
    assert data[:4] == MAGIC and data[4] == 1
    back = decode_scan_snapshot(data)
    assert back == snap and [m.id for m in back.calls] == [m.id for m in calls]
    assert decode_scan_snapshot(encode_scan_snapshot(snapshot())) == snapshot()  # no calls: a position only


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda d: b"PBXI" + d[4:], "wrong magic"),
        (lambda d: d[:4] + b"\x02" + d[5:], "unsupported snapshot version 2"),
        (lambda d: d[:-1], "checksum mismatch"),
        (lambda d: d[:40], "checksum mismatch"),
        (lambda d: d[:6], "truncated"),
        (lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:], "checksum mismatch"),
        (lambda d: reseal(d[:-32] + b"\x00"), "unexpected bytes"),
        (lambda d: reseal(d[:-33]), "truncated"),
        (lambda d: b"", "wrong magic"),
    ],
)
def test_corrupt_truncated_or_foreign_bytes_are_refused(mangle: object, match: str) -> None:
    data = encode_scan_snapshot(snapshot((call(5, 100), call(6, 101))))
    with pytest.raises(SnapshotError, match=match):
        decode_scan_snapshot(mangle(data))  # type: ignore[operator]


def test_inconsistent_contents_are_refused() -> None:
    with pytest.raises(SnapshotError, match="listed twice"):
        decode_scan_snapshot(encode_scan_snapshot(snapshot((call(5, 100), call(5, 101)))))
    with pytest.raises(SnapshotError, match="after the position"):
        decode_scan_snapshot(encode_scan_snapshot(snapshot((call(5, 121),))))
    transfer = call(5, 100).model_copy(update={"payload": b"not a call"})
    with pytest.raises(SnapshotError, match="not a confidential call"):
        decode_scan_snapshot(encode_scan_snapshot(snapshot((transfer,))))
    with pytest.raises(SnapshotError, match="before the start block"):
        decode_scan_snapshot(encode_scan_snapshot(snapshot(block=5)))
    body = encode_scan_snapshot(snapshot())[:-32]
    huge = body[:-4] + struct.pack(">I", 10**6)  # a corrupt count allocates nothing
    with pytest.raises(SnapshotError, match="exceeds the snapshot's size"):
        decode_scan_snapshot(reseal(huge))


# ---- pruning ------------------------------------------------------------------------------------------------------


def member_view(tmp_path: Path) -> MemberChainView:
    text = (ROOT / "config" / "node.example.toml").read_text()
    text = text.replace('bridge_address = "0x0000000000000000000000000000000000000000"', f'bridge_address = "{BRIDGE}"')
    cfg = parse_config(text, NodeConfig, source="node.toml")
    keys = GroupKeys(secp256k1=b"\x02" + b"\x01" * 32, ed25519=ACCOUNT, encryption=b"\x03" * 32)
    return MemberChainView(cfg, lambda: keys)  # no connection is made until a chain is read


def record(nonce: int, position: int, *, replayed: bool = False) -> bytes:
    status, code = (CallStatus.REFUSED, "replayed") if replayed else (CallStatus.EXECUTED, "")
    return encode_record(ExecutionRecord(CONTRACT, 1, nonce, position, status, 1, code, "", 0, ()))


class NotedView:
    """A Phala view as the engine's chain port reads it: an executed index's noted extrinsics (one per list)."""

    session = type("S", (), {"run": staticmethod(lambda fn: asyncio.sleep(0))})()

    def __init__(self, *extrinsics: list[bytes]) -> None:
        self.noted: list[BridgeExtrinsic] = []
        noted = self.noted
        self.index = type("I", (), {"noted_since": lambda _, k: noted[k:], "noted_count": lambda _: len(noted)})()
        for notes in extrinsics:
            self.add(notes)

    def add(self, notes: list[bytes]) -> None:
        i = len(self.noted)
        self.noted.append(BridgeExtrinsic(i + 1, "0x" + "11" * 32, 0, "0x" + f"{i:064x}", i, (), None, tuple(notes)))

    def sync(self) -> None: ...


def test_calls_with_a_record_are_dropped_and_left_out_of_the_snapshot(tmp_path: Path) -> None:
    view = member_view(tmp_path)
    calls = [call(n, 100 + n) for n in (1, 2, 3, 4)]
    view.restore_scan(snapshot(tuple(calls), records=0))
    view._phala = NotedView(  # type: ignore[assignment]
        [record(1, 0), record(3, 1)], [record(1, 2, replayed=True), b"PHCR\x01 not a record"]
    )
    view._phala_key = ACCOUNT
    notes = asyncio.run(view.records())
    assert len(notes) == 4
    assert [m.nonce for m in view._calls.values()] == [2, 4]
    snap = view.scan_snapshot()
    assert snap is not None and [m.nonce for m in snap.calls] == [2, 4] and snap.records == 4
    assert view._executed == {calls[0].id, calls[2].id}  # a call seen later on Ethereum is not kept either


def test_the_note_log_is_handed_out_after_a_position_with_its_prefix_hash(tmp_path: Path) -> None:
    view = member_view(tmp_path)
    first = [record(1, 0), record(2, 1)]
    phala = NotedView(first)
    view._phala, view._phala_key = phala, ACCOUNT  # type: ignore[assignment]
    whole = asyncio.run(view.notes_after(0))
    assert (whole.prefix_hash, whole.notes) == (NOTE_LOG_ROOT, tuple(first))
    tail = asyncio.run(view.notes_after(1))
    assert tail.prefix_hash == note_log_hash(first[:1]) and tail.notes == (first[1],)
    assert asyncio.run(view.notes_after(3)).prefix_hash is None  # past the end: the caller's log is not this one
    # the index grows: only the new extrinsic's notes are read, and the hashes continue
    phala.add([record(3, 2)])
    tail = asyncio.run(view.notes_after(2))
    assert tail.prefix_hash == note_log_hash(first) and tail.notes == (record(3, 2),)
    assert view._notes[:2] == first and len(view._hashes) == 4
    # another view (a new bridge account's): the log is read from its start, not appended to
    other = NotedView([record(9, 0)])
    view._phala = other  # type: ignore[assignment]
    whole = asyncio.run(view.notes_after(0))
    assert whole.notes == (record(9, 0),) and asyncio.run(view.notes_after(2)).prefix_hash is None


def test_a_view_behind_the_restored_log_is_not_ready(tmp_path: Path) -> None:
    view = member_view(tmp_path)
    view.restore_scan(snapshot((call(7, 100),), records=3))
    # the Phala view's read, as it stands: two records where the checkpoint was pruned against three
    view._phala, view._phala_key = NotedView([record(1, 0), record(2, 1)]), ACCOUNT  # type: ignore[assignment]
    with pytest.raises(NotReady, match=r"has 2 execution records.*against 3"):
        asyncio.run(view.records())
    assert [m.nonce for m in view._calls.values()] == [7]  # nothing dropped on a lagging view
