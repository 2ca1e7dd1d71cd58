"""PHA both ways through the real bridge: anvil + Chopsticks + Mosquitto + 5 enclave processes + 5 relayers."""

from __future__ import annotations

import pytest
from substrateinterface import Keypair

from bridge.client import EthereumClient, PhalaClient
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.network import NetworkInfo
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.devnet

UNIT_ETH = 10**18
UNIT_PHA = 10**12


def _network(devnet: Devnet) -> NetworkInfo:
    assert devnet.state is not None and devnet.state.network_file
    return NetworkInfo.model_validate_json(open(devnet.state.network_file).read())


def test_pha_ethereum_to_phala_and_back(bridge_devnet: Devnet) -> None:
    net = _network(bridge_devnet)
    rid = bytes.fromhex(net.pha_resource_id[2:])
    user = ethereum_dev_accounts(3)[2]
    eth = EthereumClient(net.ethereum, user.private_key)
    phala = PhalaClient(net.phala, rid)
    recipient = Keypair.create_from_uri("//Dave")
    try:
        # Ethereum -> Phala: 12.5 PHA
        start_phala = phala.finalized_block()
        before = phala.free_balance(recipient.public_key)
        eth_before = eth.pha_balance(user.address)
        deposit = eth.deposit_pha(2, recipient.public_key, 125 * UNIT_ETH // 10, rid)
        assert eth.pha_balance(user.address) == eth_before - 125 * UNIT_ETH // 10
        executed_in = wait_for("execution on Phala", lambda: phala.find_execution(deposit.message_id, start_phala))
        assert phala.free_balance(recipient.public_key) == before + 125 * UNIT_PHA // 10
        assert isinstance(executed_in, str) and executed_in.startswith("0x")

        # Phala -> Ethereum: 3 PHA back to the user's Ethereum address
        from_block = eth.block_number()
        eth_before = eth.pha_balance(user.address)
        dep = phala.deposit(recipient, 1, bytes.fromhex(user.address[2:]), 3 * UNIT_PHA)
        message_id = phala.message_of(dep)
        assert message_id is not None
        nonce = int(wait_for("the deposit's number", lambda: _nonce_of(bridge_devnet, message_id)))
        wait_for("execution on Ethereum", lambda: eth.is_executed(2, nonce))
        assert eth.pha_balance(user.address) == eth_before + 3 * UNIT_ETH
        assert eth.find_execution(2, nonce, from_block) is not None
    finally:
        phala.close()


def _nonce_of(devnet: Devnet, message_id: str) -> int | None:
    import json
    import urllib.request

    net = _network(devnet)
    for url in net.relayer_status_urls:
        try:
            with urllib.request.urlopen(f"{url}/message/{message_id}", timeout=2) as r:
                return int(json.loads(r.read())["nonce"])
        except OSError:
            continue
    return None
