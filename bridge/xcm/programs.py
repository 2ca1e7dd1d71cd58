"""Ready-made programs for the routes that deliver on our chains (see docs/xcm.md)."""

from __future__ import annotations

from bridge.xcm.asset import AllAssets, Asset
from bridge.xcm.instructions import (
    BuyExecution,
    DepositAsset,
    OriginKind,
    Transact,
    Weight,
    WithdrawAsset,
    Xcm,
)
from bridge.xcm.location import Location


def pay_from_sovereign(asset: Asset, beneficiary: Location, weight_limit: Weight | None = None) -> Xcm:
    """Run on the destination as the sender's sovereign account: withdraw `asset` from it, pay execution out of it,
    deposit the rest to `beneficiary`. The barrier wants `WithdrawAsset` then `BuyExecution` first (paid
    execution), and no reserve is involved, so no reserve-trust rule applies."""
    return Xcm.of(
        WithdrawAsset((asset,)),
        BuyExecution(asset, weight_limit),
        DepositAsset(AllAssets(), beneficiary, max_assets=1),
    )


def superuser_transact(call: bytes, require_weight_at_most: Weight) -> Xcm:
    """Dispatch `call` as root on the receiver: a parachain accepts this (unpaid) only from its relay chain."""
    return Xcm.of(Transact(OriginKind.SUPERUSER, call, require_weight_at_most))
