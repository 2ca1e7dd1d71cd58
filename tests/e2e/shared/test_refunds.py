"""Deposits Phala refuses for good are paid back on Ethereum, through the real bridge (anvil + Chopsticks + Mosquitto
+ 5 enclave processes + 5 relayers): made straight on the contract, without the client that would refuse them first."""

from __future__ import annotations

from pathlib import Path

import pytest
from substrateinterface import Keypair

from bridge.client import EthereumClient, PhalaClient
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.domains import Domain
from bridge.ids import message_id
from bridge.network import NetworkInfo
from bridge.refunds import refund_nonce
from relayers.substrate.chain import ChainReader
from tests.e2e.conftest import run_cli, wait_for

pytestmark = pytest.mark.devnet

UNIT_ETH = 10**18


def test_deposits_phala_refuses_for_good_are_paid_back_to_their_depositor(bridge_devnet: Devnet) -> None:
    assert bridge_devnet.state is not None and bridge_devnet.state.network_file
    network = bridge_devnet.state.network_file
    net = NetworkInfo.model_validate_json(Path(network).read_text())
    rid = bytes.fromhex(net.pha_resource_id[2:])
    user = ethereum_dev_accounts(3)[2]
    eth = EthereumClient(net.ethereum, user.private_key)
    phala = PhalaClient(net.phala, rid)
    bridge_account = bytes.fromhex(net.phala.bridge_account[2:])
    nobody = Keypair.create_from_uri("//phala-bridge-refund-never-funded")
    try:
        ed = ChainReader(phala.client).existential_deposit()
        assert phala.free_balance(nobody.public_key) == 0
        before = eth.pha_balance(user.address)
        to_bridge = eth.deposit_pha(2, bridge_account, 2 * UNIT_ETH, rid)
        too_small = eth.deposit_pha(2, nobody.public_key, (ed // 2) * 10**6, rid)
        assert eth.pha_balance(user.address) == before - 2 * UNIT_ETH - (ed // 2) * 10**6  # locked in the bridge

        def paid_back() -> bool:
            return all(eth.is_executed(int(Domain.PHALA), refund_nonce(d.nonce)) for d in (to_bridge, too_small))

        wait_for("both refunds executed on Ethereum", paid_back, timeout=180)
        assert eth.pha_balance(user.address) == before  # every wei back, to the address that deposited
        assert phala.free_balance(nobody.public_key) == 0  # nothing was paid on Phala

        # What the depositor is told: refused on Phala, and where the tokens went (the console may wrap anywhere).
        out = run_cli("status", to_bridge.message_id, "--network", network)
        assert out.returncode == 0, out.stdout + out.stderr
        flat = "".join(out.stdout.split()).lower()
        depositor = user.address.lower()
        assert "statefailed(refundedto" + depositor + "onethereumasmessage" in flat, out.stdout
        assert "therecipientisthebridgeaccountitself" in flat
        assert "refundonethereum:paidback(executed)" in flat
        # ... and the refund itself, a message of its own.
        refund_id = "0x" + message_id(int(Domain.PHALA), refund_nonce(to_bridge.nonce)).hex()
        assert refund_id in flat
        out = run_cli("status", refund_id, "--network", network)
        assert out.returncode == 0, out.stdout + out.stderr
        flat = "".join(out.stdout.split()).lower()
        assert f"refundofethereumdeposit{to_bridge.nonce}(message{to_bridge.message_id})" in flat, out.stdout
        assert "stateexecuted" in flat and "ethereumbridge:nonceused(executed)" in flat
    finally:
        phala.close()
