"""The phala chain (Chopsticks, para 2035) takes extrinsics signed with sr25519 and with ed25519 (the committee's
bridge account is a plain ed25519 account), and a failing call is reported with its module error from the events.

Every test pays to a fresh random account, so the session-wide devnet's history never matters.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from scalecodec.utils.ss58 import ss58_decode

from bridge.devnet import DevnetState
from bridge.devnet.accounts import substrate_dev_accounts
from relayers.substrate import (
    ChainEvent,
    DispatchFailed,
    ExtrinsicOutcome,
    ExtrinsicRejected,
    SubstrateClient,
    SubstrateTimeout,
    keypair_from_ed25519_seed,
    keypair_from_uri,
)
from relayers.substrate.errors import ParaIdMismatch
from relayers.substrate.session import ClientSession

pytestmark = pytest.mark.devnet

UNIT = 10**12  # the runtime's token has 12 decimals


@pytest.fixture(scope="module")
def phala(devnet: DevnetState) -> Iterator[SubstrateClient]:
    with SubstrateClient(devnet.phala.ws_url) as client:
        yield client


def pubkey(ss58_address: str) -> bytes:
    # Events print accounts in the runtime's SS58 prefix (2 here): compare the public keys they carry.
    return bytes.fromhex(ss58_decode(ss58_address))


def fee_paid(outcome: ExtrinsicOutcome, payer: bytes) -> int:
    withdrawn = [e for e in outcome.find("Balances", "Withdraw") if pubkey(e.attributes["who"]) == payer]
    assert len(withdrawn) == 1, outcome.events
    return int(withdrawn[0].attributes["amount"])


def transfer(phala: SubstrateClient, dest: bytes, amount: int) -> object:
    return phala.compose_call("Balances", "transfer", {"dest": "0x" + dest.hex(), "value": amount})


def assert_transfer(outcome: ExtrinsicOutcome, sender: bytes, dest: bytes, amount: int) -> None:
    assert outcome.succeeded, outcome.failure
    (event,) = outcome.find("Balances", "Transfer")
    assert (pubkey(event.attributes["from"]), pubkey(event.attributes["to"])) == (sender, dest)
    assert event.attributes["amount"] == amount
    # ExtrinsicSuccess closes the extrinsic's events.
    assert outcome.events[-1].is_("System", "ExtrinsicSuccess"), outcome.events


def signature_kind(phala: SubstrateClient, outcome: ExtrinsicOutcome) -> str:
    block = phala.interface.get_block(outcome.block_hash)
    extrinsic = block["extrinsics"][outcome.extrinsic_index].value
    assert extrinsic["extrinsic_hash"] == outcome.extrinsic_hash
    (kind,) = extrinsic["signature"].keys()
    return str(kind)


def test_sr25519_signed_transfer_is_included_with_its_events(phala: SubstrateClient) -> None:
    alice = keypair_from_uri("//Alice", phala.ss58_format)
    dest, amount = os.urandom(32), 3 * UNIT + 1234
    before = phala.free_balance(alice.public_key)

    outcome = phala.submit(transfer(phala, dest, amount), alice)

    assert_transfer(outcome, alice.public_key, dest, amount)
    assert signature_kind(phala, outcome) == "Sr25519"
    assert phala.free_balance(dest) == amount
    fee = fee_paid(outcome, alice.public_key)
    assert 0 < fee < UNIT // 100
    assert phala.free_balance(alice.public_key) == before - amount - fee


def test_ed25519_signed_transfer_is_included_with_its_events(phala: SubstrateClient) -> None:
    account = next(a for a in substrate_dev_accounts() if a.crypto == "ed25519")
    signer = keypair_from_ed25519_seed(account.secret, phala.ss58_format)
    assert "0x" + signer.public_key.hex() == account.public_key
    dest, amount = os.urandom(32), 2 * UNIT + 777

    outcome = phala.submit(transfer(phala, dest, amount), signer)

    assert_transfer(outcome, signer.public_key, dest, amount)
    assert signature_kind(phala, outcome) == "Ed25519"
    assert phala.free_balance(dest) == amount


def test_transfer_beyond_the_balance_fails_with_the_module_error(phala: SubstrateClient) -> None:
    bob = keypair_from_uri("//Bob", phala.ss58_format)
    dest = os.urandom(32)
    before = phala.free_balance(bob.public_key)

    outcome = phala.submit(transfer(phala, dest, before + 1), bob)

    assert not outcome.succeeded
    assert outcome.failure is not None
    assert (outcome.failure.pallet, outcome.failure.error) == ("Balances", "InsufficientBalance")
    failed: ChainEvent = outcome.find("System", "ExtrinsicFailed")[0]
    assert failed.attributes["dispatch_error"]["Module"]["index"] == 10  # Balances' pallet index
    assert outcome.find("Balances", "Transfer") == []
    # Included, so the fee was still paid; nothing else moved.
    assert phala.free_balance(bob.public_key) == before - fee_paid(outcome, bob.public_key)
    assert phala.free_balance(dest) == 0
    with pytest.raises(DispatchFailed, match=r"Balances\.InsufficientBalance"):
        outcome.raise_for_failure()


def test_extrinsic_from_an_account_that_cannot_pay_is_rejected_before_any_block(phala: SubstrateClient) -> None:
    nobody = keypair_from_ed25519_seed(os.urandom(32), phala.ss58_format)
    head = phala.block_number()

    with pytest.raises(ExtrinsicRejected) as info:
        phala.submit(transfer(phala, os.urandom(32), UNIT), nobody)

    assert info.value.detail["code"] == 1010  # "invalid transaction" (here: cannot pay the fee)
    assert phala.block_number() == head  # Instant mode builds a block per accepted extrinsic: none was built


def test_connect_gives_up_after_its_timeout_on_a_silent_endpoint() -> None:
    # A listener that accepts TCP but never answers the websocket handshake, like a hung node.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()
        with pytest.raises(SubstrateTimeout):
            SubstrateClient(f"ws://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert time.monotonic() - started < 2


def test_a_session_checks_the_parachain_it_is_connected_to(devnet: DevnetState) -> None:
    """`[chains.phala] para_id` against `ParachainInfo.ParachainId`: the peer's endpoint is refused for Phala's id."""
    right = ClientSession(devnet.phala.ws_url, para_id=devnet.phala.para_id)
    wrong = ClientSession(devnet.peer.ws_url, para_id=devnet.phala.para_id)
    try:
        assert right.run_sync(lambda r: r.para_id()) == devnet.phala.para_id
        with pytest.raises(ParaIdMismatch) as info:
            wrong.run_sync(lambda r: None)
        assert (info.value.expected, info.value.actual) == (devnet.phala.para_id, devnet.peer.para_id)
    finally:
        right.close()
        wrong.close()


def test_connections_to_one_chain_share_its_decoded_metadata_and_another_chain_has_its_own(
    devnet: DevnetState,
) -> None:
    """A process decodes a chain's runtime metadata once (relayers/substrate/metadata_memo.py); a second connection
    to the same chain reads and signs with it as the first does, even while the first connection's type registry is
    cleared (what an upgrade does to it); the sibling parachain reads with its own runtime's (here the same runtime
    build, which the memo may share: same genesis hash and spec name on Chopsticks)."""
    with (
        SubstrateClient(devnet.phala.ws_url) as first,
        SubstrateClient(devnet.phala.ws_url) as second,
        SubstrateClient(devnet.peer.ws_url) as peer,
    ):
        shared = second.interface.metadata
        assert shared is first.interface.metadata
        assert second.interface.runtime_config is not first.interface.runtime_config  # each its own type registry
        decoded_with = shared.get_metadata_pallet("System").get_storage_function("Account").runtime_config
        assert decoded_with not in (first.interface.runtime_config, second.interface.runtime_config)
        first.interface.runtime_config.clear_type_registry()
        account = os.urandom(32)
        alice = keypair_from_uri("//Alice", second.ss58_format)
        assert_transfer(second.submit(transfer(second, account, 3 * UNIT), alice), alice.public_key, account, 3 * UNIT)
        assert second.free_balance(account) == 3 * UNIT
        assert peer.free_balance(account) == 0  # another chain: the same query decoded against its own runtime
