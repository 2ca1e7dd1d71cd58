"""The optional [committee] section of node.toml and what the enclave process makes of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.config import ConfigError, NodeConfig, parse_config
from enclave_signer.measurement import current_measurement
from enclave_signer.process.setup import EnclaveStartError, committee_config, parts_of

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()


def _committee(seed: Path, extra: str = "", members: str = "[1, 2, 3]") -> str:
    return (
        EXAMPLE
        + f"""
[committee]
members = {members}
threshold = 2
platform_seed_file = "{seed}"
trusted_roots = {{ "node-1" = "{"ab" * 32}" }}
allowed_measurements = ["{current_measurement().hex()}"]
{extra}
"""
    )


def test_the_committee_section_is_optional_and_validated(tmp_path: Path) -> None:
    assert parse_config(EXAMPLE, NodeConfig, source="node.toml").committee is None
    seed = tmp_path / "seed"
    cfg = parse_config(_committee(seed), NodeConfig, source="node.toml")
    assert cfg.committee is not None and cfg.committee.members == [1, 2, 3] and cfg.committee.epoch == 1
    with pytest.raises(ConfigError, match=r"member_index 1 is not in committee\.members"):
        parse_config(_committee(seed, members="[2, 3]"), NodeConfig, source="node.toml")
    with pytest.raises(ConfigError, match="static_chain_file"):
        parse_config(_committee(seed, 'verifier = "static"'), NodeConfig, source="node.toml")
    with pytest.raises(ConfigError, match="unknown key 'treshold'"):
        parse_config(_committee(seed, "treshold = 3"), NodeConfig, source="node.toml")
    # `skipped` strikes come once per omission grace: they must be able to add up within the distrust window.
    with pytest.raises(ConfigError, match=r"omission_grace_ms x \(distrust_strikes - 1\) must be below"):
        parse_config(_committee(seed, "omission_grace_ms = 150000"), NodeConfig, source="node.toml")
    cfg = parse_config(_committee(seed, "omission_grace_ms = 20000"), NodeConfig, source="node.toml")
    assert cfg.committee is not None and committee_config(cfg, cfg.committee).omission_grace == 20.0


def test_start_up_problems_are_one_clear_sentence(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    cfg = parse_config(_committee(seed), NodeConfig, source="node.toml")
    with pytest.raises(EnclaveStartError, match="cannot read the platform seed file"):
        parts_of(cfg)
    seed.write_text("ab" * 32)
    os.chmod(seed, 0o644)
    with pytest.raises(EnclaveStartError, match="chmod 600"):
        parts_of(cfg)
    os.chmod(seed, 0o600)
    parts = parts_of(cfg)
    assert parts.platform.platform_id == "node-1" and parts.transport_config.presence_id == "1"
    assert parts.transport_config.wait_for_peers == ("2", "3")
    no_committee = parse_config(EXAMPLE, NodeConfig, source="node.toml")
    with pytest.raises(EnclaveStartError, match=r"no \[committee\] section"):
        parts_of(no_committee)
