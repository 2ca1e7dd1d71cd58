"""Locations (parents + interior junctions), independent of the XCM version they are encoded in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridge.xcm.errors import XcmError

MAX_JUNCTIONS = 8  # X1..X8 in every XCM version up to V5
_U32 = 2**32
_U128 = 2**128


class NetworkId(StrEnum):
    """A consensus system named inside a junction. `None` in a junction means "any" (V2 `Any`, V3+ no network)."""

    POLKADOT = "Polkadot"
    KUSAMA = "Kusama"


@dataclass(frozen=True)
class Parachain:
    id: int

    def __post_init__(self) -> None:
        _check_range("Parachain id", self.id, _U32)


@dataclass(frozen=True)
class AccountId32:
    id: bytes
    network: NetworkId | None = None

    def __post_init__(self) -> None:
        _check_len("AccountId32 id", self.id, 32)


@dataclass(frozen=True)
class AccountKey20:
    key: bytes
    network: NetworkId | None = None

    def __post_init__(self) -> None:
        _check_len("AccountKey20 key", self.key, 20)


@dataclass(frozen=True)
class PalletInstance:
    index: int

    def __post_init__(self) -> None:
        _check_range("PalletInstance index", self.index, 256)


@dataclass(frozen=True)
class GeneralIndex:
    index: int

    def __post_init__(self) -> None:
        _check_range("GeneralIndex index", self.index, _U128)


Junction = Parachain | AccountId32 | AccountKey20 | PalletInstance | GeneralIndex


@dataclass(frozen=True)
class Location:
    """`parents` steps up, then down through `interior`; `Location()` is "here"."""

    parents: int = 0
    interior: tuple[Junction, ...] = ()

    def __post_init__(self) -> None:
        _check_range("parents", self.parents, 256)
        if len(self.interior) > MAX_JUNCTIONS:
            raise XcmError(f"a location has at most {MAX_JUNCTIONS} junctions, got {len(self.interior)}")

    @classmethod
    def here(cls) -> Location:
        return cls()

    @classmethod
    def parent(cls) -> Location:
        """The relay chain, seen from a parachain; also the id of the relay token (this runtime's native token)."""
        return cls(1)

    @classmethod
    def sibling(cls, para_id: int) -> Location:
        return cls(1, (Parachain(para_id),))

    @classmethod
    def account32(cls, account: bytes, network: NetworkId | None = None) -> Location:
        """A local 32-byte account (sr25519 or ed25519 public key), the usual beneficiary."""
        return cls(0, (AccountId32(account, network),))

    def join(self, *junctions: Junction) -> Location:
        return Location(self.parents, self.interior + junctions)


def _check_range(what: str, value: int, bound: int) -> None:
    if not 0 <= value < bound:
        raise XcmError(f"{what} must be in [0, {bound}), got {value}")


def _check_len(what: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise XcmError(f"{what} must be {size} bytes, got {len(value)}")
