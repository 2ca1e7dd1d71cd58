"""The bridge's calls on Phala, encoded and parsed by hand (pure: no metadata, no I/O).

Deposit (a user bridging out):   Utility.batch_all([Balances.transfer_keep_alive(Id(bridge), a),
                                                    System.remark_with_event(intent)])
Execution (the bridge account):  Utility.batch_all([Balances.transfer_keep_alive(Id(recipient), amount), ...,
                                                    System.remark_with_event(executed record)])
                                 where an XCM gateway item is a transfer followed by its gateway record
                                 (`remark_with_event`), see bridge/gateway.py

Pallet and call indices come from the runtime's metadata (`CallIndices`); `relayers.substrate.chain` checks once
per runtime version that these encoders produce exactly what substrate-interface composes, so a runtime whose calls
changed shape is refused instead of mis-encoded. Parsing accepts only these exact shapes (`MultiAddress::Id`,
canonical compacts, no trailing bytes); anything else is "not a bridge call".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relayers.substrate.scale import Reader, ScaleError, byte_vec, compact

# Parsing bound; the runtime's own limit is the block length. Above the largest note the bridge account writes: an
# execution record holds up to MAX_EVENTS sealed events of MAX_EVENT_SIZE bytes (~265 KB), an outputs note up to
# MAX_OUTPUTS calls of MAX_CALL_PAYLOAD bytes (~131 KB) (bridge.confidential). At 64 KiB such an extrinsic of its own
# read as "not a bridge call": its ids unexecuted, its notes missing (tests/unit/substrate/test_remark_bounds.py).
MAX_REMARK = 512 * 1024
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


@dataclass(frozen=True)
class Remark:
    data: bytes


BatchCall = Transfer | Remark


def encode_transfer(indices: CallIndices, transfer: Transfer) -> bytes:
    if len(transfer.dest) != 32:
        raise ScaleError(f"a destination account is 32 bytes, got {len(transfer.dest)}")
    if not 0 <= transfer.amount < 2**128:
        raise ScaleError(f"a balance is a u128, got {transfer.amount}")
    return bytes(indices.transfer_keep_alive) + b"\x00" + transfer.dest + compact(transfer.amount)


def encode_remark(indices: CallIndices, remark: bytes) -> bytes:
    return bytes(indices.remark_with_event) + byte_vec(remark)


def encode_calls(indices: CallIndices, calls: Sequence[BatchCall]) -> bytes:
    """batch_all(calls): each a transfer_keep_alive or a remark_with_event."""
    encoded = [
        encode_transfer(indices, c) if isinstance(c, Transfer) else encode_remark(indices, c.data) for c in calls
    ]
    return bytes(indices.batch_all) + compact(len(encoded)) + b"".join(encoded)


def encode_batch(
    indices: CallIndices, transfers: Sequence[Transfer], remark: bytes, *, notes: Sequence[bytes] = ()
) -> bytes:
    """batch_all([remark_with_event(n) for n in notes] + [transfer_keep_alive(t.dest, t.amount) for t in transfers]
    + [remark_with_event(remark)]). Notes carry confidential-call records and outputs (bridge.confidential)."""
    return encode_calls(indices, [*(Remark(n) for n in notes), *transfers, Remark(remark)])


@dataclass(frozen=True)
class BridgeBatch:
    """A parsed batch of the bridge's shape: transfers and remarks, ending with a remark."""

    transfers: tuple[Transfer, ...]
    remark: bytes  # the last remark (the executed record, or a deposit's intent)
    calls: tuple[BatchCall, ...] = ()  # every call, in order

    @property
    def remarks(self) -> tuple[bytes, ...]:
        return tuple(c.data for c in self.calls if isinstance(c, Remark))

    @property
    def notes(self) -> tuple[bytes, ...]:
        """The remarks before the first transfer, the last call excluded: confidential-call records and outputs."""
        out: list[bytes] = []
        for c in self.calls[:-1]:
            if not isinstance(c, Remark):
                break
            out.append(c.data)
        return tuple(out)


def parse_batch(indices: CallIndices, call: bytes) -> BridgeBatch | None:
    """The batch's calls when `call` is exactly batch_all([transfer_keep_alive | remark_with_event, ..., remark]);
    None for any other call (including other address forms and trailing bytes)."""
    try:
        reader = Reader(call)
        if reader.take(2) != bytes(indices.batch_all):
            return None
        count = reader.compact()
        if not 1 <= count <= MAX_BATCH_CALLS:
            return None
        calls: list[BatchCall] = []
        for _ in range(count):
            index = reader.take(2)
            if index == bytes(indices.transfer_keep_alive):
                if reader.u8() != 0x00:
                    return None
                dest = reader.take(32)
                amount = reader.compact()
                if amount >= 2**128:
                    return None
                calls.append(Transfer(dest, amount))
            elif index == bytes(indices.remark_with_event):
                calls.append(Remark(reader.byte_vec(MAX_REMARK)))
            else:
                return None
        reader.end()
    except ScaleError:
        return None
    last = calls[-1]
    if not isinstance(last, Remark):
        return None
    return BridgeBatch(tuple(c for c in calls if isinstance(c, Transfer)), last.data, tuple(calls))


def parse_deposit(indices: CallIndices, call: bytes) -> BridgeBatch | None:
    """A user deposit: exactly batch_all([transfer_keep_alive, remark_with_event])."""
    batch = parse_batch(indices, call)
    if batch is None or len(batch.calls) != 2 or not isinstance(batch.calls[0], Transfer):
        return None
    return batch


__all__ = [
    "MAX_BATCH_CALLS",
    "BatchCall",
    "BridgeBatch",
    "CallIndices",
    "Remark",
    "Transfer",
    "encode_batch",
    "encode_calls",
    "encode_remark",
    "encode_transfer",
    "parse_batch",
    "parse_deposit",
]
