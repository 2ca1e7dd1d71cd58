"""The plain values substrate-interface (scalecodec) takes for a runtime type: dicts for structs and enum variants
with data, strings for unit variants and hex bytes, ints, lists for sequences and tuples."""

from __future__ import annotations

from typing import TypeAlias

ScaleValue: TypeAlias = "dict[str, ScaleValue] | list[ScaleValue] | str | int | bool | None"


def hex_bytes(raw: bytes) -> str:
    return "0x" + raw.hex()
