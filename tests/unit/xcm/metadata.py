"""Real runtime metadata from `@polkadot/types-support` (no node): the type registry of Polkadot and Kusama relay
runtimes and Kusama Asset Hub, used to encode our values with the real types and decode them back.

The `*-hex.js` files hold `state_getMetadata` (V14: b"meta" + 14 + metadata) or `Metadata_metadata_at_version`
(V15: Option<OpaqueMetadata>, so a compact length first). scalecodec 1.2 reads metadata V14 only, but V14 and V15
both start with the scale-info `PortableRegistry`, which is all encoding needs: we decode just that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

from bridge.xcm import VariantNames, XcmVersion

ROOT = Path(__file__).resolve().parents[3]
METADATA_DIR = ROOT / "node_modules" / "@polkadot" / "types-support" / "metadata"

V2, V3, V4, V5 = XcmVersion.V2, XcmVersion.V3, XcmVersion.V4, XcmVersion.V5

# name -> (file, the XCM versions it speaks). The spec versions are in the matching *-ver.js files; the version sets
# are declared here and checked against the metadata by test_declared_support_matches_the_metadata.
RUNTIMES: dict[str, tuple[str, tuple[XcmVersion, ...]]] = {
    "polkadot-1002005": ("v14/polkadot-hex.js", (V2, V3, V4)),  # Polkadot relay, metadata V14
    "polkadot-2000000": ("v15/polkadot-hex.js", (V3, V4, V5)),  # Polkadot relay, metadata V15
    "asset-hub-kusama-1009003": ("v15/asset-hub-kusama-hex.js", (V3, V4, V5)),  # statemine, a parachain
}
PAIRS = [(name, version) for name, (_, versions) in RUNTIMES.items() for version in versions]
PAIR_IDS = [f"{name}-V{int(version)}" for name, version in PAIRS]


@dataclass
class Runtime:
    name: str
    config: RuntimeConfigurationObject
    types: list[dict[str, Any]]  # the portable registry, as decoded
    names: VariantNames

    def type_id(self, path: str) -> int:
        for entry in self.types:
            if "::".join(entry["type"]["path"]) == path:
                return int(entry["id"])
        raise KeyError(path)

    def encode(self, path: str, value: Any) -> bytes:
        obj = self.config.create_scale_object(f"scale_info::{self.type_id(path)}")
        return bytes(obj.encode(value).data)

    def decode(self, path: str, data: bytes) -> Any:
        obj = self.config.create_scale_object(f"scale_info::{self.type_id(path)}", data=ScaleBytes(data))
        return obj.decode()

    def variants(self, type_id: int) -> dict[str, dict[str, Any]]:
        ty = self._by_id(type_id)["def"]["variant"]["variants"]
        return {v["name"]: v for v in ty}

    def instruction_names(self, version: XcmVersion) -> set[str]:
        """The metadata's `Instruction` variant names for `version`, found by following VersionedXcm -> Xcm ->
        Vec -> Instruction (not by path, which moved between crates)."""
        versioned = self.variants(self.type_id("xcm::VersionedXcm"))
        xcm_type = versioned[self.names.name("xcm", version)]["fields"][0]["type"]
        vec_type = self._by_id(xcm_type)["def"]["composite"]["fields"][0]["type"]
        instruction = self._by_id(vec_type)["def"]["sequence"]["type"]
        return set(self.variants(instruction))

    def versions(self) -> frozenset[XcmVersion]:
        return self.names.versions()

    def _by_id(self, type_id: int) -> dict[str, Any]:
        return dict(self.types[type_id]["type"])


def available() -> bool:
    return METADATA_DIR.is_dir()


@cache
def load(name: str) -> Runtime:
    file, _ = RUNTIMES[name]
    text = (METADATA_DIR / file).read_text()
    match = re.search(r"'0x([0-9a-f]+)'", text)
    assert match, f"no metadata hex in {file}"
    raw = bytes.fromhex(match.group(1))
    start = raw.index(b"meta") + 5  # magic, then the metadata version byte
    assert raw[start - 1] in (14, 15), f"{file}: metadata version {raw[start - 1]}"
    config = RuntimeConfigurationObject()
    config.update_type_registry(load_type_registry_preset("core"))
    registry = config.create_scale_object("PortableRegistry", data=ScaleBytes(raw[start:]))
    registry.decode(check_remaining=False)  # the pallets etc. follow; only the types are needed
    config.update_from_scale_info_types(registry.value_object["types"].value_object, prefix="scale_info")
    types = registry.value["types"]
    assert [t["id"] for t in types] == list(range(len(types)))  # ids are positions (used by _by_id)
    return Runtime(name, config, types, VariantNames.from_type_registry(types))
