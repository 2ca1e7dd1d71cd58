"""The user's commands against the real bridge: `phala-bridge transfer` both ways (and one below the minimum from
Phala, refused before signing), and `phala-bridge status`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from substrateinterface import Keypair

from bridge.client import EthereumClient, PhalaClient
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.network import NetworkInfo
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.devnet


def test_transfer_both_ways_through_the_cli(bridge_devnet: Devnet) -> None:
    assert bridge_devnet.state is not None and bridge_devnet.state.network_file
    network = bridge_devnet.state.network_file
    net = NetworkInfo.model_validate_json(Path(network).read_text())
    user = ethereum_dev_accounts(4)[3]
    eve = Keypair.create_from_uri("//Eve")
    eth = EthereumClient(net.ethereum)
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        eve_before = phala.free_balance(eve.public_key)
        out = run_cli(
            "transfer", "--from", "ethereum", "--to", "phala", "--amount", "2.5", "--recipient", eve.ss58_address,
            "--dev-account", "3", "--network", network,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert "executed on phala" in out.stdout
        assert phala.free_balance(eve.public_key) == eve_before + 2_500_000_000_000
        deposit_tx = re.search(r"deposited on ethereum in (0x[0-9a-f]{64})", out.stdout)
        assert deposit_tx is not None

        status = run_cli("status", deposit_tx.group(1), "--network", network)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "state executed" in status.stdout and "ethereum -> phala" in status.stdout

        eth_before = eth.pha_balance(user.address)
        out = run_cli(
            "transfer", "--from", "phala", "--to", "ethereum", "--amount", "1.25", "--recipient", user.address,
            "--dev-account", "//Eve", "--network", network,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert "executed on ethereum" in out.stdout
        assert eth.pha_balance(user.address) == eth_before + 1_250_000_000_000_000_000
        mid = re.search(r"message id (0x[0-9a-f]{64})", out.stdout)
        assert mid is not None
        status = run_cli("status", mid.group(1), "--network", network)
        assert status.returncode == 0 and "nonce used (executed)" in status.stdout

        # Below the devnet's 1 PHA minimum: refused before anything is signed, naming the minimum.
        eve_free = phala.free_balance(eve.public_key)
        out = run_cli(
            "transfer", "--from", "phala", "--to", "ethereum", "--amount", "0.5", "--recipient", user.address,
            "--dev-account", "//Eve", "--network", network,
        )  # fmt: skip
        assert out.returncode == 2, out.stdout + out.stderr
        assert "below_minimum: a transfer to domain 1 must carry at least 1 PHA" in out.stderr
        assert phala.free_balance(eve.public_key) == eve_free  # no fee paid: nothing was submitted
    finally:
        phala.close()
