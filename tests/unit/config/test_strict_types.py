"""Config types are strict: a TOML value of another type is a mistake named at load, not coerced (`confirmations =
true` read as 1 was a reorg-safety downgrade that passed `config check`). What TOML legitimately gives in another
type still loads: an integer for a float, a number or a string for a decimal amount. Every shipped file and every
config the devnet writes loads under these rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from bridge.config import ChainRegistry, ConfigError, DevnetConfig, NodeConfig, parse_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
DEVNET = (ROOT / "config" / "devnet.toml").read_text()


def _node(old: str, new: str) -> NodeConfig:
    assert old in EXAMPLE
    return parse_config(EXAMPLE.replace(old, new, 1), NodeConfig, source="node.toml")


def _refused(old: str, new: str) -> str:
    with pytest.raises(ConfigError) as info:
        _node(old, new)
    assert len(info.value.problems) == 1, info.value
    return str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "confirmations = 64",
            "confirmations = true",
            "[chains.ethereum.confirmations]: wrong type: input should be a valid integer (got boolean true)",
        ),
        (
            "confirmations = 64",
            'confirmations = "64"',
            "[chains.ethereum.confirmations]: wrong type: input should be a valid integer (got string '64')",
        ),
        ("confirmations = 64", "confirmations = 64.0", "[chains.ethereum.confirmations]: wrong type"),
        ("max_messages = 100", "max_messages = true", "[batching.max_messages]: wrong type"),
        (
            "enabled = true",
            'enabled = "no"',
            "[checkpoints.enabled]: wrong type: input should be a valid boolean (got string 'no')",
        ),
        ("enabled = true", "enabled = 0", "[checkpoints.enabled]: wrong type"),
        ("every_seconds = 600", "every_seconds = true", "[checkpoints.every_seconds]: wrong type"),
        ("every_seconds = 600", 'every_seconds = "600"', "[checkpoints.every_seconds]: wrong type"),
        ("# use_access_lists = true", 'use_access_lists = "false"', "[chains.ethereum.use_access_lists]: wrong type"),
        (
            "# max_fee_per_gas_gwei = 300",
            "max_fee_per_gas_gwei = true",
            "[chains.ethereum.max_fee_per_gas_gwei]: wrong type",
        ),
        (
            "# max_fee_per_gas_gwei = 300",
            'max_fee_per_gas_gwei = "lots"',
            "[chains.ethereum.max_fee_per_gas_gwei]: wrong type",
        ),
        ("# max_fee_per_gas_gwei = 300", 'max_fee_per_gas_gwei = "nan"', "[chains.ethereum.max_fee_per_gas_gwei]"),
        ("member_index = 1 ", "member_index = true ", "[node.member_index]: wrong type"),
        ("para_id = 2035", 'para_id = "2035"', "[chains.phala.para_id]: wrong type"),
        (
            "transfer = 1000000000000",
            'transfer = "1000000000000"',
            "[chains.phala.min_deposit.ethereum.transfer]: wrong type",
        ),
        ("threshold = 3", "threshold = 3.0", "[committee.threshold]: wrong type"),
        ('log_level = "info"', "log_level = 1", "[node.log_level]: Input should be 'debug'"),
        ('name = "node-1"', "name = 1", "[node.name]: wrong type"),
        ("members = [1, 2, 3, 4, 5]", "members = [1, 2, true, 4, 5]", "[committee.members.2]: wrong type"),
        (
            "decimals = { ethereum = 18, phala = 12 }",
            'decimals = { ethereum = "18", phala = 12 }',
            "[resources.PHA.decimals.ethereum]: wrong type",
        ),
        ('listen = "127.0.0.1:9101"', "listen = 9101", "[metrics.listen]: wrong type"),
    ],
)
def test_a_value_of_another_type_is_refused_naming_the_key(old: str, new: str, says: str) -> None:
    text = _refused(old, new)
    assert says in text, text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("old", "new", "check"),
    [
        ("every_seconds = 600", "every_seconds = 600", lambda c: c.checkpoints.every_seconds == 600.0),
        ("every_seconds = 600", "every_seconds = 0.5", lambda c: c.checkpoints.every_seconds == 0.5),
        ("# stuck_timeout_s = 60", "stuck_timeout_s = 20", lambda c: c.chains["ethereum"].stuck_timeout_s == 20.0),
        (
            "# max_fee_per_gas_gwei = 300",
            "max_fee_per_gas_gwei = 300",
            lambda c: c.chains["ethereum"].max_fee_per_gas_gwei == 300,
        ),
        (
            "# max_fee_per_gas_gwei = 300",
            "max_fee_per_gas_gwei = 12.5",
            lambda c: c.chains["ethereum"].max_fee_per_gas_gwei == Decimal("12.5"),
        ),
        (
            "# max_fee_per_gas_gwei = 300",
            'max_fee_per_gas_gwei = "300.000000001"',
            lambda c: c.chains["ethereum"].max_fee_per_gas_gwei == Decimal("300.000000001"),
        ),
        (
            "# max_priority_fee_per_gas_gwei = 5",
            "max_priority_fee_per_gas_gwei = 0",
            lambda c: c.chains["ethereum"].max_priority_fee_per_gas_gwei == 0,
        ),
        ("enabled = true", "enabled = false", lambda c: c.checkpoints.enabled is False),
    ],
)
def test_what_toml_gives_in_another_type_legitimately_loads(old: str, new: str, check: object) -> None:
    assert check(_node(old, new))  # type: ignore[operator]


def test_the_devnet_file_is_strict_too() -> None:
    with pytest.raises(ConfigError, match=r"\[devnet.committee.members\]: wrong type"):
        parse_config(DEVNET.replace("members = 5", 'members = "5"'), DevnetConfig, source="devnet.toml")
    with pytest.raises(ConfigError, match=r"\[devnet.committee.enabled\]: wrong type"):
        parse_config(DEVNET + "enabled = 1\n", DevnetConfig, source="devnet.toml")
    cfg = parse_config(DEVNET.replace("chain_id = 31337", "chain_id = 31337\nblock_time = 2"), DevnetConfig, source="d")
    assert cfg.devnet.ethereum.block_time == 2.0


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_file_loads(path: Path) -> None:
    models: dict[str, type[BaseModel]] = {
        "node.example.toml": NodeConfig,
        "devnet.toml": DevnetConfig,
        "chains.toml": ChainRegistry,
    }
    model = models[path.name]
    parse_config(path.read_text(), model, source=path.name)


def test_the_configs_the_devnet_writes_load(tmp_path: Path) -> None:
    # bridge/devnet/committee.py writes each member's node.toml from a template: rendered here with a stand-in state
    from bridge.devnet.committee import BridgeCommittee
    from bridge.devnet.state import BrokerEndpoint, DevnetState, EthereumEndpoint, ParachainEndpoint

    state = DevnetState(
        work_dir=str(tmp_path),
        supervisor_pid=12345,
        started_at=0.0,
        ready_seconds=1.0,
        ethereum=EthereumEndpoint(rpc_url="http://127.0.0.1:8545", chain_id=31337),
        phala=ParachainEndpoint(
            name="phala", para_id=2035, ws_url="ws://127.0.0.1:8000", http_url="http://127.0.0.1:8000"
        ),
        peer=ParachainEndpoint(
            name="peer", para_id=1000, ws_url="ws://127.0.0.1:8001", http_url="http://127.0.0.1:8001"
        ),
        broker=BrokerEndpoint(kind="embedded", host="127.0.0.1", port=1883),
        processes=[],
    )
    settings = {"omission_grace_ms": 20_000, "stall_grace_ms": 30_000, "omission_check_interval_ms": 1_000}
    committee = BridgeCommittee(state, None, tmp_path, members=3, threshold=2, committee_settings=settings)  # type: ignore[arg-type]
    committee.auction = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
    committee.write_configs(7)
    assert len(committee.members) == 3
    for member in committee.members:
        cfg = parse_config(member.config.read_text(), NodeConfig, source=str(member.config))
        assert cfg.committee.members == [1, 2, 3] and cfg.committee.omission_grace_ms == 20_000
        assert cfg.resources["PHA"].decimals == {"ethereum": 18, "phala": 12}
