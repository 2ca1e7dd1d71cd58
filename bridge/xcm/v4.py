"""XCM V4 encoder. What changed from V3 (for what we model): every `Junctions` arm is an array (`X1([j])`), and
`AssetId` is the location itself (no `Concrete`/`Abstract`). Instructions are V3's. Checked against Polkadot's and
Kusama's metadata (see tests/unit/xcm)."""

from __future__ import annotations

from bridge.xcm.location import Junction, Location
from bridge.xcm.scale import ScaleValue
from bridge.xcm.v3 import V3Encoder


class V4Encoder(V3Encoder):
    version = 4

    def junctions(self, interior: tuple[Junction, ...]) -> ScaleValue:
        if not interior:
            return "Here"
        return {f"X{len(interior)}": [self.junction(j) for j in interior]}

    def asset_id(self, loc: Location) -> ScaleValue:
        return self.location(loc)
