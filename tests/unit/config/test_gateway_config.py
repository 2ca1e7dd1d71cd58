"""`[chains.phala.gateway]`: validated, and wired into the Phala adapter's gateway routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli.wiring import phala_config
from bridge.config import ConfigError, NodeConfig, parse_config
from bridge.gateway import BeneficiaryKind

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
GATEWAY = """
[chains.phala.gateway]
reserve_account = "0x{reserve}"
[chains.phala.gateway.parachains.peer]
para_id = {para}
beneficiaries = ["account_id32", "account_key20"]
min_fee = 20000000
min_deposit = 3333333
"""


def _with_gateway(**kw: object) -> str:
    fields: dict[str, object] = {"reserve": "44" * 32, "para": 1000}
    fields.update(kw)
    return EXAMPLE.replace("[batching]", GATEWAY.format(**fields) + "\n[batching]")


def test_the_gateway_section_becomes_the_adapters_routes() -> None:
    cfg = parse_config(_with_gateway(), NodeConfig, source="node.toml")
    gateway = phala_config(cfg, b"\x01" * 32).gateway
    assert gateway is not None and gateway.reserve_account == b"\x44" * 32
    route = gateway.routes[1000]
    assert route.name == "peer" and route.xcm_versions == {2} and route.min_fee == 20_000_000
    assert route.beneficiaries == {BeneficiaryKind.ACCOUNT_ID32, BeneficiaryKind.ACCOUNT_KEY20}
    assert gateway.resource_id is not None  # the native token's: the only asset the gateway carries
    plain = parse_config(EXAMPLE, NodeConfig, source="node.toml")
    assert phala_config(plain, b"\x01" * 32).gateway is None


@pytest.mark.parametrize(
    ("kw", "says"),
    [({"reserve": "44" * 31}, "reserve_account"), ({"para": -1}, "para_id")],
)
def test_a_bad_gateway_section_is_refused(kw: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(_with_gateway(**kw), NodeConfig, source="node.toml")
