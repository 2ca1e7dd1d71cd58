"""XCM values without I/O: locations, assets, instructions and programs, encoded per XCM version into the plain
values substrate-interface takes (`create_scale_object(...).encode(value)`, `compose_call(..., params)`).

Build version-independent values, then pick the version at the edge:

    program = pay_from_sovereign(Asset(Location.parent(), amount), Location.account32(pubkey))
    compose_call("PolkadotXcm", "send", {"dest": versioned_location(Location.sibling(1000)),
                                         "message": versioned_xcm(program)})
"""

from bridge.xcm.accounts import parachain_sovereign_account, sibling_sovereign_account, xcm_message_hash
from bridge.xcm.asset import AllAssets, AllOf, Asset, AssetFilter, Definite
from bridge.xcm.errors import XcmEncodeError, XcmError
from bridge.xcm.instructions import (
    BuyExecution,
    ClearError,
    ClearOrigin,
    DepositAsset,
    DepositReserveAsset,
    DescendOrigin,
    InitiateReserveWithdraw,
    Instruction,
    OriginKind,
    ReceiveTeleportedAsset,
    RefundSurplus,
    ReportError,
    ReserveAssetDeposited,
    SetAppendix,
    SetErrorHandler,
    Transact,
    TransferAsset,
    TransferReserveAsset,
    Trap,
    Weight,
    WithdrawAsset,
    Xcm,
)
from bridge.xcm.location import (
    AccountId32,
    AccountKey20,
    GeneralIndex,
    Junction,
    Location,
    NetworkId,
    PalletInstance,
    Parachain,
)
from bridge.xcm.programs import pay_from_sovereign, superuser_transact
from bridge.xcm.scale import ScaleValue
from bridge.xcm.versioned import XcmVersion, versioned_assets, versioned_location, versioned_xcm

__all__ = [
    "AccountId32",
    "AccountKey20",
    "AllAssets",
    "AllOf",
    "Asset",
    "AssetFilter",
    "BuyExecution",
    "ClearError",
    "ClearOrigin",
    "Definite",
    "DepositAsset",
    "DepositReserveAsset",
    "DescendOrigin",
    "GeneralIndex",
    "InitiateReserveWithdraw",
    "Instruction",
    "Junction",
    "Location",
    "NetworkId",
    "OriginKind",
    "PalletInstance",
    "Parachain",
    "ReceiveTeleportedAsset",
    "RefundSurplus",
    "ReportError",
    "ReserveAssetDeposited",
    "ScaleValue",
    "SetAppendix",
    "SetErrorHandler",
    "Transact",
    "TransferAsset",
    "TransferReserveAsset",
    "Trap",
    "Weight",
    "WithdrawAsset",
    "Xcm",
    "XcmEncodeError",
    "XcmError",
    "XcmVersion",
    "parachain_sovereign_account",
    "pay_from_sovereign",
    "sibling_sovereign_account",
    "superuser_transact",
    "versioned_assets",
    "versioned_location",
    "versioned_xcm",
    "xcm_message_hash",
]
