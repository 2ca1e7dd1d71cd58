"""The committed artifacts match a fresh build of contracts/src, and the anvil fixture loads with the current code."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from web3 import Web3

from relayers.ethereum.contracts import contract_at, load_artifact
from tests.contracts.conftest import ROOT, start_anvil, stop_anvil

FIXTURES = ROOT / "anvil-fixtures"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


def test_build_check_passes() -> None:
    # --no-cache: a real compile (about 10 s), not the cached output of an earlier run
    result = subprocess.run(
        [_node(), str(ROOT / "contracts" / "build.cjs"), "--check", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "artifacts match a fresh build" in result.stdout


def test_build_check_names_a_stale_artifact(tmp_path: Path) -> None:
    work = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", work)
    stale = work / "artifacts" / "CallRecorder.json"
    stale.write_text(stale.read_text().replace('"contractName"', '"contractName" ', 1))
    (work / "artifacts" / "Leftover.json").write_text("{}\n")
    env = {"NODE_PATH": str(ROOT / "node_modules"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [_node(), str(work / "build.cjs"), "--check"], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 1
    assert "differs: contracts/artifacts/CallRecorder.json" in result.stderr
    assert "not produced by the build: contracts/artifacts/Leftover.json" in result.stderr
    assert "Run `node contracts/build.cjs`" in result.stderr


def test_fixture_loads_with_the_current_contracts() -> None:
    addresses = json.loads((FIXTURES / "devnet-addresses.json").read_text())
    node = start_anvil(chain_id=addresses["chain_id"], extra=("--load-state", str(FIXTURES / "devnet-state.json")))
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.chain_id == addresses["chain_id"]
        assert w3.eth.block_number >= addresses["block_number"]
        for name in ("Bridge", "CallRecorder", "RevertingTarget"):  # no immutables: code == artifact
            code = w3.eth.get_code(addresses["contracts"][name])
            assert code.hex().removeprefix("0x") == load_artifact(name).deployed_bytecode[2:], (
                f"{name} in the fixture is not the committed build: run anvil-fixtures/make_fixtures.py"
            )
        bridge = contract_at(w3, "Bridge", addresses["contracts"]["Bridge"])
        assert bridge.functions.keyState().call()[0] == 0  # the committee key comes later, from the DKG
        assert bridge.functions.admin().call() == addresses["admin"] == addresses["deployer"]
        pha = contract_at(w3, "PhaToken", addresses["contracts"]["PhaToken"])
        assert all(pha.functions.balanceOf(a).call() > 0 for a in addresses["funded_accounts"])
        assert pha.functions.balanceOf(addresses["contracts"]["Bridge"]).call() > 0
    finally:
        stop_anvil(node.process)
