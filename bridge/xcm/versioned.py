"""Versioned wrappers (`VersionedXcm`, `VersionedLocation`, `VersionedAssets`): pick the version, encode.

Each XCM version has an encoder (`v2` module functions, `V3Encoder`, `V4Encoder`, `V5Encoder`). The *index* of each
version's variant in the wrappers is fixed by the codec on every runtime; the *name* is not: statemine 900 (the
devnet) calls the V2-era location and asset-list variant (index 1) `V1`, Polkadot's runtimes call it `V2`, and a
runtime lists only the versions it speaks. So names come from the target runtime's metadata:
`VariantNames.from_type_registry(portable registry types)`. `DEFAULT_NAMES` are the devnet's for V2 and the names
every runtime so far gives V3-V5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from bridge.xcm import v2
from bridge.xcm.asset import Asset
from bridge.xcm.errors import XcmDecodeError, XcmVersionError
from bridge.xcm.instructions import Xcm
from bridge.xcm.location import Location
from bridge.xcm.scale import ScaleValue
from bridge.xcm.v3 import V3Encoder
from bridge.xcm.v4 import V4Encoder
from bridge.xcm.v5 import V5Encoder


class XcmVersion(IntEnum):
    V2 = 2
    V3 = 3
    V4 = 4
    V5 = 5


# SCALE index of each version's variant: `VersionedXcm` uses the version number; `VersionedLocation` and
# `VersionedAssets` use 1 for V2 (it reused V1's types) and the version number after that.
_XCM_INDEX = {v: int(v) for v in XcmVersion}
_LOCATION_INDEX = {XcmVersion.V2: 1, XcmVersion.V3: 3, XcmVersion.V4: 4, XcmVersion.V5: 5}

# Type paths of the wrappers in scale-info metadata (older runtimes used the Multi* names).
_PATHS = {
    "xcm": ("xcm::VersionedXcm",),
    "location": ("xcm::VersionedLocation", "xcm::VersionedMultiLocation"),
    "assets": ("xcm::VersionedAssets", "xcm::VersionedMultiAssets"),
}


@dataclass(frozen=True)
class VariantNames:
    """How a runtime names its wrappers' variants, by SCALE index."""

    xcm: Mapping[int, str]
    location: Mapping[int, str]
    assets: Mapping[int, str]

    @classmethod
    def from_type_registry(cls, types: Iterable[Mapping[str, Any]]) -> VariantNames:
        """From the runtime's scale-info types, as decoded (`metadata.portable_registry.value["types"]`: a list of
        `{"id", "type": {"path", "def": {"variant": {"variants": [{"name", "index"}, ...]}}}}`)."""
        found: dict[str, dict[int, str]] = {}
        for entry in types:
            ty = entry["type"]
            path = "::".join(ty["path"])
            for kind, paths in _PATHS.items():
                if path in paths and "variant" in ty["def"]:
                    variants = {int(v["index"]): str(v["name"]) for v in ty["def"]["variant"]["variants"]}
                    if found.setdefault(kind, variants) != variants:
                        raise XcmDecodeError(f"two {path} types with different variants")
        missing = sorted(set(_PATHS) - set(found))
        if missing:
            raise XcmDecodeError(f"the metadata has no versioned XCM wrapper for {', '.join(missing)}")
        return cls(xcm=found["xcm"], location=found["location"], assets=found["assets"])

    def versions(self) -> frozenset[XcmVersion]:
        """The XCM versions all three wrappers have a variant for."""
        return frozenset(
            v
            for v in XcmVersion
            if _XCM_INDEX[v] in self.xcm and _LOCATION_INDEX[v] in self.location and _LOCATION_INDEX[v] in self.assets
        )

    def name(self, kind: str, version: XcmVersion) -> str:
        variants: Mapping[int, str] = getattr(self, kind)
        index = (_XCM_INDEX if kind == "xcm" else _LOCATION_INDEX)[version]
        try:
            return variants[index]
        except KeyError:
            spoken = ", ".join(f"V{int(v)}" for v in sorted(self.versions())) or "none"
            raise XcmVersionError(int(version), f"a Versioned{kind.title()}", f"the runtime speaks {spoken}") from None

    def version_of(self, kind: str, variant_name: str) -> XcmVersion:
        """The XCM version of a decoded wrapper's variant name (e.g. "V1" on the devnet is V2)."""
        variants: Mapping[int, str] = getattr(self, kind)
        table = _XCM_INDEX if kind == "xcm" else _LOCATION_INDEX
        for version, index in table.items():
            if variants.get(index) == variant_name:
                return version
        raise XcmDecodeError(f"no XCM version has the Versioned{kind.title()} variant {variant_name!r} here")


DEFAULT_NAMES = VariantNames(
    xcm={2: "V2", 3: "V3", 4: "V4", 5: "V5"},
    location={1: "V1", 3: "V3", 4: "V4", 5: "V5"},
    assets={1: "V1", 3: "V3", 4: "V4", 5: "V5"},
)


class VersionEncoder(Protocol):
    def location(self, loc: Location) -> ScaleValue: ...

    def assets(self, items: tuple[Asset, ...]) -> ScaleValue: ...

    def xcm(self, program: Xcm) -> ScaleValue: ...


class _V2Encoder:
    def location(self, loc: Location) -> ScaleValue:
        return v2.location(loc)

    def assets(self, items: tuple[Asset, ...]) -> ScaleValue:
        return v2.assets(items)

    def xcm(self, program: Xcm) -> ScaleValue:
        return v2.xcm(program)


_ENCODERS: dict[XcmVersion, VersionEncoder] = {
    XcmVersion.V2: _V2Encoder(),
    XcmVersion.V3: V3Encoder(),
    XcmVersion.V4: V4Encoder(),
    XcmVersion.V5: V5Encoder(),
}


def encoder(version: XcmVersion) -> VersionEncoder:
    return _ENCODERS[XcmVersion(version)]


def versioned_xcm(program: Xcm, version: XcmVersion = XcmVersion.V2, names: VariantNames = DEFAULT_NAMES) -> ScaleValue:
    """The value of a `VersionedXcm` (e.g. `PolkadotXcm.send`'s `message`, or a downward message)."""
    return {names.name("xcm", version): encoder(version).xcm(program)}


def versioned_location(
    loc: Location, version: XcmVersion = XcmVersion.V2, names: VariantNames = DEFAULT_NAMES
) -> ScaleValue:
    """The value of a `VersionedLocation` (e.g. `PolkadotXcm.send`'s `dest`)."""
    return {names.name("location", version): encoder(version).location(loc)}


def versioned_assets(
    items: tuple[Asset, ...], version: XcmVersion = XcmVersion.V2, names: VariantNames = DEFAULT_NAMES
) -> ScaleValue:
    """The value of a `VersionedAssets` (e.g. `PolkadotXcm.limited_reserve_transfer_assets`'s `assets`)."""
    return {names.name("assets", version): encoder(version).assets(items)}
