"""XCM instructions and programs, independent of the XCM version they are encoded in.

Fields follow the newest meaning; a version encoder maps them (or refuses what its version cannot say). V2-only
fields such as `max_assets` are kept here with a default so one program encodes in V2 and in later versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from bridge.xcm.asset import Asset, AssetFilter
from bridge.xcm.location import Junction, Location


class OriginKind(StrEnum):
    """How a `Transact` call is dispatched on the receiver."""

    NATIVE = "Native"
    SOVEREIGN_ACCOUNT = "SovereignAccount"
    SUPERUSER = "Superuser"
    XCM = "Xcm"


@dataclass(frozen=True)
class Weight:
    """Execution weight. V2 knows only `ref_time` (it meters no proof size, so V2 encoders drop `proof_size`)."""

    ref_time: int
    proof_size: int = 0


@dataclass(frozen=True)
class WithdrawAsset:
    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class ReserveAssetDeposited:
    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class ReceiveTeleportedAsset:
    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class ClearOrigin:
    pass


@dataclass(frozen=True)
class DescendOrigin:
    interior: tuple[Junction, ...]


@dataclass(frozen=True)
class BuyExecution:
    fees: Asset
    weight_limit: Weight | None = None  # None: unlimited


@dataclass(frozen=True)
class DepositAsset:
    assets: AssetFilter
    beneficiary: Location
    max_assets: int = 1  # V2 only: how many distinct assets may be deposited (weight is charged for this many)


@dataclass(frozen=True)
class DepositReserveAsset:
    assets: AssetFilter
    dest: Location
    xcm: Xcm
    max_assets: int = 1  # V2 only


@dataclass(frozen=True)
class InitiateReserveWithdraw:
    assets: AssetFilter
    reserve: Location
    xcm: Xcm


@dataclass(frozen=True)
class TransferAsset:
    assets: tuple[Asset, ...]
    beneficiary: Location


@dataclass(frozen=True)
class TransferReserveAsset:
    assets: tuple[Asset, ...]
    dest: Location
    xcm: Xcm


@dataclass(frozen=True)
class Transact:
    origin_kind: OriginKind
    call: bytes  # the SCALE-encoded call of the receiving runtime
    require_weight_at_most: Weight


@dataclass(frozen=True)
class RefundSurplus:
    pass


@dataclass(frozen=True)
class SetErrorHandler:
    xcm: Xcm


@dataclass(frozen=True)
class SetAppendix:
    xcm: Xcm


@dataclass(frozen=True)
class ReportError:
    """Send the error register to `destination` as a `QueryResponse` with `query_id`."""

    query_id: int
    destination: Location
    max_response_weight: Weight


@dataclass(frozen=True)
class ClearError:
    pass


@dataclass(frozen=True)
class Trap:
    code: int


Instruction = (
    WithdrawAsset
    | ReserveAssetDeposited
    | ReceiveTeleportedAsset
    | ClearOrigin
    | DescendOrigin
    | BuyExecution
    | DepositAsset
    | DepositReserveAsset
    | InitiateReserveWithdraw
    | TransferAsset
    | TransferReserveAsset
    | Transact
    | RefundSurplus
    | SetErrorHandler
    | SetAppendix
    | ReportError
    | ClearError
    | Trap
)


@dataclass(frozen=True)
class Xcm:
    """A program: instructions run in order by the receiver's XCM executor."""

    instructions: tuple[Instruction, ...]

    @classmethod
    def of(cls, *instructions: Instruction) -> Xcm:
        return cls(instructions)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.instructions)

    def __len__(self) -> int:
        return len(self.instructions)
