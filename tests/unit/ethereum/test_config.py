"""Configuration validation with clear errors; the submitter key file is read, checked and never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from relayers.ethereum.config import ConfigError, EthereumConfig, load_submitter_key
from tests.unit.ethereum.helpers import BRIDGE, RESOURCES


def config(**kw: Any) -> EthereumConfig:
    base: dict[str, Any] = dict(rpc_url="http://127.0.0.1:8545", chain_id=31337, bridge_address=BRIDGE.lower())
    base.update(kw)
    return EthereumConfig(**base)


def test_defaults_and_normalisation() -> None:
    c = config(resources=RESOURCES)
    assert c.bridge_address == BRIDGE  # checksummed
    assert (c.domain, c.finality, c.confirmations) == (1, "confirmations", 12)
    assert c.decimals(next(iter(RESOURCES)), 2) == 12
    assert c.call_gas() == 200_000 * 64 // 63 + 15_000


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"rpc_url": "ws://x"}, "http:// or https://"),
        ({"chain_id": 0}, "chain_id"),
        ({"bridge_address": "0x1234"}, "not an Ethereum address"),
        ({"finality": "safe"}, "finality"),
        ({"confirmations": -1}, "confirmations"),
        ({"max_block_range": 0}, "max_block_range"),
        ({"fee_bump_bps": 1000}, "12.5%"),
        ({"max_priority_fee_per_gas": 10**30}, "max_priority_fee_per_gas"),
        ({"stuck_timeout": 0}, "timeouts"),
        ({"group_public_key": b"\x04" + b"\x01" * 32}, "group_public_key"),
        ({"resources": {b"\x01" * 31: {1: 18}}}, "32 bytes"),
        ({"resources": {b"\x01" * 32: {2: 12}}}, "no decimals for this chain"),
        ({"resources": {b"\x01" * 32: {1: 18, 0: 12}}}, "bad entry"),
        ({"call_gas_limit": 2**32}, "32 bits"),
    ],
)
def test_invalid_configuration_is_a_clear_error(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("+", r"\+")):
        config(**change)


def test_submitter_key_file(tmp_path: Path) -> None:
    account = Account.create()
    secret = account.key.hex().removeprefix("0x")
    path = tmp_path / "key"
    path.write_text(f"  0x{secret}\n")
    path.chmod(0o600)
    key = load_submitter_key(path)
    assert key.address == account.address
    assert secret not in repr(key) and secret not in str(key) and account.address in repr(key)


@pytest.mark.parametrize(
    ("content", "needle"), [("0x1234", "64 hex digits"), ("zz" * 32, "valid"), ("00" * 32, "valid")]
)
def test_bad_submitter_key_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "key"
    path.write_text(content)
    with pytest.raises(ConfigError, match=needle) as info:
        load_submitter_key(path)
    assert content not in str(info.value) or len(content) < 10


def test_missing_submitter_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_submitter_key(tmp_path / "absent")
