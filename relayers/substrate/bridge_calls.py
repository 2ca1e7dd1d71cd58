"""The bridge's calls on Phala, encoded and parsed by hand (pure: no metadata, no I/O).

Deposit (a user bridging out):   Utility.batch_all([Balances.transfer_keep_alive(Id(bridge), a),
                                                    System.remark_with_event(intent)])
Execution (the bridge account):  Utility.batch_all([Balances.transfer_keep_alive(Id(recipient), amount), ...,
                                                    System.remark_with_event(executed record)])

Pallet and call indices come from the runtime's metadata (`CallIndices`); `relayers.substrate.chain` checks once
per runtime version that these encoders produce exactly what substrate-interface composes, so a runtime whose calls
changed shape is refused instead of mis-encoded. Parsing accepts only these exact shapes (`MultiAddress::Id`,
canonical compacts, no trailing bytes); anything else is "not a bridge call".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relayers.substrate.scale import Reader, ScaleError, byte_vec, compact

MAX_REMARK = 64 * 1024  # parsing bound; the runtime's own limit is the block length
MAX_BATCH_CALLS = 4096


@dataclass(frozen=True)
class CallIndices:
    """(pallet index, call index) of each call the bridge uses, as the runtime's metadata says."""

    batch_all: tuple[int, int]
    transfer_keep_alive: tuple[int, int]
    remark_with_event: tuple[int, int]


@dataclass(frozen=True)
class Transfer:
    dest: bytes  # 32-byte account id
    amount: int


def encode_transfer(indices: CallIndices, transfer: Transfer) -> bytes:
    if len(transfer.dest) != 32:
        raise ScaleError(f"a destination account is 32 bytes, got {len(transfer.dest)}")
    if not 0 <= transfer.amount < 2**128:
        raise ScaleError(f"a balance is a u128, got {transfer.amount}")
    return bytes(indices.transfer_keep_alive) + b"\x00" + transfer.dest + compact(transfer.amount)


def encode_remark(indices: CallIndices, remark: bytes) -> bytes:
    return bytes(indices.remark_with_event) + byte_vec(remark)


def encode_batch(
    indices: CallIndices, transfers: Sequence[Transfer], remark: bytes, *, notes: Sequence[bytes] = ()
) -> bytes:
    """batch_all([remark_with_event(n) for n in notes] + [transfer_keep_alive(t.dest, t.amount) for t in transfers]
    + [remark_with_event(remark)]). Notes carry confidential-call records and outputs (bridge.confidential)."""
    calls = [encode_remark(indices, n) for n in notes]
    calls += [encode_transfer(indices, t) for t in transfers] + [encode_remark(indices, remark)]
    return bytes(indices.batch_all) + compact(len(calls)) + b"".join(calls)


@dataclass(frozen=True)
class BridgeBatch:
    """A parsed batch of the bridge's shape: leading remarks (notes), transfers, then one remark."""

    transfers: tuple[Transfer, ...]
    remark: bytes
    notes: tuple[bytes, ...] = ()


def parse_batch(indices: CallIndices, call: bytes) -> BridgeBatch | None:
    """The batch's notes, transfers and remark when `call` is exactly batch_all([remark_with_event(note)...,
    transfer_keep_alive..., remark]); None for any other call (including other address forms and trailing bytes)."""
    try:
        reader = Reader(call)
        if reader.take(2) != bytes(indices.batch_all):
            return None
        count = reader.compact()
        if not 1 <= count <= MAX_BATCH_CALLS:
            return None
        transfers: list[Transfer] = []
        notes: list[bytes] = []
        for _ in range(count - 1):
            index = reader.take(2)
            if index == bytes(indices.remark_with_event) and not transfers:
                notes.append(reader.byte_vec(MAX_REMARK))
                continue
            if index != bytes(indices.transfer_keep_alive) or reader.u8() != 0x00:
                return None
            dest = reader.take(32)
            amount = reader.compact()
            if amount >= 2**128:
                return None
            transfers.append(Transfer(dest, amount))
        if reader.take(2) != bytes(indices.remark_with_event):
            return None
        remark = reader.byte_vec(MAX_REMARK)
        reader.end()
    except ScaleError:
        return None
    return BridgeBatch(tuple(transfers), remark, tuple(notes))


def parse_deposit(indices: CallIndices, call: bytes) -> BridgeBatch | None:
    """A user deposit: a bridge-shaped batch with exactly one transfer."""
    batch = parse_batch(indices, call)
    if batch is None or len(batch.transfers) != 1 or batch.notes:
        return None
    return batch


__all__ = [
    "MAX_BATCH_CALLS",
    "BridgeBatch",
    "CallIndices",
    "Transfer",
    "encode_batch",
    "encode_remark",
    "encode_transfer",
    "parse_batch",
    "parse_deposit",
]
