"""The user's commands against the real bridge: `phala-bridge transfer` both ways (and one below the minimum from
Phala, refused before signing), deposits into Phala that the bridge would refuse for good (refused before anything
is sent), and `phala-bridge status`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from substrateinterface import Keypair
from web3 import Web3

from bridge.client import EthereumClient, PhalaClient
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.network import NetworkInfo
from relayers.substrate.chain import ChainReader
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


def test_deposits_phala_would_refuse_for_good_are_never_sent(bridge_devnet: Devnet) -> None:
    """Nothing refunds an Ethereum deposit that Phala's bridge account refuses for good: the CLI asks Phala first,
    and the same amount to an account that exists goes through."""
    assert bridge_devnet.state is not None and bridge_devnet.state.network_file
    network = bridge_devnet.state.network_file
    net = NetworkInfo.model_validate_json(Path(network).read_text())
    user = ethereum_dev_accounts(6)[5]
    eth = EthereumClient(net.ethereum)
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        ed = ChainReader(phala.client).existential_deposit()
        assert ed >= 2  # a planck amount below it exists
        small = f"0.{ed // 2:012d}"  # PHA with 12 decimals: half the existential deposit, converts exactly
        nobody = Keypair.create_from_uri("//phala-bridge-test-never-funded")
        assert phala.free_balance(nobody.public_key) == 0
        balance, nonce = (
            eth.pha_balance(user.address),
            eth.w3.eth.get_transaction_count(Web3.to_checksum_address(user.address)),
        )

        def refused(recipient: str, amount: str, expected: str) -> None:
            out = run_cli(
                "transfer", "--from", "ethereum", "--to", "phala", "--amount", amount, "--recipient", recipient,
                "--dev-account", "5", "--network", network,
            )  # fmt: skip
            assert out.returncode == 2, out.stdout + out.stderr
            assert "the bridge on Phala would refuse this deposit for good" in out.stderr
            assert expected in out.stderr, out.stderr
            assert "deposited on ethereum" not in out.stdout

        refused(nobody.ss58_address, small, f"below the existential deposit ({ed})")
        refused(net.phala.bridge_account, "1", "the recipient is the bridge account itself")
        # a 32-byte account that reads as an XCM destination's magic: the relayers take it for a malformed one
        refused("0x" + (b"PHXD" + bytes(28)).hex(), "1", "names no fallback account on Phala")
        # nothing was sent: no approval, no deposit, no tokens moved
        assert eth.w3.eth.get_transaction_count(Web3.to_checksum_address(user.address)) == nonce
        assert eth.pha_balance(user.address) == balance

        eve = Keypair.create_from_uri("//Eve")  # exists (funded at genesis): the same small amount is paid
        eve_before = phala.free_balance(eve.public_key)
        out = run_cli(
            "transfer", "--from", "ethereum", "--to", "phala", "--amount", small, "--recipient", eve.ss58_address,
            "--dev-account", "5", "--network", network,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert phala.free_balance(eve.public_key) == eve_before + ed // 2
    finally:
        phala.close()
