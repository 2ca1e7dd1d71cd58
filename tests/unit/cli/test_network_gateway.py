"""The gateway's routes as a client reads them from the network file are the routes the nodes run (one builder,
`GatewayConfig.of`), and a bad network file is refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli.errors import UsageError
from bridge.cli.loading import load_network
from bridge.cli.wiring import phala_config
from bridge.client.gateway import gateway_config
from bridge.config import NodeConfig, parse_config
from bridge.gateway import BeneficiaryKind, GatewayError, beneficiary_kind
from tests.unit.config.test_gateway_config import _with_gateway

RID = "0x209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803"


def _network(**route: object) -> dict[str, object]:
    peer: dict[str, object] = {
        "para_id": 1000,
        "xcm_versions": [2],
        "beneficiaries": ["account_id32", "account_key20"],
        "min_fee": 20_000_000,
        "min_deposit": 3_333_333,
    }
    peer.update(route)
    return {
        "name": "devnet",
        "ethereum": {"rpc_url": "http://127.0.0.1:8545", "chain_id": 31337, "bridge": "0x" + "11" * 20,
                     "pha_token": "0x" + "22" * 20, "start_block": 1},
        "phala": {"ws_url": "ws://127.0.0.1:9944", "para_id": 2035, "bridge_account": "0x" + "33" * 32},
        "pha_resource_id": RID,
        "gateway": {"reserve_account": "0x" + "44" * 32, "parachains": {"peer": peer}},
    }  # fmt: skip


def test_the_client_and_the_nodes_build_the_same_gateway(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(_network()))
    client = gateway_config(load_network(path))
    node = phala_config(parse_config(_with_gateway(), NodeConfig, source="node.toml"), b"\x01" * 32).gateway
    assert client is not None and node is not None
    assert client == node
    assert client.routes[1000].beneficiaries == {BeneficiaryKind.ACCOUNT_ID32, BeneficiaryKind.ACCOUNT_KEY20}


@pytest.mark.parametrize(
    ("route", "says"),
    [
        ({"beneficiaries": ["account_id33"]}, "gateway.parachains.peer.beneficiaries.0"),
        ({"xcm_versions": [9]}, "gateway.parachains.peer.xcm_versions.0"),
        ({"min_fee": 0}, "gateway.parachains.peer.min_fee"),
    ],
)
def test_a_bad_network_file_is_refused_naming_the_field(tmp_path: Path, route: dict[str, object], says: str) -> None:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(_network(**route)))
    with pytest.raises(UsageError, match=f"not a valid network file: {says}"):
        load_network(path)


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"not a valid network file: .*Invalid JSON"):
        load_network(path)


def test_an_unknown_beneficiary_label_is_an_error_not_skipped() -> None:
    assert beneficiary_kind("account_key20") is BeneficiaryKind.ACCOUNT_KEY20
    with pytest.raises(GatewayError, match="unknown beneficiary kind 'x'; known: account_id32, account_key20"):
        beneficiary_kind("x")
