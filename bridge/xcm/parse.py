"""Decoded chain values (as scalecodec returns them from events and storage) -> locations and assets.

One reader for every version: V1/V2 (`network: "Any"`, `X1(junction)`, `Concrete(location)` ids), V3 (optional
networks, `X2` as a tuple) and V4/V5 (`X1([junction])`, the location itself as the id). Whatever this package does
not model (non-fungible or abstract assets, other junctions), and any malformed value (a chain reply can be
hostile), is refused with an `XcmDecodeError` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridge.xcm.asset import Asset
from bridge.xcm.errors import XcmDecodeError, XcmError
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

# What a malformed value makes `int`, `bytes.fromhex`, indexing or unpacking raise; mapped to XcmDecodeError.
_MALFORMED = (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError)


def _show(value: Any) -> str:
    """A bounded repr for error messages: the value comes from the chain and may be huge."""
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def versioned_parts(value: Any) -> tuple[str, Any]:
    """`{"V3": inner}` -> `("V3", inner)`."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, inner),) = value.items()
        return str(name), inner
    raise XcmDecodeError(f"not a versioned value: {_show(value)}")


def location_from_value(value: Any) -> Location:
    try:
        parents = int(value["parents"])
        return Location(parents, _junctions(value["interior"]))
    except XcmError as exc:  # before _MALFORMED: XcmError is a ValueError
        raise XcmDecodeError(f"not a location we model: {exc}") from exc
    except _MALFORMED as exc:
        raise XcmDecodeError(f"not a location: {_show(value)}") from exc


def asset_from_value(value: Any) -> Asset:
    try:
        raw_id, fun = value["id"], value["fun"]
    except (KeyError, TypeError) as exc:
        raise XcmDecodeError(f"not an asset: {_show(value)}") from exc
    if isinstance(raw_id, Mapping) and "Concrete" in raw_id:  # V1-V3
        raw_id = raw_id["Concrete"]
    if not (isinstance(raw_id, Mapping) and "parents" in raw_id):
        raise XcmDecodeError(f"only assets identified by a location are modelled, got id {_show(raw_id)}")
    if not (isinstance(fun, Mapping) and set(fun) == {"Fungible"}):
        raise XcmDecodeError(f"only fungible assets are modelled, got {_show(fun)}")
    location = location_from_value(raw_id)
    try:
        return Asset(location, int(fun["Fungible"]))
    except XcmError as exc:  # an amount outside u128
        raise XcmDecodeError(f"not an asset we model: {exc}") from exc
    except _MALFORMED as exc:
        raise XcmDecodeError(f"not an asset amount: {_show(fun)}") from exc


def assets_from_value(value: Any) -> tuple[Asset, ...]:
    """An asset list as decoded (`[asset, ...]`) or as our encoders write it (`[[asset, ...]]`)."""
    if isinstance(value, Sequence) and len(value) == 1 and isinstance(value[0], Sequence):
        value = value[0]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise XcmDecodeError(f"not an asset list: {_show(value)}")
    return tuple(asset_from_value(a) for a in value)


def network_from_value(value: Any) -> Network | None:
    try:
        return _network(value)
    except XcmDecodeError:
        raise
    except XcmError as exc:
        raise XcmDecodeError(f"not a network we model: {exc}") from exc
    except _MALFORMED as exc:
        raise XcmDecodeError(f"not a network: {_show(value)}") from exc


def _network(value: Any) -> Network | None:
    if value is None or value == "Any":
        return None
    if isinstance(value, str):
        try:
            return NetworkId(value)
        except ValueError:
            raise XcmDecodeError(f"network {value:.80} is not modelled") from None
    if isinstance(value, Mapping) and set(value) == {"Ethereum"}:
        return EthereumNetwork(int(value["Ethereum"]["chain_id"]))
    raise XcmDecodeError(f"network {_show(value)} is not modelled")


def junction_from_value(value: Any) -> Junction:
    try:
        return _junction(value)
    except XcmDecodeError:
        raise
    except XcmError as exc:
        raise XcmDecodeError(f"not a junction we model: {exc}") from exc
    except _MALFORMED as exc:
        raise XcmDecodeError(f"not a junction: {_show(value)}") from exc


def _junction(value: Any) -> Junction:
    if not (isinstance(value, Mapping) and len(value) == 1):
        raise XcmDecodeError(f"junction {_show(value)} is not modelled")
    ((kind, inner),) = value.items()
    match kind:
        case "Parachain":
            return Parachain(int(inner))
        case "AccountId32":
            return AccountId32(_bytes(inner["id"]), network_from_value(inner["network"]))
        case "AccountKey20":
            return AccountKey20(_bytes(inner["key"]), network_from_value(inner["network"]))
        case "PalletInstance":
            return PalletInstance(int(inner))
        case "GeneralIndex":
            return GeneralIndex(int(inner))
        case "GlobalConsensus":
            network = network_from_value(inner)
            if network is None:
                raise XcmDecodeError("GlobalConsensus needs a network")
            return GlobalConsensus(network)
    raise XcmDecodeError(f"junction {kind!s:.80} is not modelled")


def _junctions(value: Any) -> tuple[Junction, ...]:
    if value == "Here":
        return ()
    name, inner = versioned_parts(value)  # {"X<n>": ...}
    if not (name.startswith("X") and name[1:].isdigit()):
        raise XcmDecodeError(f"not a junctions value: {_show(value)}")
    count = int(name[1:])
    items = [inner] if count == 1 and isinstance(inner, Mapping) else list(inner)  # V1-V3 X1 holds one junction
    if len(items) != count:
        raise XcmDecodeError(f"{name} with {len(items)} junctions")
    return tuple(junction_from_value(j) for j in items)


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(str(value).removeprefix("0x"))
