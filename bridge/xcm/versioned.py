"""Versioned wrappers (`VersionedXcm`, `VersionedMultiLocation`, `VersionedMultiAssets`): pick the version, encode.

Each XCM version has its own encoder module; adding V3-V5 means adding a module with the `VersionEncoder` shape
and a line in `_ENCODERS`.

The variant names are the ones the target runtime's metadata uses, which are not always the XCM version: on
statemine 900 a V2-era location or asset list is the `V1` variant (V2 reused V1's types), while later runtimes
renamed that same variant (SCALE index 1) to `V2`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from bridge.xcm import v2
from bridge.xcm.asset import Asset
from bridge.xcm.errors import XcmEncodeError
from bridge.xcm.instructions import Xcm
from bridge.xcm.location import Location
from bridge.xcm.scale import ScaleValue


class XcmVersion(IntEnum):
    V2 = 2


class VersionEncoder(Protocol):
    def location(self, loc: Location) -> ScaleValue: ...

    def assets(self, items: tuple[Asset, ...]) -> ScaleValue: ...

    def xcm(self, program: Xcm) -> ScaleValue: ...


@dataclass(frozen=True)
class _VariantNames:
    xcm: str
    location: str
    assets: str


class _V2Encoder:
    def location(self, loc: Location) -> ScaleValue:
        return v2.location(loc)

    def assets(self, items: tuple[Asset, ...]) -> ScaleValue:
        return v2.assets(items)

    def xcm(self, program: Xcm) -> ScaleValue:
        return v2.xcm(program)


_ENCODERS: dict[XcmVersion, tuple[VersionEncoder, _VariantNames]] = {
    XcmVersion.V2: (_V2Encoder(), _VariantNames(xcm="V2", location="V1", assets="V1")),
}


def _encoder(version: XcmVersion) -> tuple[VersionEncoder, _VariantNames]:
    try:
        return _ENCODERS[version]
    except KeyError:
        raise XcmEncodeError(f"XCM version {int(version)} has no encoder yet") from None


def versioned_xcm(program: Xcm, version: XcmVersion = XcmVersion.V2) -> ScaleValue:
    """The value of a `VersionedXcm` (e.g. `PolkadotXcm.send`'s `message`, or a downward message)."""
    enc, names = _encoder(version)
    return {names.xcm: enc.xcm(program)}


def versioned_location(loc: Location, version: XcmVersion = XcmVersion.V2) -> ScaleValue:
    """The value of a `VersionedMultiLocation` (e.g. `PolkadotXcm.send`'s `dest`)."""
    enc, names = _encoder(version)
    return {names.location: enc.location(loc)}


def versioned_assets(items: tuple[Asset, ...], version: XcmVersion = XcmVersion.V2) -> ScaleValue:
    """The value of a `VersionedMultiAssets` (e.g. `PolkadotXcm.limited_reserve_transfer_assets`'s `assets`)."""
    enc, names = _encoder(version)
    return {names.assets: enc.assets(items)}
