"""Ready-made programs for the routes that deliver on our chains (see docs/xcm.md)."""

from __future__ import annotations

from bridge.xcm.asset import AllAssets, Asset
from bridge.xcm.errors import XcmError
from bridge.xcm.instructions import (
    BuyExecution,
    ClaimAsset,
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


def claim_trapped(assets: tuple[Asset, ...], beneficiary: Location, fees: Asset | None = None) -> Xcm:
    """Sent by the origin that trapped `assets` (e.g. a sibling chain) to the chain holding them: put them back into
    holding (`ClaimAsset`, ticket `Here`), pay execution out of them and deposit the rest to `beneficiary`. The
    paid-execution barrier accepts `ClaimAsset` where it accepts `WithdrawAsset`. `assets` must be exactly what
    `PolkadotXcm.AssetsTrapped` reported (the trap is keyed by their hash); `fees` defaults to the first of them."""
    if not assets:
        raise XcmError("nothing to claim")
    return Xcm.of(
        ClaimAsset(assets),
        ClearOrigin(),
        BuyExecution(fees or assets[0], None),
        DepositAsset(AllAssets(), beneficiary, max_assets=len(assets)),
    )
