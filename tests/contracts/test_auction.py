"""SealedBidAuction on anvil: `settle` is accepted only from the bridge (an executeBatch call item signed by the
committee) carrying the auction's own origin (Phala's domain, the contract id the enclaves compute), once per auction;
direct calls revert, and so do other contracts' replies, other domains and call items without origin. End to end:
encrypted bids through Bridge.sendMessage, the enclave runtime in process, the reply executed by the bridge."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.types import RPCEndpoint

from bridge.client.confidential import encrypt_call, send_call
from bridge.confidential import (
    REPLY_SOURCE_DOMAIN,
    CallStatus,
    ConfidentialCall,
    EthereumCall,
    confidential_call,
    reply_items,
    reply_nonce,
)
from bridge.evm import ContractCall
from bridge.messages import BridgeMessage
from enclave_signer.contracts import ExecutionResult, Registry, SealedBidAuction, contract_id_for
from enclave_signer.contracts.auction import MAX_PRICE, NAME, SETTLE_GAS, settle_calldata
from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, encode_input
from relayers.ethereum import errors
from relayers.ethereum.contracts import contract_at, send
from relayers.ethereum.deploy import deploy_contract
from relayers.ethereum.logs import decode_source_log
from relayers.ethereum.views import raw_log
from tests.contracts.conftest import PHALA, Chain, Committee
from tests.unit.confidential.helpers import Enclave, EncryptionCommittee

AUCTION_ID = 0xA0C7 << 200
OWN_ORIGIN = b"own"  # _settle_item's default origin: the auction's own contract id (never a valid 32-byte sender)


@pytest.fixture
def auction(chain: Chain):  # type: ignore[no-untyped-def]
    address = deploy_contract(chain.w3, chain.admin, "SealedBidAuction", chain.deployment.bridge, PHALA)
    send(chain.w3, chain.bridge.functions.setAllowedTarget(address, True), chain.admin)
    return contract_at(chain.w3, "SealedBidAuction", address)


def _id(auction) -> bytes:  # type: ignore[no-untyped-def]
    """The auction's contract id as the enclaves compute it (SealedBidAuction.contract_id), from its address."""
    return SealedBidAuction(bytes.fromhex(auction.address[2:])).contract_id


def _settle_item(  # type: ignore[no-untyped-def]
    auction, nonce: int, auction_id: int, winner: str, price: int, sender: bytes | None = OWN_ORIGIN
) -> ContractCall:
    """A settle call item; by default with the auction's own origin, as the relayers build its replies."""
    data = settle_calldata(auction_id, bytes.fromhex(winner[2:]), price)
    return ContractCall(nonce, auction.address, SETTLE_GAS, data, _id(auction) if sender is OWN_ORIGIN else sender)


def test_the_contract_id_computed_on_chain_is_the_enclaves(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    on_chain = bytes(auction.functions.contractId().call())
    assert on_chain == contract_id_for(NAME, bytes.fromhex(auction.address[2:])) == _id(auction)
    assert auction.functions.CONTRACT_NAME().call() == NAME
    assert auction.functions.phalaDomain().call() == PHALA
    # another deployment, another address, another id: each auction accepts only its own replies
    other = deploy_contract(chain.w3, chain.admin, "SealedBidAuction", chain.deployment.bridge, PHALA)
    other_id = bytes(contract_at(chain.w3, "SealedBidAuction", other).functions.contractId().call())
    assert other_id == contract_id_for(NAME, bytes.fromhex(other[2:])) != on_chain


def test_a_zero_domain_is_refused_at_deployment(chain: Chain) -> None:
    with pytest.raises(errors.InvalidDomain):
        deploy_contract(chain.w3, chain.admin, "SealedBidAuction", chain.deployment.bridge, 0)


def test_settle_only_with_the_auctions_own_origin(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    winner = chain.accounts[3]
    rogue = SealedBidAuction(b"\x42" * 20).contract_id  # another confidential contract's reply
    receipt = chain.execute(
        [
            _settle_item(auction, reply_nonce(30), AUCTION_ID, winner, 1, sender=rogue),
            _settle_item(auction, reply_nonce(31), AUCTION_ID, winner, 2, sender=None),  # kind 2: no origin
            _settle_item(auction, reply_nonce(32), AUCTION_ID, winner, 3, sender=b"\x00" * 32),
        ]
    )
    calls = chain.events(receipt, "CallExecuted")
    assert [(c["nonce"], c["success"]) for c in calls] == [(reply_nonce(n), False) for n in (30, 31, 32)]
    refused = [errors.decode_error(c["result"]) for c in calls]
    assert isinstance(refused[0], errors.WrongOrigin)
    assert refused[0].values == {"sourceDomain": PHALA, "sender": rogue}
    assert isinstance(refused[1], errors.NoMessageOrigin)  # the bridge's error, bubbled up unchanged
    assert isinstance(refused[2], errors.WrongOrigin) and refused[2].values["sender"] == b"\x00" * 32
    assert not chain.events(receipt, "Settled", auction)
    assert auction.functions.outcome(AUCTION_ID).call() == [False, "0x" + "00" * 20, 0]

    # the right contract id from another source domain (a batch of domain 3): refused, the batch still executes
    elsewhere = chain.execute([_settle_item(auction, reply_nonce(33), AUCTION_ID, winner, 4)], domain=3)
    (called,) = chain.events(elsewhere, "CallExecuted")
    assert called["success"] is False and called["sourceDomain"] == 3
    refused_domain = errors.decode_error(called["result"])
    assert isinstance(refused_domain, errors.WrongOrigin)
    assert refused_domain.values == {"sourceDomain": 3, "sender": _id(auction)}
    assert auction.functions.outcome(AUCTION_ID).call()[0] is False

    # the auction's own reply settles
    settled = chain.execute([_settle_item(auction, reply_nonce(34), AUCTION_ID, winner, 5)])
    assert [c["success"] for c in chain.events(settled, "CallExecuted")] == [True]
    assert auction.functions.outcome(AUCTION_ID).call() == [True, winner, 5]


def test_settle_through_a_signed_call_item_once(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    winner = chain.accounts[3]
    receipt = chain.execute([_settle_item(auction, reply_nonce(7), AUCTION_ID, winner, 12_345)])
    assert receipt["gasUsed"] < 200_000
    (called,) = chain.events(receipt, "CallExecuted")
    assert called["success"] is True and called["sourceDomain"] == REPLY_SOURCE_DOMAIN
    (settled,) = chain.events(receipt, "Settled", auction)
    assert (settled["auctionId"], settled["winner"], settled["price"]) == (AUCTION_ID, winner, 12_345)
    assert auction.functions.outcome(AUCTION_ID).call() == [True, winner, 12_345]

    # a second settle of the same auction (another item, another nonce) is refused by the target; recorded
    again = chain.execute([_settle_item(auction, reply_nonce(8), AUCTION_ID, chain.accounts[4], 1)])
    (called,) = chain.events(again, "CallExecuted")
    assert called["success"] is False
    refused = errors.decode_error(called["result"])
    assert isinstance(refused, errors.AuctionAlreadySettled) and refused.values["auctionId"] == AUCTION_ID
    assert auction.functions.outcome(AUCTION_ID).call() == [True, winner, 12_345]
    # the same item again: the bridge's nonce bitmap refuses the whole batch
    with pytest.raises(errors.NonceAlreadyUsed):
        chain.execute([_settle_item(auction, reply_nonce(7), AUCTION_ID + 1, winner, 1)])


def test_the_outcome_is_one_storage_word_and_a_price_above_95_bits_is_refused(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    winner = "0x" + "ff" * 20
    top = auction.functions.MAX_PRICE().call()
    assert top == MAX_PRICE == 2**95 - 1
    too_big = chain.execute([_settle_item(auction, reply_nonce(20), AUCTION_ID, winner, top + 1)])
    (called,) = chain.events(too_big, "CallExecuted")
    refused = errors.decode_error(called["result"])
    assert called["success"] is False and isinstance(refused, errors.PriceTooLarge)
    assert (refused.values["price"], refused.values["maxPrice"]) == (top + 1, top)
    assert auction.functions.outcome(AUCTION_ID).call() == [False, "0x" + "00" * 20, 0]

    chain.execute([_settle_item(auction, reply_nonce(21), AUCTION_ID, winner, top)])
    assert auction.functions.outcome(AUCTION_ID).call() == [True, chain.w3.to_checksum_address(winner), top]
    # winner | price << 160 | settled << 255 in the mapping's slot for the id (slot 0), nothing in the next one
    slot = int.from_bytes(keccak(AUCTION_ID.to_bytes(32, "big") + bytes(32)), "big")
    word = int.from_bytes(chain.w3.eth.get_storage_at(auction.address, slot), "big")
    assert word == (1 << 255) | (top << 160) | (2**160 - 1)
    assert int.from_bytes(chain.w3.eth.get_storage_at(auction.address, slot + 1), "big") == 0
    # no bid: winner 0, price 0, and still settled (the flag bit), so it settles once
    chain.execute([_settle_item(auction, reply_nonce(22), AUCTION_ID + 1, "0x" + "00" * 20, 0)])
    assert auction.functions.outcome(AUCTION_ID + 1).call() == [True, "0x" + "00" * 20, 0]
    again = chain.execute([_settle_item(auction, reply_nonce(23), AUCTION_ID + 1, winner, 1)])
    (called,) = chain.events(again, "CallExecuted")
    assert isinstance(errors.decode_error(called["result"]), errors.AuctionAlreadySettled)


def test_direct_settle_reverts_for_anyone(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    for account in (chain.admin, chain.accounts[3], chain.accounts[9]):
        with pytest.raises(errors.NotBridge):
            send(chain.w3, auction.functions.settle(AUCTION_ID, account, 1), account)
    assert auction.functions.outcome(AUCTION_ID).call() == [False, "0x" + "00" * 20, 0]
    assert auction.functions.bridge().call() == chain.deployment.bridge


def test_a_batch_not_signed_by_the_committee_settles_nothing(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    item = _settle_item(auction, reply_nonce(9), AUCTION_ID, chain.accounts[3], 5)
    with pytest.raises(errors.WrongSigningKey):
        chain.execute([item], committee=Committee.new())
    # the committee's signature over another price does not carry this item
    signed = chain.sign_batch(chain.encode([_settle_item(auction, reply_nonce(9), AUCTION_ID, chain.accounts[3], 6)]))
    with pytest.raises(errors.InvalidSignature):
        chain.execute([item], signature=signed)
    assert auction.functions.outcome(AUCTION_ID).call()[0] is False


def _mine(chain: Chain, blocks: int) -> None:
    chain.w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(blocks)])


def _message(chain: Chain, tx_hash: str) -> BridgeMessage:
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    (decoded,) = [decode_source_log(raw_log(e), bridge=chain.deployment.bridge, resources={}) for e in receipt["logs"]]
    assert isinstance(decoded, BridgeMessage)
    return decoded


def test_sealed_bid_auction_end_to_end(chain: Chain, auction) -> None:  # type: ignore[no-untyped-def]
    committee = EncryptionCommittee.new()
    contract = SealedBidAuction(bytes.fromhex(auction.address[2:]))
    registry = Registry([contract])
    enclave = Enclave(committee, committee.keyring(), registry, contract.contract_id)

    def submit(account: str, data: bytes) -> tuple[ConfidentialCall, ExecutionResult]:
        payload = encrypt_call(committee.public_key, contract.contract_id, account, data)
        sent = send_call(chain.w3, chain.deployment.bridge, account, payload)
        call = confidential_call(_message(chain, sent.tx_hash))
        result = enclave.run(call)
        assert result.status is CallStatus.EXECUTED, result.reason
        return call, result

    seller, bidders = chain.accounts[2], chain.accounts[3:7]
    close_block = chain.w3.eth.block_number + 20
    opened, _ = submit(seller, encode_input(Open(close_block)))
    auction_id = int.from_bytes(opened.call_id, "big")
    amounts = [300, 900, 500, 900]  # a tie at 900: the earlier bid (bidders[1]) wins
    for bidder, amount in zip(bidders, amounts, strict=True):
        submit(bidder, encode_input(PlaceBid(auction_id, amount)))
    _mine(chain, 20)
    _, result = submit(bidders[0], encode_input(Close(auction_id)))
    assert result.outputs == (
        EthereumCall(contract.settlement, SETTLE_GAS, settle_calldata(auction_id, bytes.fromhex(bidders[1][2:]), 900)),
    )
    # as the relayers build it: a call item with origin, the sender being the contract that produced the output
    receipt = chain.execute(reply_items(0, result.outputs, contract.contract_id))
    (settled,) = chain.events(receipt, "Settled", auction)
    assert (settled["auctionId"], settled["winner"], settled["price"]) == (auction_id, bidders[1], 900)
    # the losing bids are nowhere on chain: the payloads are ciphertexts, the settlement names the winner only
    losing = [(a).to_bytes(16, "big") for a in (300, 500)] + [(a).to_bytes(32, "big") for a in (300, 500)]
    for number in range(chain.deployment.block_number, chain.w3.eth.block_number + 1):
        for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, HexBytes)  # full transactions, not their hashes
            data = bytes(tx["input"])
            assert not any(x in data for x in losing)
    assert enclave.restart() == enclave.state  # the enclave log replays (another t of the committee)
