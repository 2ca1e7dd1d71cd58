"""The few SCALE pieces the bridge encodes and parses itself (no runtime metadata, no I/O): compact integers (from
`bridge.scale`, shared with the core), byte vectors, and a strict reader. Hand-written so an enclave can rebuild a
batch without substrate-interface."""

from __future__ import annotations

from hashlib import blake2b

from bridge.scale import ScaleError, compact


def byte_vec(data: bytes) -> bytes:
    return compact(len(data)) + data


def blake2_256(data: bytes) -> bytes:
    return blake2b(data, digest_size=32).digest()


class Reader:
    """Reads SCALE values from `data`; every shortfall or non-canonical form is a `ScaleError`."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ScaleError(f"truncated: needs {n} bytes at offset {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def compact(self) -> int:
        first = self.u8()
        mode = first & 0b11
        if mode == 0b00:
            return first >> 2
        if mode == 0b01:
            value = int.from_bytes(bytes([first]) + self.take(1), "little") >> 2
            minimum = 1 << 6
        elif mode == 0b10:
            value = int.from_bytes(bytes([first]) + self.take(3), "little") >> 2
            minimum = 1 << 14
        else:
            value = int.from_bytes(self.take((first >> 2) + 4), "little")
            minimum = 1 << 30
        # One value, one encoding: a smaller value in a longer form is not canonical.
        if value < minimum or compact(value) != self.data[self.pos - len(compact(value)) : self.pos]:
            raise ScaleError(f"non-canonical compact integer at offset {self.pos}")
        return value

    def byte_vec(self, limit: int) -> bytes:
        n = self.compact()
        if n > limit:
            raise ScaleError(f"byte vector of {n} bytes exceeds the limit of {limit}")
        return self.take(n)

    def end(self) -> None:
        if self.remaining:
            raise ScaleError(f"{self.remaining} trailing bytes at offset {self.pos}")


def signed_extrinsic_signer(raw: bytes) -> bytes | None:
    """The 32-byte account of a signed v4 extrinsic whose address is `MultiAddress::Id`, read from its prefix only
    (no metadata needed); None for unsigned extrinsics and other address forms."""
    try:
        reader = Reader(raw)
        reader.compact()
        if reader.u8() != 0x84:  # signed bit | version 4
            return None
        if reader.u8() != 0x00:  # MultiAddress::Id
            return None
        return reader.take(32)
    except ScaleError:
        return None


__all__ = ["Reader", "ScaleError", "blake2_256", "byte_vec", "compact", "signed_extrinsic_signer"]
