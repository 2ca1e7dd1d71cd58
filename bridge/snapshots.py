"""The framing every chain-view snapshot shares (executed index, deposit view, engine scan, the confidential engine's
sealed state): a body that starts with a magic and a version byte, followed by the blake2b-256 of that body, and a
strict reader. Pure: the codecs on both sides of the bridge (relayers, enclave) use it.

The checksum catches a torn or rotted file; it is no authentication (the enclave's copies are sealed, which is).
"""

from __future__ import annotations

import hashlib

_DIGEST = 32


class SnapshotError(ValueError):
    """The bytes are not a snapshot this build can load; the message says why."""


def seal_body(body: bytes | bytearray) -> bytes:
    """The snapshot: its body (magic, version, fields) and the blake2b-256 of it."""
    return bytes(body) + hashlib.blake2b(body, digest_size=_DIGEST).digest()


def open_body(data: bytes, magic: bytes, versions: tuple[int, ...], kind: str) -> tuple[int, bytes]:
    """(version, body) of a snapshot of `kind` after its magic, version and checksum are checked; the body still
    starts with the magic and version byte."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotError(f"a snapshot is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(magic) + 1 or data[: len(magic)] != magic:
        raise SnapshotError(f"not {kind} snapshot (wrong magic)")
    version = data[len(magic)]
    if version not in versions:
        reads = ", ".join(map(str, versions))
        raise SnapshotError(f"unsupported snapshot version {version} (this build reads {reads})")
    if len(data) < len(magic) + 1 + _DIGEST:
        raise SnapshotError("snapshot truncated")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.blake2b(body, digest_size=_DIGEST).digest() != digest:
        raise SnapshotError("snapshot checksum mismatch (truncated or corrupted)")
    return version, body


def hex32(value: str, what: str) -> bytes:
    """The 32 bytes of a 0x-hex hash field."""
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise SnapshotError(f"{what} {value!r} is not hex") from None
    return bytes32(raw, what)


class SnapshotReader:
    """Reads a snapshot body front to back; every read past the end is a `SnapshotError` naming the field."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data, self.at = data, offset

    def take(self, n: int, what: str) -> bytes:
        if self.at + n > len(self.data):
            raise SnapshotError(f"snapshot truncated in {what}")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def u32(self, what: str) -> int:
        return self.uint(4, what)

    def u64(self, what: str) -> int:
        return self.uint(8, what)

    def hex32(self, what: str) -> str:
        return "0x" + self.take(32, what).hex()

    def count(self, min_size: int, what: str) -> int:
        """A count whose items (each at least `min_size` bytes) must fit in what remains: no huge allocation from a
        corrupt count."""
        n = self.u32(f"{what} count")
        if n * min_size > len(self.data) - self.at:
            raise SnapshotError(f"{what} count {n} exceeds the snapshot's size")
        return n

    def end(self) -> None:
        if self.at != len(self.data):
            raise SnapshotError(f"{len(self.data) - self.at} unexpected bytes after the snapshot")


def bytes32(value: bytes, what: str) -> bytes:
    if len(value) != 32:
        raise SnapshotError(f"{what} must be 32 bytes, got {len(value)}")
    return value


__all__ = ["SnapshotError", "SnapshotReader", "bytes32", "hex32", "open_body", "seal_body"]
