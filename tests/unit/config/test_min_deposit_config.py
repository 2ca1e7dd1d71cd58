"""`[chains.phala.min_deposit]` and the network file's `phala.min_deposit`: validated, and the same rule for the
adapters (relayer watcher, enclave source verifier) and the client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli.wiring import phala_config
from bridge.config import ConfigError, NodeConfig, parse_config
from bridge.minimums import DepositMinimum
from bridge.network import PhalaSide

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
MINIMUM = "[chains.phala.min_deposit.ethereum]\ntransfer = 1000000000000               # 1 PHA\n"
RESOURCE = """
[resources.PHA]
resource_id = "0x209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803"
decimals = { ethereum = 18, phala = 12 }
"""
ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _config(section: str) -> NodeConfig:
    assert MINIMUM in EXAMPLE  # the template shows the setting
    text = EXAMPLE.replace(MINIMUM, section).replace("\ncall = 5000000000000 ", "\n# ")
    return parse_config(text + RESOURCE, NodeConfig, source="node.toml")


def test_the_template_sets_a_transfer_and_a_call_minimum() -> None:
    cfg = parse_config(EXAMPLE + RESOURCE, NodeConfig, source="node.toml")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: DepositMinimum(transfer=10**12, call=5 * 10**12)}


def test_a_call_minimum_not_given_is_the_transfer_minimum_and_none_is_no_minimum() -> None:
    cfg = _config("[chains.phala.min_deposit.ethereum]\ntransfer = 7\n")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: DepositMinimum(7, 7)}
    cfg = _config("[chains.phala.min_deposit.ethereum]\ntransfer = 0\ncall = 0\n")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: DepositMinimum(0, 0)}
    assert phala_config(_config(""), b"\x01" * 32).min_deposit == {}


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("[chains.phala.min_deposit.solana]\ntransfer = 1\n", "names no other chain: solana"),
        ("[chains.phala.min_deposit.phala]\ntransfer = 1\n", "names no other chain: phala"),
        ("[chains.phala.min_deposit.ethereum]\ntransfer = -1\n", "transfer"),
        ("[chains.phala.min_deposit.ethereum]\ntransfer = 1\nextra = 2\n", "extra"),
    ],
)
def test_a_bad_minimum_is_refused(section: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _config(section)


def _side(min_deposit: object) -> PhalaSide:
    return PhalaSide.model_validate(
        {"ws_url": "ws://127.0.0.1:1", "para_id": 2035, "bridge_account": "0x" + "bb" * 32, "min_deposit": min_deposit}
    )


def test_the_network_file_gives_the_client_the_same_rule() -> None:
    assert _side({"ethereum": {"transfer": 10**12, "call": 3}}).minimums() == {1: DepositMinimum(10**12, 3)}
    assert _side({"ethereum": {"transfer": 10**12}}).minimums() == {1: DepositMinimum(10**12, 10**12)}
    assert _side({}).minimums() == {}
    for bad in ({"eth": {"transfer": 1}}, {"phala": {"transfer": 1}}, {"ethereum": {"transfer": -1}}):
        with pytest.raises(ValueError):
            _side(bad)


def test_the_cli_refuses_a_transfer_below_the_minimum_before_anything_is_signed(tmp_path: Path) -> None:
    # Endpoints nobody listens on: the refusal must come before any chain is touched.
    network = {
        "name": "t",
        "ethereum": {"rpc_url": "http://127.0.0.1:9", "chain_id": 1, "bridge": ETH, "pha_token": ETH},
        "phala": {
            "ws_url": "ws://127.0.0.1:9",
            "para_id": 2035,
            "bridge_account": "0x" + "bb" * 32,
            "min_deposit": {"ethereum": {"transfer": 10**12}},
        },
        "pha_resource_id": "0x" + "07" * 32,
    }
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network))
    args = ["transfer", "--from", "phala", "--to", "ethereum", "--recipient", ETH, "--dev-account", "//Alice"]
    out = subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", *args, "--amount", "0.5", "--network", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: below_minimum: a transfer to domain 1 must carry at least 1 PHA")
    assert "this one carries 0.5 PHA" in out.stderr and "Traceback" not in out.stderr + out.stdout
