"""Assets: concrete fungible amounts, and the filters that select from the holding register."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.xcm.errors import XcmError
from bridge.xcm.location import Location

_U128 = 2**128


@dataclass(frozen=True)
class Asset:
    """`amount` of the fungible asset identified by the location `id` (a concrete id)."""

    id: Location
    amount: int

    def __post_init__(self) -> None:
        if not 0 <= self.amount < _U128:
            raise XcmError(f"asset amount must fit in u128, got {self.amount}")


@dataclass(frozen=True)
class Definite:
    """Exactly these assets."""

    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class AllAssets:
    """Everything in holding (wildcard `All`)."""


@dataclass(frozen=True)
class AllOf:
    """All of one fungible asset in holding (wildcard `AllOf { id, fun: Fungible }`)."""

    id: Location


AssetFilter = Definite | AllAssets | AllOf
