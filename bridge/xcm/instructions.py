"""XCM instructions and programs, independent of the XCM version they are encoded in.

Fields follow the newest meaning; a version encoder maps them, or refuses what its version cannot say with an
`XcmVersionError` naming the version (e.g. `SetTopic` in V2, `PayFees` before V5). V2-only fields such as
`max_assets` are kept here with a default so one program encodes in V2 and in later versions.

Added in V3: `SetTopic`, `ClearTopic`, `UnpaidExecution`, `BurnAsset`. Added in V5: `PayFees`, `SetAssetClaimer`
(V5's `SetHints { AssetClaimer }`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.xcm.asset import Asset, AssetFilter
from bridge.xcm.errors import XcmError
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

    def __post_init__(self) -> None:
        for what, value in (("ref_time", self.ref_time), ("proof_size", self.proof_size)):
            if not 0 <= value < 2**64:
                raise XcmError(f"weight {what} must fit in u64, got {value}")


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
    """`max_assets` bounds how many distinct assets a wildcard may deposit (weight is charged for that many). V2
    requires it (None means 1); V3+ has no such field and encodes a count as the counted wildcard (`AllCounted`,
    `AllOfCounted`), as the Rust V2 -> V3 conversion does; None there is the plain wildcard."""

    assets: AssetFilter
    beneficiary: Location
    max_assets: int | None = None


@dataclass(frozen=True)
class DepositReserveAsset:
    assets: AssetFilter
    dest: Location
    xcm: Xcm
    max_assets: int | None = None  # as in DepositAsset


@dataclass(frozen=True)
class InitiateTeleport:
    assets: AssetFilter
    dest: Location
    xcm: Xcm


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
    """Dispatch `call` (SCALE-encoded for the receiving runtime). V2-V4 require `require_weight_at_most`; V5 weighs
    the call itself and sends the weight only as `fallback_max_weight` (for receivers still on V4)."""

    origin_kind: OriginKind
    call: bytes
    require_weight_at_most: Weight | None = None


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


@dataclass(frozen=True)
class ClaimAsset:
    """Put assets trapped earlier (by this same origin) back into holding; `ticket` is `Here` on pallet-xcm."""

    assets: tuple[Asset, ...]
    ticket: Location = field(default_factory=Location)


@dataclass(frozen=True)
class SetTopic:
    """V3+: give the message a 32-byte id. Receivers report it (`MessageQueue.Processed.id`, `Sent.message_id`), so
    a unique topic makes each message trackable even when two carry the same transfer."""

    topic: bytes

    def __post_init__(self) -> None:
        if len(self.topic) != 32:
            raise XcmError(f"a topic is 32 bytes, got {len(self.topic)}")


@dataclass(frozen=True)
class ClearTopic:
    pass


@dataclass(frozen=True)
class UnpaidExecution:
    """V3+: ask the receiver to run without `BuyExecution` (only trusted origins, e.g. the relay, get this)."""

    weight_limit: Weight | None = None  # None: unlimited
    check_origin: Location | None = None


@dataclass(frozen=True)
class BurnAsset:
    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class PayFees:
    """V5: pay for execution out of holding (replaces `BuyExecution`; the weight is computed by the receiver)."""

    asset: Asset


@dataclass(frozen=True)
class SetAssetClaimer:
    """V5 (`SetHints { AssetClaimer }`): who may claim the assets if this message traps them."""

    location: Location


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
    | InitiateTeleport
    | ClaimAsset
    | SetTopic
    | ClearTopic
    | UnpaidExecution
    | BurnAsset
    | PayFees
    | SetAssetClaimer
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
