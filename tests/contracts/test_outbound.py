"""deposit and sendMessage: tokens locked or burned, events with the outbound nonce, every refusal typed."""

from __future__ import annotations

import pytest
from web3 import Web3

from bridge.evm import TokenRelease, resource_id
from relayers.ethereum import errors
from relayers.ethereum.contracts import send
from tests.contracts.conftest import PHA, PHALA, Chain

RECIPIENT = bytes(range(32))  # a 32-byte Phala account id
FEE = 10**15  # deploy default


def _pha_id(chain: Chain) -> bytes:
    return bytes.fromhex(chain.deployment.pha_resource_id[2:])


def _approve(chain: Chain, owner: str, amount: int) -> None:
    send(chain.w3, chain.pha.functions.approve(chain.deployment.bridge, amount), owner)


def test_pha_deposit_locks_and_emits_the_nonce(chain: Chain) -> None:
    alice = chain.accounts[2]
    _approve(chain, alice, 10 * PHA)
    before = chain.pha.functions.balanceOf(chain.deployment.bridge).call()
    receipt = send(chain.w3, chain.bridge.functions.deposit(PHALA, _pha_id(chain), RECIPIENT, 3 * PHA), alice)
    (event,) = chain.events(receipt, "Deposit")
    assert event == {
        "nonce": 1,
        "destinationDomain": PHALA,
        "resourceId": _pha_id(chain),
        "depositor": alice,
        "recipient": RECIPIENT,
        "amount": 3 * PHA,
    }
    assert chain.pha.functions.balanceOf(chain.deployment.bridge).call() == before + 3 * PHA
    receipt = send(chain.w3, chain.bridge.functions.deposit(PHALA, _pha_id(chain), RECIPIENT, 10**6), alice)
    assert chain.events(receipt, "Deposit")[0]["nonce"] == 2
    assert chain.bridge.functions.outboundNonce().call() == 2


def test_wrapped_deposit_burns(chain: Chain) -> None:
    bob = chain.accounts[3]
    chain.execute([TokenRelease(1, chain.deployment.wrapped_token, bob, 5 * 10**12)])
    wrapped_id = bytes.fromhex(chain.deployment.wrapped_resource_id[2:])
    send(chain.w3, chain.bridge.functions.deposit(PHALA, wrapped_id, RECIPIENT, 2 * 10**12), bob)  # no approve
    assert chain.wrapped.functions.balanceOf(bob).call() == 3 * 10**12
    assert chain.wrapped.functions.totalSupply().call() == 3 * 10**12


def test_zero_and_inexact_amounts_are_refused(chain: Chain) -> None:
    alice = chain.accounts[2]
    _approve(chain, alice, 10 * PHA)
    deposit = chain.bridge.functions.deposit
    with pytest.raises(errors.ZeroAmount, match="greater than zero"):
        send(chain.w3, deposit(PHALA, _pha_id(chain), RECIPIENT, 0), alice)
    with pytest.raises(errors.InexactAmount) as info:
        send(chain.w3, deposit(PHALA, _pha_id(chain), RECIPIENT, PHA + 1), alice)
    assert info.value.values == {"amount": PHA + 1, "granularity": 10**6}
    assert "would not convert exactly" in str(info.value)
    with pytest.raises(errors.AmountTooLarge):
        send(chain.w3, deposit(PHALA, _pha_id(chain), RECIPIENT, 2**128 * 10**6), alice)


def test_unknown_resource_and_destination(chain: Chain) -> None:
    alice = chain.accounts[2]
    with pytest.raises(errors.UnknownResource, match="is not configured"):
        send(chain.w3, chain.bridge.functions.deposit(PHALA, resource_id("DOGE"), RECIPIENT, PHA), alice)
    with pytest.raises(errors.UnsupportedDestination, match="domain 7 is not an enabled destination"):
        send(chain.w3, chain.bridge.functions.deposit(7, _pha_id(chain), RECIPIENT, PHA), alice)


def test_recipient_length(chain: Chain) -> None:
    alice, other = chain.accounts[2], 3  # domain 3: no recipient rule, any 1..256 bytes
    send(chain.w3, chain.bridge.functions.setDestination(other, True), chain.admin)
    _approve(chain, alice, 10 * PHA)
    for recipient in (b"", b"\x01" * 257):
        with pytest.raises(errors.InvalidRecipientLength):
            send(chain.w3, chain.bridge.functions.deposit(other, _pha_id(chain), recipient, PHA), alice)
    send(chain.w3, chain.bridge.functions.deposit(other, _pha_id(chain), b"\x01" * 256, PHA), alice)


def _xcm_destination(
    version: int = 1, tail: bytes = b"\x03" + (1000).to_bytes(4, "big") + b"\x01" + bytes(32)
) -> bytes:
    return b"PHXD" + bytes([version]) + b"\x0f" * 32 + tail


@pytest.mark.parametrize(
    "recipient",
    [
        b"\x01" * 20,  # an Ethereum address: Phala has no such account
        b"\x01" * 31,
        b"\x01" * 33,
        b"PHXD" + bytes(28),  # 32 bytes that read as an XCM destination without a fallback
        _xcm_destination()[:36],  # the fallback cut short
        _xcm_destination(version=2),
    ],
)
def test_deposits_phala_would_refuse_for_good_are_refused_before_the_tokens_move(
    chain: Chain, recipient: bytes
) -> None:
    alice = chain.accounts[2]
    _approve(chain, alice, 10 * PHA)
    locked = chain.pha.functions.balanceOf(chain.deployment.bridge).call()
    nonce = chain.bridge.functions.outboundNonce().call()
    with pytest.raises(errors.InvalidRecipient, match=f"recipient \\({len(recipient)} bytes\\) is not one domain 2"):
        send(chain.w3, chain.bridge.functions.deposit(PHALA, _pha_id(chain), recipient, PHA), alice)
    assert chain.pha.functions.balanceOf(chain.deployment.bridge).call() == locked
    assert chain.bridge.functions.outboundNonce().call() == nonce


def test_phala_recipients_are_an_account_or_an_xcm_destination_and_the_rule_is_the_admins(chain: Chain) -> None:
    bridge, alice = chain.bridge.functions, chain.accounts[2]
    _approve(chain, alice, 10 * PHA)
    assert bridge.recipientRule(PHALA).call() == 1 and bridge.recipientRule(3).call() == 0
    for recipient in (RECIPIENT, _xcm_destination(), _xcm_destination()[:37]):
        receipt = send(chain.w3, bridge.deposit(PHALA, _pha_id(chain), recipient, PHA), alice)
        assert chain.events(receipt, "Deposit")[0]["recipient"] == recipient
    with pytest.raises(errors.NotAdmin):
        send(chain.w3, bridge.setRecipientRule(PHALA, 0), alice)
    with pytest.raises(errors.UnknownRecipientRule):
        send(chain.w3, bridge.setRecipientRule(PHALA, 2), chain.admin)
    receipt = send(chain.w3, bridge.setRecipientRule(PHALA, 0), chain.admin)
    assert chain.events(receipt, "RecipientRuleSet")[0]["rule"] == 0
    send(chain.w3, bridge.deposit(PHALA, _pha_id(chain), b"\x01" * 20, PHA), alice)  # no rule: any bytes


def test_missing_allowance_is_reported_with_the_token_error(chain: Chain) -> None:
    alice = chain.accounts[2]
    with pytest.raises(errors.TokenCallFailed) as info:
        send(chain.w3, chain.bridge.functions.deposit(PHALA, _pha_id(chain), RECIPIENT, PHA), alice)
    nested = errors.decode_error(bytes(info.value.values["reason"]))  # type: ignore[call-overload]
    assert isinstance(nested, errors.InsufficientAllowance)
    assert "approve the bridge first" in str(info.value)


def test_send_message_takes_the_exact_fee(chain: Chain) -> None:
    sender = chain.accounts[4]
    payload = b"\x00encrypted payload"
    receipt = send(chain.w3, chain.bridge.functions.sendMessage(PHALA, payload), sender, value=FEE)
    (event,) = chain.events(receipt, "MessageSent")
    assert event == {"nonce": 1, "destinationDomain": PHALA, "sender": sender, "payload": payload, "fee": FEE}
    with pytest.raises(errors.IncorrectFee, match=f"the message fee is exactly {FEE} wei"):
        send(chain.w3, chain.bridge.functions.sendMessage(PHALA, payload), sender, value=FEE + 1)
    with pytest.raises(errors.InvalidPayloadLength):
        send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b""), sender, value=FEE)
    with pytest.raises(errors.InvalidPayloadLength):
        send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"x" * 16_385), sender, value=FEE)


def test_deposits_and_messages_share_the_outbound_nonce(chain: Chain) -> None:
    alice = chain.accounts[2]
    _approve(chain, alice, PHA)
    send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"m"), alice, value=FEE)
    receipt = send(chain.w3, chain.bridge.functions.deposit(PHALA, _pha_id(chain), RECIPIENT, PHA), alice)
    assert chain.events(receipt, "Deposit")[0]["nonce"] == 2


def test_fees_are_withdrawn_by_the_admin(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"m"), chain.accounts[4], value=FEE)
    treasury = Web3.to_checksum_address(chain.accounts[7])
    before = chain.w3.eth.get_balance(treasury)
    with pytest.raises(errors.NotAdmin):
        send(chain.w3, chain.bridge.functions.withdrawFees(treasury), chain.accounts[4])
    send(chain.w3, chain.bridge.functions.withdrawFees(treasury), chain.admin)
    assert chain.w3.eth.get_balance(treasury) == before + FEE
    send(chain.w3, chain.bridge.functions.setMessageFee(0), chain.admin)
    send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"free"), chain.accounts[4])


def test_destinations_fee_and_nonce_share_one_word_without_disturbing_each_other(chain: Chain) -> None:
    bridge = chain.bridge.functions
    sender = chain.accounts[4]
    send(chain.w3, bridge.sendMessage(PHALA, b"m"), sender, value=FEE)
    # a destination below 63 is a bit of the outbound word, a larger one lives in a mapping: both work alike
    for domain in (3, 62, 63, 1000, 2**32 - 1):
        assert not bridge.isDestination(domain).call()
        with pytest.raises(errors.UnsupportedDestination):
            send(chain.w3, bridge.sendMessage(domain, b"m"), sender, value=FEE)
        send(chain.w3, bridge.setDestination(domain, True), chain.admin)
        assert bridge.isDestination(domain).call()
        receipt = send(chain.w3, bridge.sendMessage(domain, b"m"), sender, value=FEE)
        assert chain.events(receipt, "MessageSent")[0]["destinationDomain"] == domain
    assert bridge.outboundNonce().call() == 6
    send(chain.w3, bridge.setMessageFee(2**128 - 1), chain.admin)
    assert bridge.messageFee().call() == 2**128 - 1
    assert bridge.outboundNonce().call() == 6 and bridge.isDestination(62).call() and bridge.isDestination(PHALA).call()
    send(chain.w3, bridge.setMessageFee(7), chain.admin)
    for domain in (62, 1000):
        send(chain.w3, bridge.setDestination(domain, False), chain.admin)
        assert not bridge.isDestination(domain).call()
    assert bridge.isDestination(3).call() and bridge.isDestination(63).call() and bridge.isDestination(PHALA).call()
    receipt = send(chain.w3, bridge.sendMessage(PHALA, b"m"), sender, value=7)
    assert chain.events(receipt, "MessageSent")[0]["nonce"] == 7 and bridge.messageFee().call() == 7
    assert not chain.bridge.functions.paused().call()


def test_configuration_guards(chain: Chain) -> None:
    bridge = chain.bridge.functions
    with pytest.raises(errors.UnsupportedDestination):  # a bridge never sends to its own domain
        send(chain.w3, bridge.setDestination(1, True), chain.admin)
    with pytest.raises(errors.TargetNotAllowed):  # tokens and the bridge itself are never call targets
        send(chain.w3, bridge.setAllowedTarget(chain.deployment.pha_token, True), chain.admin)
    with pytest.raises(errors.TargetNotAllowed):
        send(chain.w3, bridge.setAllowedTarget(chain.deployment.bridge, True), chain.admin)
    send(chain.w3, bridge.setDestination(PHALA, False), chain.admin)
    with pytest.raises(errors.UnsupportedDestination):
        send(chain.w3, bridge.sendMessage(PHALA, b"m"), chain.accounts[4], value=FEE)
    send(chain.w3, bridge.setResource(_pha_id(chain), "0x" + "00" * 20, 0), chain.admin)
    assert bridge.resource(_pha_id(chain)).call()[0] == "0x" + "00" * 20
