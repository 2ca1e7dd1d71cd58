"""The deposit-view snapshot codec: round trip, and every malformed input refused with a reason."""

from __future__ import annotations

import hashlib
import struct

import pytest

from bridge.ports import ChainPosition
from relayers.substrate.deposit_checkpoint import (
    MAGIC,
    DepositBlock,
    DepositSnapshot,
    decode_deposit_snapshot,
    encode_deposit_snapshot,
)
from relayers.substrate.index_snapshot import SnapshotError

H = "0x" + "ab" * 32
SNAP = DepositSnapshot(b"\xbb" * 32, 5, ChainPosition(40, H, 7), (DepositBlock(6, H, 0), DepositBlock(30, H, 4)))


def reseal(body: bytes) -> bytes:
    return body + hashlib.blake2b(body, digest_size=32).digest()


def body(start: int = 5, number: int = 40, counted: int = 7, blocks: tuple[tuple[int, int], ...] = ()) -> bytes:
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
        (MAGIC + b"\x02" + b"\x00" * 200, "unsupported snapshot version 2"),
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
