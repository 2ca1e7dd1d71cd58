"""Extrinsic calls that take XCM values, described as plain data (pallet, function, params) for `compose_call`."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.xcm.asset import Asset
from bridge.xcm.location import Location
from bridge.xcm.scale import ScaleValue
from bridge.xcm.versioned import DEFAULT_NAMES, VariantNames, XcmVersion, versioned_assets, versioned_location


@dataclass(frozen=True)
class CallDescription:
    pallet: str
    function: str
    params: dict[str, ScaleValue]

    def __str__(self) -> str:
        return f"{self.pallet}.{self.function}({', '.join(f'{k}={v}' for k, v in self.params.items())})"


def claim_assets_call(
    assets: tuple[Asset, ...],
    beneficiary: Location,
    version: XcmVersion = XcmVersion.V3,
    names: VariantNames = DEFAULT_NAMES,
) -> CallDescription:
    """`PolkadotXcm.claim_assets(assets, beneficiary)`: claims what the *signer's own* location trapped (the trap
    is keyed by origin and assets), so it only helps when the trap's origin is a local account. Runtimes older than
    pallet-xcm's `claim_assets` (e.g. the devnet's) do not have it; an origin that is another chain claims with the
    `programs.claim_trapped` message instead."""
    params = {
        "assets": versioned_assets(assets, version, names),
        "beneficiary": versioned_location(beneficiary, version, names),
    }
    return CallDescription("PolkadotXcm", "claim_assets", params)
