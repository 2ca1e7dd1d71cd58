"""The per-node chain settings of `[chains.ethereum]` / `[chains.phala]`: their defaults are the adapters' own, set
values reach the adapter configs, bad values are refused naming the key, and what the whole committee must agree on
cannot be set per node."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bridge.cli.wiring import ethereum_config, phala_config
from bridge.config import ConfigError, NodeConfig, parse_config
from bridge.config.schema import EthereumChain, SubstrateChain
from relayers.ethereum import EthereumConfig
from relayers.substrate import PhalaConfig

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
ACCOUNT = b"\x01" * 32

# EthereumConfig / PhalaConfig field -> its node.toml key under [chains.*] (None: not settable per node)
ETHEREUM_KEYS = {
    "finality": "finality",
    "confirmations": "confirmations",
    "start_block": "start_block",
    "max_block_range": "max_block_range",
    "rewind_depth": "rewind_depth",
    "use_access_lists": "use_access_lists",
    "stuck_timeout": "stuck_timeout_s",
    "base_fee_multiplier": "base_fee_multiplier",
    "fee_bump_bps": "fee_bump_bps",
    "gas_headroom_bps": "gas_headroom_bps",
    "max_batch_bytes": "max_batch_bytes",
    "rpc_timeout": "rpc_timeout_s",
}
PHALA_KEYS = {
    "start_block": "start_block",
    "max_blocks_per_poll": "max_blocks_per_poll",
    "rewind_depth": "rewind_depth",
    "rpc_timeout": "rpc_timeout_s",
    "pending_timeout": "pending_timeout_s",
    "fee_reserve": "fee_reserve",
    "liquidity_hold_after": "liquidity_hold_after_s",
}
# Every member rebuilds the batch bytes (or checks the batch's size) with these: one value for the whole committee.
COMMITTEE_SHARED = {"call_gas_limit", "max_batch_items"}


def _cfg(ethereum: str = "", phala: str = "") -> NodeConfig:
    text = EXAMPLE.replace("start_block = 0\n", "start_block = 0\n" + ethereum, 1)
    text = re.sub(r"^(para_id = 2035.*\n)", lambda m: m.group(1) + phala, text, count=1, flags=re.M)
    return parse_config(text, NodeConfig, source="node.toml")


def _refused(ethereum: str = "", phala: str = "") -> str:
    with pytest.raises(ConfigError) as info:
        _cfg(ethereum, phala)
    return str(info.value)


def test_unset_keys_keep_the_adapter_defaults() -> None:
    eth = ethereum_config(_cfg())
    for field in dataclasses.fields(EthereumConfig):
        if field.name in ETHEREUM_KEYS and field.name not in ("confirmations",):  # the example sets 64
            assert getattr(eth, field.name) == field.default, field.name
    assert eth.max_fee_per_gas == EthereumConfig.max_fee_per_gas == 300 * 10**9
    assert eth.max_priority_fee_per_gas == EthereumConfig.max_priority_fee_per_gas == 5 * 10**9
    pha = phala_config(_cfg(), ACCOUNT)
    for field in dataclasses.fields(PhalaConfig):
        if field.name in PHALA_KEYS:
            assert getattr(pha, field.name) == field.default, field.name
    # the schema's own defaults, for a key left out of the example
    for field in dataclasses.fields(EthereumConfig):
        key = ETHEREUM_KEYS.get(field.name)
        if key is not None and key in EthereumChain.model_fields:
            assert EthereumChain.model_fields[key].default == field.default, key


def test_set_values_reach_the_adapter_configs() -> None:
    cfg = _cfg(
        ethereum="""max_fee_per_gas_gwei = 120.5
max_priority_fee_per_gas_gwei = 0.000000001
base_fee_multiplier = 3
fee_bump_bps = 2500
gas_headroom_bps = 0
max_batch_bytes = 65536
rewind_depth = 256
rpc_timeout_s = 30
stuck_timeout_s = 180
""",
        phala="""max_blocks_per_poll = 200
rewind_depth = 100
rpc_timeout_s = 2.5
pending_timeout_s = 600
fee_reserve = 5000000000000
liquidity_hold_after_s = 0
""",
    )
    eth = ethereum_config(cfg)
    assert eth.max_fee_per_gas == 120_500_000_000
    assert eth.max_priority_fee_per_gas == 1
    assert (eth.base_fee_multiplier, eth.fee_bump_bps, eth.gas_headroom_bps) == (3, 2500, 0)
    assert (eth.max_batch_bytes, eth.rewind_depth, eth.rpc_timeout, eth.stuck_timeout) == (65536, 256, 30.0, 180.0)
    pha = phala_config(cfg, ACCOUNT)
    assert (pha.max_blocks_per_poll, pha.rewind_depth, pha.rpc_timeout) == (200, 100, 2.5)
    assert (pha.pending_timeout, pha.fee_reserve, pha.para_id) == (600.0, 5 * 10**12, 2035)
    assert pha.liquidity_hold_after == 0.0


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_fee_per_gas_gwei = 0", "max_fee_per_gas_gwei"),
        ("max_fee_per_gas_gwei = -1", "max_fee_per_gas_gwei"),
        ("max_fee_per_gas_gwei = 1.0000000001", "max_fee_per_gas_gwei"),  # below one wei
        ("max_priority_fee_per_gas_gwei = -0.5", "max_priority_fee_per_gas_gwei"),
        ("base_fee_multiplier = 0", "base_fee_multiplier"),
        ("fee_bump_bps = 1000", "fee_bump_bps"),  # nodes refuse a replacement bumped less than 10%
        ("gas_headroom_bps = -1", "gas_headroom_bps"),
        ("max_batch_bytes = 200000", "max_batch_bytes"),  # pools refuse transactions above 128 KiB
        ("rewind_depth = 0", "rewind_depth"),
        ("rpc_timeout_s = 0", "rpc_timeout_s"),
        ("rpc_timeout_s = -3", "rpc_timeout_s"),
        ('max_fee_per_gas_gwei = "cheap"', "max_fee_per_gas_gwei"),
    ],
)
def test_bad_ethereum_values_are_refused_naming_the_key(line: str, key: str) -> None:
    assert f"[chains.ethereum.{key}]" in _refused(ethereum=line + "\n")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_blocks_per_poll = 0", "max_blocks_per_poll"),
        ("rewind_depth = 0", "rewind_depth"),
        ("rpc_timeout_s = -1", "rpc_timeout_s"),
        ("pending_timeout_s = 0", "pending_timeout_s"),
        ("fee_reserve = -1", "fee_reserve"),
        ("liquidity_hold_after_s = -1", "liquidity_hold_after_s"),
        ("liquidity_hold_after_s = 1e9", "liquidity_hold_after_s"),
        ("para_id = -1", "para_id"),
    ],
)
def test_bad_phala_values_are_refused_naming_the_key(line: str, key: str) -> None:
    if key == "para_id":
        text = EXAMPLE.replace("para_id = 2035 ", line + " ")
        with pytest.raises(ConfigError) as info:
            parse_config(text, NodeConfig, source="node.toml")
        assert f"[chains.phala.{key}]" in str(info.value)
        return
    assert f"[chains.phala.{key}]" in _refused(phala=line + "\n")


def test_a_tip_above_the_fee_cap_is_refused_naming_both() -> None:
    err = _refused(ethereum="max_fee_per_gas_gwei = 2\nmax_priority_fee_per_gas_gwei = 3\n")
    assert "[chains.ethereum]" in err
    assert "max_priority_fee_per_gas_gwei 3 exceeds max_fee_per_gas_gwei 2" in err


@pytest.mark.parametrize("key", sorted(COMMITTEE_SHARED | {"transfer_gas", "call_overhead_gas", "group_public_key"}))
def test_committee_shared_and_internal_ethereum_fields_cannot_be_set_per_node(key: str) -> None:
    assert key not in EthereumChain.model_fields
    assert f"unknown key '{key}'" in _refused(ethereum=f"{key} = 1\n")


@pytest.mark.parametrize("key", ["transfer_weight", "batch_base_weight", "weight_per_gas", "bridge_account"])
def test_internal_phala_fields_cannot_be_set_per_node(key: str) -> None:
    assert key not in SubstrateChain.model_fields
    assert f"unknown key '{key}'" in _refused(phala=f"{key} = 1\n")


def test_every_adapter_field_is_classified() -> None:
    """A new EthereumConfig / PhalaConfig field must be placed: settable per node (and mapped), or not."""
    eth_other = {
        "rpc_url",
        "chain_id",
        "bridge_address",
        "resources",
        "name",
        "domain",
        "group_public_key",
        "submitter_key_file",
        "transfer_gas",
        "call_overhead_gas",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
    }
    eth_fields = {f.name for f in dataclasses.fields(EthereumConfig)}
    assert eth_fields == set(ETHEREUM_KEYS) | COMMITTEE_SHARED | eth_other
    pha_other = {
        "url",
        "bridge_account",
        "resource_id",
        "name",
        "domain",
        "native_decimals",
        "dest_decimals",
        "index_start_block",
        "transfer_weight",
        "batch_base_weight",
        "weight_per_gas",
        "gateway",
        "min_deposit",  # [chains.phala.min_deposit]: committee-shared (it numbers the deposits)
        "para_id",
    }
    assert {f.name for f in dataclasses.fields(PhalaConfig)} == set(PHALA_KEYS) | pha_other


def test_the_example_shows_every_per_node_key_with_its_default() -> None:
    shown = {*ETHEREUM_KEYS.values(), *PHALA_KEYS.values(), "max_fee_per_gas_gwei", "max_priority_fee_per_gas_gwei"}
    shown -= {"confirmations", "start_block", "finality"}  # set above, or a choice the operator makes anyway
    pattern = "|".join(sorted(shown))
    assert [k for k in sorted(shown) if not re.search(rf"^# {k} = ", EXAMPLE, flags=re.M)] == []
    uncommented = re.sub(rf"^# (({pattern}) = )", r"\1", EXAMPLE, flags=re.M)
    as_shipped = parse_config(EXAMPLE, NodeConfig, source="node.toml")
    with_defaults_set = parse_config(uncommented, NodeConfig, source="node.toml")
    assert with_defaults_set.chains == as_shipped.chains
