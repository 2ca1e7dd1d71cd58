"""The [committee] section of node.toml (required) and what the enclave process makes of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.config import ConfigError, NodeConfig, parse_config
from enclave_signer.measurement import current_measurement
from enclave_signer.process.setup import EnclaveStartError, committee_config, parts_of

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
# The template without its [committee] (its last section, with its trusted_roots): each test writes its own.
WITHOUT_COMMITTEE = EXAMPLE[: EXAMPLE.index("\n[committee]\n")] + "\n"


def _committee(seed: Path, extra: str = "", members: str = "[1, 2, 3]") -> str:
    return (
        WITHOUT_COMMITTEE
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


def test_the_committee_section_is_required_and_validated(tmp_path: Path) -> None:
    # every member runs its enclave from this file: `config check` refuses one `enclave run` would refuse
    with pytest.raises(ConfigError, match=r"\[committee\]: missing value"):
        parse_config(WITHOUT_COMMITTEE, NodeConfig, source="node.toml")
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


def test_the_stall_grace_and_the_check_interval_are_validated(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    cfg = parse_config(_committee(seed), NodeConfig, source="node.toml")
    assert cfg.committee is not None
    default = committee_config(cfg, cfg.committee)
    assert (default.stall_grace, default.omission_check_interval) == (120.0, 5.0)
    cfg = parse_config(
        _committee(seed, "stall_grace_ms = 30000\nomission_check_interval_ms = 1000"), NodeConfig, source="node.toml"
    )
    assert cfg.committee is not None
    chosen = committee_config(cfg, cfg.committee)
    assert (chosen.stall_grace, chosen.omission_check_interval) == (30.0, 1.0)
    for bad, why in (
        ("stall_grace_ms = 0", "stall_grace_ms"),
        ("stall_grace_ms = -5", "stall_grace_ms"),
        ("stall_grace_ms = 5000", "stall_grace_ms"),  # below the 10 s floor: a lagging source node is struck
        ("stall_grace_ms = 99999999", "stall_grace_ms"),
        ("omission_check_interval_ms = 0", "omission_check_interval_ms"),
        ("omission_check_interval_ms = -1", "omission_check_interval_ms"),
        ("omission_check_interval_ms = 600000", "omission_check_interval_ms"),
        # `stalled` strikes come once per stall grace: they must add up within the distrust window.
        ("stall_grace_ms = 150000", r"stall_grace_ms x \(distrust_strikes - 1\) must be below"),
        # A check as slow as a grace period delays every strike by up to a period.
        ("omission_grace_ms = 10000\nomission_check_interval_ms = 6000", "at most half of omission_grace_ms"),
    ):
        with pytest.raises(ConfigError, match=why):
            parse_config(_committee(seed, bad), NodeConfig, source="node.toml")


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
    no_committee = cfg.model_copy(update={"committee": None})  # the schema refuses it; the process checks again
    with pytest.raises(EnclaveStartError, match=r"no \[committee\] section"):
        parts_of(no_committee)
