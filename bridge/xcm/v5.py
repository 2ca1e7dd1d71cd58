"""XCM V5 encoder. What changed from V4 (for what we model): `NetworkId` dropped Westend and Rococo (V5 names test
networks by genesis hash; refused here); `Transact` has no `require_weight_at_most`, only an optional
`fallback_max_weight` for V4 receivers; new `PayFees` and `SetHints { hints: [AssetClaimer { location }] }`
(our `SetAssetClaimer`). Checked against Polkadot's, Kusama's and Asset Hub's metadata (see tests/unit/xcm)."""

from __future__ import annotations

from bridge.xcm import instructions as ix
from bridge.xcm.errors import XcmVersionError
from bridge.xcm.location import Network, NetworkId
from bridge.xcm.scale import ScaleValue, hex_bytes
from bridge.xcm.v4 import V4Encoder


class V5Encoder(V4Encoder):
    version = 5

    def network(self, value: Network) -> ScaleValue:
        if value in (NetworkId.WESTEND, NetworkId.ROCOCO):
            raise XcmVersionError(self.version, f"network {value}", "removed in V5 (named by genesis hash there)")
        return super().network(value)

    def transact(self, i: ix.Transact) -> ScaleValue:
        limit = i.require_weight_at_most
        fallback = None if limit is None else self.weight(limit)
        call: ScaleValue = {"encoded": hex_bytes(i.call)}
        return {"origin_kind": i.origin_kind.value, "fallback_max_weight": fallback, "call": call}

    def v5_instruction(self, i: ix.PayFees | ix.SetAssetClaimer) -> ScaleValue:
        match i:
            case ix.PayFees(asset=fee):
                return {"PayFees": {"asset": self.asset(fee)}}
            case ix.SetAssetClaimer(location=claimer):
                # SetHints { hints: BoundedVec<Hint> }: a BoundedVec is a one-field tuple struct (a list in a list).
                return {"SetHints": {"hints": [[{"AssetClaimer": {"location": self.location(claimer)}}]]}}
