"""anvil on the devnet: a signed transaction is mined and read back."""

from __future__ import annotations

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3 import Web3

from bridge.devnet import DevnetState
from bridge.devnet.accounts import ethereum_dev_accounts


def test_signed_transaction_is_mined_and_read_back(devnet: DevnetState) -> None:
    w3 = Web3(Web3.HTTPProvider(devnet.ethereum.rpc_url))
    assert w3.eth.chain_id == devnet.ethereum.chain_id
    sender = ethereum_dev_accounts()[1]
    recipient = Account.create().address
    tx = {
        "to": recipient,
        "value": 12345,
        "gas": 21_000,
        "maxFeePerGas": w3.to_wei(5, "gwei"),
        "maxPriorityFeePerGas": 1,
        "nonce": w3.eth.get_transaction_count(to_checksum_address(sender.address)),
        "chainId": devnet.ethereum.chain_id,
        "type": 2,
    }
    signed = Account.sign_transaction(tx, sender.private_key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    mined = w3.eth.get_transaction(tx_hash)
    assert mined["from"] == sender.address
    assert mined["to"] == recipient
    assert mined["value"] == 12345
    assert w3.eth.get_balance(recipient) == 12345
    block = w3.eth.get_block(receipt["blockNumber"])
    assert tx_hash in block["transactions"]
