"""XCM V2 encoder: version-independent values -> the plain values scalecodec takes for V2 types.

V2 keeps V1's `MultiLocation`, `MultiAsset` and `MultiAssets`. Checked against the Rococo Asset Hub runtime
(statemine 900) that the devnet runs, and against Polkadot's metadata (spec 1002005), which still has V2. The wrapper
types `MultiAssets` and `Xcm` are single-field tuple structs, so their value is a list inside a list.

V2 has no `GlobalConsensus`, no Westend/Rococo/Ethereum network, no topics and no unpaid execution: those are refused
with an `XcmVersionError`.
"""

from __future__ import annotations

import itertools

from bridge.xcm import instructions as ix
from bridge.xcm.asset import AllAssets, AllOf, Asset, AssetFilter, Definite
from bridge.xcm.errors import XcmEncodeError, XcmVersionError
from bridge.xcm.location import (
    AccountId32,
    AccountKey20,
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

VERSION = 2
_U64 = 2**64
# Variant indices, for the canonical asset order the runtime checks when it decodes `MultiAssets`.
_NETWORK_INDEX: dict[Network | None, int] = {None: 0, NetworkId.POLKADOT: 2, NetworkId.KUSAMA: 3}
_JUNCTION_INDEX = {Parachain: 0, AccountId32: 1, AccountKey20: 3, PalletInstance: 4, GeneralIndex: 5}


def network(value: Network | None) -> ScaleValue:
    if value is None:
        return "Any"
    if value in (NetworkId.POLKADOT, NetworkId.KUSAMA):
        return str(value)
    raise XcmVersionError(VERSION, f"network {value}", "V2 names only Polkadot and Kusama")


def junction(j: Junction) -> ScaleValue:
    match j:
        case Parachain(id=para_id):
            return {"Parachain": para_id}
        case AccountId32(id=account, network=net):
            return {"AccountId32": {"network": network(net), "id": hex_bytes(account)}}
        case AccountKey20(key=key, network=net):
            return {"AccountKey20": {"network": network(net), "key": hex_bytes(key)}}
        case PalletInstance(index=index):
            return {"PalletInstance": index}
        case GeneralIndex(index=index):
            return {"GeneralIndex": index}
        case GlobalConsensus():
            raise XcmVersionError(VERSION, "GlobalConsensus", "added in V3")


def junctions(interior: tuple[Junction, ...]) -> ScaleValue:
    if not interior:
        return "Here"
    if len(interior) == 1:
        return {"X1": junction(interior[0])}
    return {f"X{len(interior)}": [junction(j) for j in interior]}


def location(loc: Location) -> ScaleValue:
    return {"parents": loc.parents, "interior": junctions(loc.interior)}


def asset(a: Asset) -> ScaleValue:
    return {"id": {"Concrete": location(a.id)}, "fun": {"Fungible": a.amount}}


def assets(items: tuple[Asset, ...]) -> ScaleValue:
    """`MultiAssets`: the runtime refuses to decode it unless sorted by id with no id twice, so sort here."""
    ordered = sorted(items, key=lambda a: _location_key(a.id))
    for prev, cur in itertools.pairwise(ordered):
        if prev.id == cur.id:
            raise XcmEncodeError(f"asset {cur.id} appears twice; merge the amounts")
    return [[asset(a) for a in ordered]]


def asset_filter(f: AssetFilter) -> ScaleValue:
    match f:
        case Definite(assets=items):
            return {"Definite": assets(items)}
        case AllAssets():
            return {"Wild": "All"}
        case AllOf(id=asset_id):
            return {"Wild": {"AllOf": {"id": {"Concrete": location(asset_id)}, "fun": "Fungible"}}}


def weight(w: ix.Weight) -> int:
    return w.ref_time  # u64 by construction; V2 meters no proof size


def weight_limit(limit: ix.Weight | None) -> ScaleValue:
    return "Unlimited" if limit is None else {"Limited": weight(limit)}


def xcm(program: ix.Xcm) -> ScaleValue:
    return [[instruction(i) for i in program]]


def instruction(i: ix.Instruction) -> ScaleValue:
    match i:
        case ix.WithdrawAsset() | ix.ReserveAssetDeposited() | ix.ReceiveTeleportedAsset():
            return {type(i).__name__: assets(i.assets)}
        case ix.ClearOrigin() | ix.RefundSurplus() | ix.ClearError():
            return type(i).__name__
        case ix.DescendOrigin(interior=interior):
            return {"DescendOrigin": junctions(interior)}
        case ix.BuyExecution(fees=fees, weight_limit=limit):
            return {"BuyExecution": {"fees": asset(fees), "weight_limit": weight_limit(limit)}}
        case ix.DepositAsset():
            return {"DepositAsset": _deposit(i.assets, i.max_assets, beneficiary=location(i.beneficiary))}
        case ix.DepositReserveAsset():
            fields = _deposit(i.assets, i.max_assets, dest=location(i.dest), xcm=xcm(i.xcm))
            return {"DepositReserveAsset": fields}
        case ix.InitiateReserveWithdraw():
            fields = {"assets": asset_filter(i.assets), "reserve": location(i.reserve), "xcm": xcm(i.xcm)}
            return {"InitiateReserveWithdraw": fields}
        case ix.InitiateTeleport():
            fields = {"assets": asset_filter(i.assets), "dest": location(i.dest), "xcm": xcm(i.xcm)}
            return {"InitiateTeleport": fields}
        case ix.TransferAsset():
            return {"TransferAsset": {"assets": assets(i.assets), "beneficiary": location(i.beneficiary)}}
        case ix.TransferReserveAsset():
            fields = {"assets": assets(i.assets), "dest": location(i.dest), "xcm": xcm(i.xcm)}
            return {"TransferReserveAsset": fields}
        case ix.Transact(require_weight_at_most=w):
            if w is None:
                raise XcmVersionError(VERSION, "Transact without require_weight_at_most", "V2 needs the weight")
            fields = {"origin_type": i.origin_kind.value, "require_weight_at_most": weight(w), "call": _call(i.call)}
            return {"Transact": fields}
        case ix.SetErrorHandler(xcm=inner) | ix.SetAppendix(xcm=inner):
            return {type(i).__name__: xcm(inner)}
        case ix.ReportError():
            fields = {
                "query_id": _u64("query_id", i.query_id),
                "dest": location(i.destination),
                "max_response_weight": weight(i.max_response_weight),
            }
            return {"ReportError": fields}
        case ix.Trap(code=code):
            return {"Trap": _u64("Trap code", code)}
        case ix.ClaimAsset():
            return {"ClaimAsset": {"assets": assets(i.assets), "ticket": location(i.ticket)}}
        case ix.SetTopic() | ix.ClearTopic() | ix.UnpaidExecution() | ix.BurnAsset():
            raise XcmVersionError(VERSION, type(i).__name__, "added in V3")
        case ix.PayFees() | ix.SetAssetClaimer():
            raise XcmVersionError(VERSION, type(i).__name__, "added in V5")


def _call(raw: bytes) -> ScaleValue:
    return {"encoded": hex_bytes(raw)}


def _deposit(f: AssetFilter, max_assets: int | None, **rest: ScaleValue) -> dict[str, ScaleValue]:
    count = 1 if max_assets is None else max_assets
    if not 1 <= count < 2**32:
        raise XcmEncodeError(f"max_assets must be in [1, 2^32), got {count}")
    return {"assets": asset_filter(f), "max_assets": count, **rest}


def _network_index(net: Network | None) -> int:
    network(net)  # refuses a network V2 cannot name
    return _NETWORK_INDEX[net]


def _u64(what: str, value: int) -> int:
    if not 0 <= value < _U64:
        raise XcmEncodeError(f"{what} must fit in u64, got {value}")
    return value


def _location_key(loc: Location) -> tuple[object, ...]:
    # Rust's derived Ord: parents, then the Junctions variant (= length), then each junction (variant, fields).
    return (loc.parents, len(loc.interior), tuple(_junction_key(j) for j in loc.interior))


def _junction_key(j: Junction) -> tuple[object, ...]:
    match j:
        case AccountId32(id=raw, network=net) | AccountKey20(key=raw, network=net):
            return (_JUNCTION_INDEX[type(j)], _network_index(net), raw)
        case Parachain(id=n) | PalletInstance(index=n) | GeneralIndex(index=n):
            return (_JUNCTION_INDEX[type(j)], n)
        case GlobalConsensus():
            raise XcmVersionError(VERSION, "GlobalConsensus", "added in V3")
