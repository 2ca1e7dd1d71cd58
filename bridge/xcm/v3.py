"""XCM V3 encoder: version-independent values -> the plain values scalecodec takes for V3 types.

What V3 changed from V2 (the parts we model): junction networks are optional (`None` replaces `Any`) and add
`GlobalConsensus`, Westend, Rococo and Ethereum; weights are `Weight { ref_time, proof_size }` (both compact);
`DepositAsset` lost `max_assets` (a count becomes `AllCounted`/`AllOfCounted`); `ReportError` takes a
`QueryResponseInfo`; `Transact` names its field `origin_kind`; new instructions `SetTopic`, `ClearTopic`,
`UnpaidExecution`, `BurnAsset`. Checked against Polkadot's and Kusama's metadata (see tests/unit/xcm).

V4 and V5 subclass `V3Encoder` and override only what changed in them.
"""

from __future__ import annotations

import itertools

from bridge.xcm import instructions as ix
from bridge.xcm.asset import AllAssets, AllOf, Asset, AssetFilter, Definite
from bridge.xcm.errors import XcmEncodeError, XcmVersionError
from bridge.xcm.location import (
    AccountId32,
    AccountKey20,
    EthereumNetwork,
    GeneralIndex,
    GlobalConsensus,
    Junction,
    Location,
    Network,
    NetworkId,
    PalletInstance,
    Parachain,
)
from bridge.xcm.scale import ScaleValue, hex_bytes

_U32 = 2**32
_U64 = 2**64
# Declaration order (= SCALE index) of the V3+ enums, for Rust's derived Ord, which decides the canonical order of
# an asset list (the runtime refuses to decode an unsorted one).
_NETWORK_INDEX = {NetworkId.POLKADOT: 2, NetworkId.KUSAMA: 3, NetworkId.WESTEND: 4, NetworkId.ROCOCO: 5}
_ETHEREUM_INDEX = 7
_JUNCTION_INDEX = {
    Parachain: 0, AccountId32: 1, AccountKey20: 3, PalletInstance: 4, GeneralIndex: 5, GlobalConsensus: 9,
}  # fmt: skip


class V3Encoder:
    version = 3

    # -- locations -------------------------------------------------------------------------------------------------

    def network(self, value: Network) -> ScaleValue:
        match value:
            case EthereumNetwork(chain_id=chain_id):
                return {"Ethereum": {"chain_id": chain_id}}
            case NetworkId():
                return str(value)

    def junction(self, j: Junction) -> ScaleValue:
        match j:
            case Parachain(id=para_id):
                return {"Parachain": para_id}
            case AccountId32(id=account, network=net):
                return {"AccountId32": {"network": self._optional_network(net), "id": hex_bytes(account)}}
            case AccountKey20(key=key, network=net):
                return {"AccountKey20": {"network": self._optional_network(net), "key": hex_bytes(key)}}
            case PalletInstance(index=index):
                return {"PalletInstance": index}
            case GeneralIndex(index=index):
                return {"GeneralIndex": index}
            case GlobalConsensus(network=net):
                return {"GlobalConsensus": self.network(net)}

    def junctions(self, interior: tuple[Junction, ...]) -> ScaleValue:
        """V3 `Junctions`: `X1(Junction)`, `X2(Junction, Junction)`, ... (V4 made every arm an array)."""
        if not interior:
            return "Here"
        if len(interior) == 1:
            return {"X1": self.junction(interior[0])}
        return {f"X{len(interior)}": [self.junction(j) for j in interior]}

    def location(self, loc: Location) -> ScaleValue:
        return {"parents": loc.parents, "interior": self.junctions(loc.interior)}

    # -- assets ----------------------------------------------------------------------------------------------------

    def asset_id(self, loc: Location) -> ScaleValue:
        return {"Concrete": self.location(loc)}

    def asset(self, a: Asset) -> ScaleValue:
        return {"id": self.asset_id(a.id), "fun": {"Fungible": a.amount}}

    def assets(self, items: tuple[Asset, ...]) -> ScaleValue:
        """Sorted by id, each id once: the only order the runtime decodes."""
        ordered = sorted(items, key=lambda a: self.location_key(a.id))
        for prev, cur in itertools.pairwise(ordered):
            if prev.id == cur.id:
                raise XcmEncodeError(f"asset {cur.id} appears twice; merge the amounts")
        return [[self.asset(a) for a in ordered]]

    def asset_filter(self, f: AssetFilter, count: int | None = None) -> ScaleValue:
        if count is not None and not 0 <= count < _U32:
            raise XcmEncodeError(f"max_assets must fit in u32, got {count}")
        match f:
            case Definite(assets=items):
                return {"Definite": self.assets(items)}
            case AllAssets():
                return {"Wild": "All" if count is None else {"AllCounted": count}}
            case AllOf(id=asset_id):
                fields: dict[str, ScaleValue] = {"id": self.asset_id(asset_id), "fun": "Fungible"}
                if count is None:
                    return {"Wild": {"AllOf": fields}}
                return {"Wild": {"AllOfCounted": {**fields, "count": count}}}

    # -- weights and programs --------------------------------------------------------------------------------------

    def weight(self, w: ix.Weight) -> ScaleValue:
        return {"ref_time": w.ref_time, "proof_size": w.proof_size}

    def weight_limit(self, limit: ix.Weight | None) -> ScaleValue:
        return "Unlimited" if limit is None else {"Limited": self.weight(limit)}

    def xcm(self, program: ix.Xcm) -> ScaleValue:
        return [[self.instruction(i) for i in program]]

    def instruction(self, i: ix.Instruction) -> ScaleValue:
        name = type(i).__name__
        match i:
            case ix.WithdrawAsset() | ix.ReserveAssetDeposited() | ix.ReceiveTeleportedAsset() | ix.BurnAsset():
                return {name: self.assets(i.assets)}
            case ix.ClearOrigin() | ix.RefundSurplus() | ix.ClearError() | ix.ClearTopic():
                return name
            case ix.DescendOrigin(interior=interior):
                return {name: self.junctions(interior)}
            case ix.BuyExecution(fees=fees, weight_limit=limit):
                return {name: {"fees": self.asset(fees), "weight_limit": self.weight_limit(limit)}}
            case ix.DepositAsset():
                fields = {"assets": self.asset_filter(i.assets, i.max_assets)}
                return {name: {**fields, "beneficiary": self.location(i.beneficiary)}}
            case ix.DepositReserveAsset():
                fields = {"assets": self.asset_filter(i.assets, i.max_assets), "dest": self.location(i.dest)}
                return {name: {**fields, "xcm": self.xcm(i.xcm)}}
            case ix.InitiateReserveWithdraw():
                fields = {"assets": self.asset_filter(i.assets), "reserve": self.location(i.reserve)}
                return {name: {**fields, "xcm": self.xcm(i.xcm)}}
            case ix.InitiateTeleport():
                fields = {"assets": self.asset_filter(i.assets), "dest": self.location(i.dest)}
                return {name: {**fields, "xcm": self.xcm(i.xcm)}}
            case ix.TransferAsset():
                return {name: {"assets": self.assets(i.assets), "beneficiary": self.location(i.beneficiary)}}
            case ix.TransferReserveAsset():
                fields = {"assets": self.assets(i.assets), "dest": self.location(i.dest)}
                return {name: {**fields, "xcm": self.xcm(i.xcm)}}
            case ix.Transact():
                return {name: self.transact(i)}
            case ix.SetErrorHandler(xcm=inner) | ix.SetAppendix(xcm=inner):
                return {name: self.xcm(inner)}
            case ix.ReportError():
                info = {
                    "destination": self.location(i.destination),
                    "query_id": _u64("query_id", i.query_id),
                    "max_weight": self.weight(i.max_response_weight),
                }
                return {name: info}
            case ix.Trap(code=code):
                return {name: _u64("Trap code", code)}
            case ix.ClaimAsset():
                return {name: {"assets": self.assets(i.assets), "ticket": self.location(i.ticket)}}
            case ix.SetTopic(topic=topic):
                return {name: hex_bytes(topic)}
            case ix.UnpaidExecution(weight_limit=limit, check_origin=origin):
                check = None if origin is None else self.location(origin)
                return {name: {"weight_limit": self.weight_limit(limit), "check_origin": check}}
            case ix.PayFees() | ix.SetAssetClaimer():
                return self.v5_instruction(i)

    def transact(self, i: ix.Transact) -> ScaleValue:
        if i.require_weight_at_most is None:
            raise XcmVersionError(self.version, "Transact without require_weight_at_most", "needed before V5")
        weight = self.weight(i.require_weight_at_most)
        return {"origin_kind": i.origin_kind.value, "require_weight_at_most": weight, "call": _call(i.call)}

    def v5_instruction(self, i: ix.PayFees | ix.SetAssetClaimer) -> ScaleValue:
        raise XcmVersionError(self.version, type(i).__name__, "added in V5")

    # -- canonical order -------------------------------------------------------------------------------------------

    def location_key(self, loc: Location) -> tuple[object, ...]:
        # Rust's derived Ord: parents, then the Junctions variant (= length), then each junction (variant, fields).
        return (loc.parents, len(loc.interior), tuple(self._junction_key(j) for j in loc.interior))

    def _junction_key(self, j: Junction) -> tuple[object, ...]:
        index = _JUNCTION_INDEX[type(j)]
        match j:
            case AccountId32(id=raw, network=net) | AccountKey20(key=raw, network=net):
                return (index, () if net is None else (1, *self._network_key(net)), raw)
            case Parachain(id=n) | PalletInstance(index=n) | GeneralIndex(index=n):
                return (index, n)
            case GlobalConsensus(network=net):
                return (index, *self._network_key(net))

    def _network_key(self, net: Network) -> tuple[int, ...]:
        self.network(net)  # refuses a network this version cannot name
        if isinstance(net, EthereumNetwork):
            return (_ETHEREUM_INDEX, net.chain_id)
        return (_NETWORK_INDEX[net],)

    def _optional_network(self, net: Network | None) -> ScaleValue:
        return None if net is None else self.network(net)


def _call(raw: bytes) -> ScaleValue:
    return {"encoded": hex_bytes(raw)}


def _u64(what: str, value: int) -> int:
    if not 0 <= value < _U64:
        raise XcmEncodeError(f"{what} must fit in u64, got {value}")
    return value
