"""Ready-made programs for the routes that deliver on our chains (see docs/xcm.md)."""

from __future__ import annotations

from bridge.xcm.asset import AllAssets, Asset
from bridge.xcm.instructions import (
    BuyExecution,
    ClearOrigin,
    DepositAsset,
    OriginKind,
    Transact,
    Weight,
    WithdrawAsset,
    Xcm,
)
from bridge.xcm.location import Location


def pay_from_sovereign(asset: Asset, beneficiary: Location, weight_limit: Weight | None = None) -> Xcm:
    """Run on the destination as the sender's sovereign account: withdraw `asset` from it, drop the origin (nothing
    after the withdrawal may act as that account), pay execution out of the asset, deposit the rest to
    `beneficiary`. This is the layout `InitiateReserveWithdraw` produces on a reserve, and the one the paid
    execution barrier accepts (WithdrawAsset, optional ClearOrigin, BuyExecution). No reserve is trusted here, so
    the runtime's reserve rule does not apply."""
    return Xcm.of(
        WithdrawAsset((asset,)),
        ClearOrigin(),
        BuyExecution(asset, weight_limit),
        DepositAsset(AllAssets(), beneficiary, max_assets=1),
    )


def superuser_transact(call: bytes, require_weight_at_most: Weight) -> Xcm:
    """Dispatch `call` as root on the receiver: a parachain accepts this (unpaid) only from its relay chain."""
    return Xcm.of(Transact(OriginKind.SUPERUSER, call, require_weight_at_most))
