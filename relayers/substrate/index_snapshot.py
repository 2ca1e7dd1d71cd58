"""The binary encoding of an executed-index snapshot (pure): strict, versioned, checksummed.

Version 1, big-endian, every count bounded by the bytes that remain:

    b"PBXI" | version u8 = 1
    bridge account (32) | index start block u64 | scanned block u64 | scanned hash (32)
    executed:   u32 n, n x (message id (32) | extrinsic hash (32))              in the order first seen
    records:    u32 n, n x record                                             every distinct extrinsic below, once
    extrinsics: u32 n, n x u32 (record number)                                the remembered ones, oldest first
    noted:      u32 n, n x u32 (record number)                                successful, with notes, in chain order
    blake2b-256 of everything before it (32)

    record = block u64 | block hash (32) | index u32 | hash (32) | nonce u64 | u32 n, n x id (32)
             | failure: u8 0, or u8 1 + u32 length + UTF-8 | u32 n, n x (u32 length + note)

The checksum catches a torn or rotted row; it is no authentication (the enclave's copy is sealed, which is).
`decode_snapshot` refuses anything else with a `SnapshotError` naming what is wrong: a wrong magic, an unknown
version, a bad checksum, a truncated or over-long body, an out-of-range number, a reference to no record, a
duplicate, a failed extrinsic among the noted ones, a record beyond the scanned block. It never returns part of a
snapshot.
"""

from __future__ import annotations

import struct

from bridge.ports import ChainPosition
from bridge.snapshots import SnapshotError, SnapshotReader, hex32, open_body, seal_body
from bridge.snapshots import bytes32 as _bytes32
from relayers.substrate.executed_index import BridgeExtrinsic, IndexSnapshot

MAGIC = b"PBXI"
VERSION = 1
_U64_MAX = 2**64 - 1
_RECORD_MIN = 8 + 32 + 4 + 32 + 8 + 4 + 1 + 4  # a record with no ids, no failure and no notes


def encode_snapshot(snapshot: IndexSnapshot) -> bytes:
    out = bytearray(MAGIC)
    out.append(VERSION)
    out += _bytes32(snapshot.bridge_account, "bridge account")
    out += struct.pack(">QQ", snapshot.index_start_block, snapshot.scanned.block_number)
    out += hex32(snapshot.scanned.block_hash, "scanned block hash")
    out += struct.pack(">I", len(snapshot.executed))
    for message_id, tx in snapshot.executed:
        out += hex32(message_id, "message id") + hex32(tx, "extrinsic hash")
    records: dict[BridgeExtrinsic, int] = {}
    for e in (*snapshot.extrinsics, *snapshot.noted):
        records.setdefault(e, len(records))
    out += struct.pack(">I", len(records))
    for e in records:
        out += _record(e)
    for group in (snapshot.extrinsics, snapshot.noted):
        out += struct.pack(">I", len(group))
        for e in group:
            out += struct.pack(">I", records[e])
    return seal_body(out)


def decode_snapshot(data: bytes) -> IndexSnapshot:
    _, body = open_body(data, MAGIC, (VERSION,), "an executed-index")
    r = SnapshotReader(body, len(MAGIC) + 1)
    bridge_account = r.take(32, "bridge account")
    start, scanned_number = r.u64("index start block"), r.u64("scanned block")
    scanned = ChainPosition(scanned_number, r.hex32("scanned block hash"))
    if scanned_number + 1 < max(start, 1):
        raise SnapshotError(f"scanned block {scanned_number} is before the index start block {start}")
    executed: dict[str, str] = {}
    for i in range(r.count(64, "executed ids")):
        message_id, tx = r.hex32(f"executed id {i}"), r.hex32(f"executed id {i}'s extrinsic")
        if message_id in executed:
            raise SnapshotError(f"executed id {message_id} listed twice")
        executed[message_id] = tx
    records = [_read_record(r, i, scanned_number) for i in range(r.count(_RECORD_MIN, "records"))]
    extrinsics = _refs(r, records, "extrinsics")
    if len({e.hash for e in extrinsics}) != len(extrinsics):
        raise SnapshotError("an extrinsic hash is remembered twice")
    noted = _refs(r, records, "noted")
    for e in noted:
        if not e.succeeded or not e.notes:
            raise SnapshotError(f"noted extrinsic {e.hash} failed or carries no notes")
    if [(e.block_number, e.index) for e in noted] != sorted((e.block_number, e.index) for e in noted):
        raise SnapshotError("noted extrinsics are not in chain order")
    if len(set(records)) != len(records) or len(records) != len({*extrinsics, *noted}):
        raise SnapshotError("the record table holds duplicates or unreferenced records")
    r.end()
    return IndexSnapshot(bridge_account, start, scanned, tuple(executed.items()), tuple(extrinsics), tuple(noted))


def _record(e: BridgeExtrinsic) -> bytes:
    out = bytearray(struct.pack(">Q", e.block_number))
    out += hex32(e.block_hash, "block hash") + struct.pack(">I", e.index) + hex32(e.hash, "extrinsic hash")
    out += struct.pack(">QI", e.nonce, len(e.ids))
    for i in e.ids:
        out += hex32(i, "message id")
    if e.failure is None:
        out.append(0)
    else:
        reason = e.failure.encode()
        out += b"\x01" + struct.pack(">I", len(reason)) + reason
    out += struct.pack(">I", len(e.notes))
    for note in e.notes:
        out += struct.pack(">I", len(note)) + note
    return bytes(out)


def _read_record(r: SnapshotReader, i: int, scanned: int) -> BridgeExtrinsic:
    what = f"record {i}"
    block = r.u64(f"{what} block")
    if block > scanned:
        raise SnapshotError(f"{what} is in block {block}, after the scanned block {scanned}")
    block_hash, index, tx, nonce = r.hex32(what), r.u32(what), r.hex32(what), r.u64(what)
    ids = tuple(r.hex32(f"{what} id") for _ in range(r.count(32, f"{what} ids")))
    if len(set(ids)) != len(ids):
        raise SnapshotError(f"{what} lists a message id twice")
    flag = r.take(1, f"{what} failure flag")[0]
    if flag not in (0, 1):
        raise SnapshotError(f"{what} has failure flag {flag} (0 or 1)")
    failure = None
    if flag:
        raw = r.take(r.u32(f"{what} failure length"), f"{what} failure")
        try:
            failure = raw.decode()
        except UnicodeDecodeError:
            raise SnapshotError(f"{what}'s failure is not UTF-8") from None
    notes = tuple(r.take(r.u32(f"{what} note length"), f"{what} note") for _ in range(r.count(4, f"{what} notes")))
    return BridgeExtrinsic(block, block_hash, index, tx, nonce, ids, failure, notes)


def _refs(r: SnapshotReader, records: list[BridgeExtrinsic], what: str) -> list[BridgeExtrinsic]:
    out = []
    for _ in range(r.count(4, what)):
        n = r.u32(what)
        if n >= len(records):
            raise SnapshotError(f"{what} refers to record {n}, of {len(records)}")
        out.append(records[n])
    return out


__all__ = [
    "MAGIC",
    "VERSION",
    "SnapshotError",
    "SnapshotReader",
    "decode_snapshot",
    "encode_snapshot",
    "hex32",
    "open_body",
    "seal_body",
]
