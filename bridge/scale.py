"""SCALE compact integers (pure): the one encoder the core's formats (the XCM gateway's program bytes) and the
Phala adapter's hand-written extrinsics share."""

from __future__ import annotations

from bridge.errors import InputError

__all__ = ["ScaleError", "compact"]


class ScaleError(InputError):
    """Bytes that are not the SCALE shape expected, or a value SCALE cannot carry; permanent."""


def compact(value: int) -> bytes:
    if value < 0:
        raise ScaleError(f"compact integers are unsigned, got {value}")
    if value < 1 << 6:
        return bytes([value << 2])
    if value < 1 << 14:
        return ((value << 2) | 0b01).to_bytes(2, "little")
    if value < 1 << 30:
        return ((value << 2) | 0b10).to_bytes(4, "little")
    raw = value.to_bytes((value.bit_length() + 7) // 8, "little")
    if len(raw) > 67:
        raise ScaleError(f"integer too large for a compact: {value}")
    return bytes([((len(raw) - 4) << 2) | 0b11]) + raw
