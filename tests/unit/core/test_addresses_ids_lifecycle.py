from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.addresses import format_eth_address, format_substrate_account, parse_eth_address, parse_substrate_account
from bridge.domains import Domain, domain_by_name
from bridge.errors import AddressError, TransitionError, UnknownChainError
from bridge.ids import message_id
from bridge.lifecycle import MessageState, can_transition, check_transition

ALICE_SS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
ALICE_HEX = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"


def test_substrate_accounts() -> None:
    assert parse_substrate_account(ALICE_SS58).hex() == ALICE_HEX
    assert parse_substrate_account("0x" + ALICE_HEX).hex() == ALICE_HEX
    assert format_substrate_account(bytes.fromhex(ALICE_HEX)) == ALICE_SS58
    # Same key under Phala's own prefix (30) decodes to the same account.
    assert parse_substrate_account(format_substrate_account(bytes.fromhex(ALICE_HEX), 30)).hex() == ALICE_HEX


@pytest.mark.parametrize(
    "bad",
    [ALICE_SS58[:-1] + "Z", "0x1234", "", "hello", "0x" + "00" * 32, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
)
def test_bad_substrate_accounts(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_substrate_account(bad)


def test_eth_addresses() -> None:
    raw = parse_eth_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    assert format_eth_address(raw) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    with pytest.raises(AddressError, match="checksum"):
        parse_eth_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267")
    for bad in ("0x12", ALICE_SS58, "0x" + "00" * 20, "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"):
        with pytest.raises(AddressError):
            parse_eth_address(bad)


def test_domains() -> None:
    assert domain_by_name("Ethereum") is Domain.ETHEREUM
    with pytest.raises(UnknownChainError, match="known chains: ethereum, phala"):
        domain_by_name("solana")


@given(st.integers(1, 255), st.integers(0, 2**64 - 1), st.integers(1, 255), st.integers(0, 2**64 - 1))
def test_message_ids_are_distinct_per_domain_and_nonce(d1: int, n1: int, d2: int, n2: int) -> None:
    assert (message_id(d1, n1) == message_id(d2, n2)) == ((d1, n1) == (d2, n2))


def test_lifecycle() -> None:
    path = [MessageState.OBSERVED, MessageState.VERIFIED, MessageState.SIGNED, MessageState.SUBMITTED]
    for a, b in itertools.pairwise(path):
        check_transition(a, b)
    check_transition(MessageState.SUBMITTED, MessageState.EXECUTED)
    check_transition(MessageState.SUBMITTED, MessageState.VERIFIED)  # dropped tx / reorg: sign and submit again
    check_transition(MessageState.OBSERVED, MessageState.EXECUTED)  # reconciled: already executed on chain
    with pytest.raises(TransitionError):
        check_transition(MessageState.EXECUTED, MessageState.SUBMITTED)
    with pytest.raises(TransitionError):
        check_transition(MessageState.OBSERVED, MessageState.SUBMITTED)
    assert not can_transition(MessageState.FAILED, MessageState.VERIFIED)


def test_a_message_copy_with_other_fields_has_its_own_id() -> None:
    """The id is cached on the (frozen) message; a copy with another nonce or domain must not inherit it."""
    from bridge.messages import BridgeMessage, MessageKind, SourceRef

    m = BridgeMessage(
        source_domain=2,
        dest_domain=1,
        nonce=1,
        kind=MessageKind.TRANSFER,
        sender=b"\x01" * 32,
        recipient=b"\x02" * 20,
        resource_id=b"\x03" * 32,
        source_amount=10**12,
        amount=10**18,
        source=SourceRef(block_number=1, block_hash=b"\x00" * 32, tx_hash=b"\x00" * 32, index=0),
    )
    assert m.id == message_id(2, 1)  # cached now
    assert m.model_copy(update={"nonce": 3}).id_hex == "0x" + message_id(2, 3).hex()
    assert m.model_copy(update={"source_domain": 1}).id == message_id(1, 1)
    assert m.model_copy().id == m.id and m.model_copy() == m
