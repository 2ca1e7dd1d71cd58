"""Locations (parents + interior junctions), independent of the XCM version they are encoded in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridge.xcm.errors import XcmError

MAX_JUNCTIONS = 8  # X1..X8 in every XCM version up to V5
_U32 = 2**32
_U64 = 2**64
_U128 = 2**128


class NetworkId(StrEnum):
    """A consensus system named inside a junction. `None` in a junction means "any" (V2 `Any`, V3+ no network).

    V2 knows Polkadot and Kusama only; V5 dropped Westend and Rococo (it names test networks by genesis hash)."""

    POLKADOT = "Polkadot"
    KUSAMA = "Kusama"
    WESTEND = "Westend"
    ROCOCO = "Rococo"


@dataclass(frozen=True)
class EthereumNetwork:
    """An Ethereum chain as a consensus system (V3+), e.g. `GlobalConsensus(EthereumNetwork(1))` for mainnet."""

    chain_id: int

    def __post_init__(self) -> None:
        _check_range("Ethereum chain id", self.chain_id, _U64)


Network = NetworkId | EthereumNetwork


@dataclass(frozen=True)
class Parachain:
    id: int

    def __post_init__(self) -> None:
        _check_range("Parachain id", self.id, _U32)


@dataclass(frozen=True)
class AccountId32:
    id: bytes
    network: Network | None = None

    def __post_init__(self) -> None:
        _check_len("AccountId32 id", self.id, 32)


@dataclass(frozen=True)
class AccountKey20:
    key: bytes
    network: Network | None = None

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


@dataclass(frozen=True)
class GlobalConsensus:
    """A whole consensus system (V3+): the first junction of a universal location, e.g. Polkadot or Ethereum."""

    network: Network


Junction = Parachain | AccountId32 | AccountKey20 | PalletInstance | GeneralIndex | GlobalConsensus


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
    def account32(cls, account: bytes, network: Network | None = None) -> Location:
        """A local 32-byte account (sr25519 or ed25519 public key), the usual beneficiary."""
        return cls(0, (AccountId32(account, network),))

    @classmethod
    def account20(cls, key: bytes, network: Network | None = None) -> Location:
        """A local 20-byte account (an Ethereum-style key, as on EVM parachains)."""
        return cls(0, (AccountKey20(key, network),))

    def join(self, *junctions: Junction) -> Location:
        return Location(self.parents, self.interior + junctions)

    def __str__(self) -> str:
        inner = ", ".join(repr(j) for j in self.interior) or "Here"
        return f"({self.parents}, {inner})"


def _check_range(what: str, value: int, bound: int) -> None:
    if not 0 <= value < bound:
        raise XcmError(f"{what} must be in [0, {bound}), got {value}")


def _check_len(what: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise XcmError(f"{what} must be {size} bytes, got {len(value)}")
