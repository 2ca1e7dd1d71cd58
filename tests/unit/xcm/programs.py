"""Example values shared by the XCM tests: one of every instruction, and small hand-checked messages."""

from __future__ import annotations

from typing import Any

from bridge.xcm import (
    AccountKey20,
    AllAssets,
    AllOf,
    Asset,
    BurnAsset,
    BuyExecution,
    ClaimAsset,
    ClearError,
    ClearOrigin,
    ClearTopic,
    Definite,
    DepositAsset,
    DepositReserveAsset,
    DescendOrigin,
    GeneralIndex,
    InitiateReserveWithdraw,
    InitiateTeleport,
    Instruction,
    Location,
    NetworkId,
    OriginKind,
    PalletInstance,
    PayFees,
    ReceiveTeleportedAsset,
    RefundSurplus,
    ReportError,
    ReserveAssetDeposited,
    SetAppendix,
    SetAssetClaimer,
    SetErrorHandler,
    SetTopic,
    Transact,
    TransferAsset,
    TransferReserveAsset,
    Trap,
    UnpaidExecution,
    Weight,
    WithdrawAsset,
    Xcm,
)

RELAY_TOKEN = Location.parent()
LOCAL_ASSET = Location(0, (PalletInstance(50), GeneralIndex(1984)))  # an Assets-pallet asset, seen from its chain
# Call bytes that are not UTF-8: scalecodec decodes a Vec<u8> that is valid UTF-8 as text, anything else as hex.
CALL = b"\xff\xfe\x00\x01"

# One of every instruction we model, with networks every version can name (version-specific ones are tested apart).
EVERY_INSTRUCTION: tuple[Instruction, ...] = (
    WithdrawAsset((Asset(RELAY_TOKEN, 5), Asset(LOCAL_ASSET, 7))),  # deliberately out of canonical order
    ReserveAssetDeposited((Asset(RELAY_TOKEN, 1),)),
    ReceiveTeleportedAsset((Asset(RELAY_TOKEN, 1),)),
    ClearOrigin(),
    DescendOrigin((PalletInstance(50),)),
    BuyExecution(Asset(RELAY_TOKEN, 1), Weight(10**9, 65_536)),
    DepositAsset(AllOf(RELAY_TOKEN), Location.account20(b"\x11" * 20, NetworkId.POLKADOT), 2),
    DepositAsset(AllAssets(), Location.account32(b"\x22" * 32)),
    DepositReserveAsset(Definite((Asset(LOCAL_ASSET, 1),)), Location.sibling(1000), Xcm.of(ClearOrigin())),
    InitiateReserveWithdraw(AllAssets(), RELAY_TOKEN, Xcm.of(ClearOrigin())),
    InitiateTeleport(AllOf(RELAY_TOKEN), RELAY_TOKEN, Xcm.of(RefundSurplus())),
    TransferAsset((Asset(RELAY_TOKEN, 1),), Location.account32(b"\x22" * 32, NetworkId.KUSAMA)),
    TransferReserveAsset((Asset(RELAY_TOKEN, 1),), Location.sibling(2000), Xcm.of(RefundSurplus())),
    Transact(OriginKind.SOVEREIGN_ACCOUNT, CALL, Weight(1_000, 2_000)),
    RefundSurplus(),
    SetErrorHandler(Xcm.of(ClearError())),
    SetAppendix(Xcm.of(Trap(1))),
    ReportError(7, RELAY_TOKEN, Weight(5, 6)),
    ClearError(),
    Trap(9),
    ClaimAsset((Asset(RELAY_TOKEN, 3),)),
    SetTopic(b"\xab" * 32),
    ClearTopic(),
    UnpaidExecution(Weight(10, 20), Location.parent()),
    UnpaidExecution(),
    BurnAsset((Asset(LOCAL_ASSET, 2),)),
    PayFees(Asset(RELAY_TOKEN, 4)),
    SetAssetClaimer(Location(0, (AccountKey20(b"\x33" * 20),))),
)

# Our instruction classes whose metadata variant has another name.
METADATA_NAME = {"SetAssetClaimer": "SetHints"}


def metadata_name(instruction: Instruction) -> str:
    name = type(instruction).__name__
    return METADATA_NAME.get(name, name)


def as_decoded(value: Any) -> Any:
    """Our value in the shape scalecodec decodes to: one-field tuple structs (`Xcm`, asset lists, BoundedVec) are a
    list inside a list when encoding but decode to the inner list; tuples (V3's `X2(a, b)`) decode as tuples."""
    if isinstance(value, dict):
        return {k: as_decoded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 1 and isinstance(value[0], list):
            return as_decoded(value[0])
        return [as_decoded(v) for v in value]
    return value


def lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [lists(v) for v in value]
    return value
