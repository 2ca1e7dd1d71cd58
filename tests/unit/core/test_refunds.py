"""The refund note (bridge/refunds.py): one encoding per value, every malformed form refused with a reason, and the
refund transfer it stands for passes the bridge's own policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.domains import Domain
from bridge.intents import IntentError
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.policy import BridgePolicy, Resource
from bridge.refunds import (
    REFUND_NONCE_FLOOR,
    Refund,
    RefundReason,
    decode_refund_note,
    encode_refund_note,
    is_refund,
    refund_message,
    refund_of,
    refundable,
)
from enclave_signer.committee.omission import lane_of
from tests.unit.substrate.helpers import BRIDGE, RID, inbound

PHA = Resource("PHA", RID, {Domain.ETHEREUM: 18, Domain.PHALA: 12})
PLACE = SourceRef(block_number=9, block_hash=b"\x09" * 32, tx_hash=b"\x0a" * 32, index=2)


def deposit(nonce: int = 7, planck: int = 5 * 10**12, **kw: object) -> BridgeMessage:
    return inbound(nonce, planck, BRIDGE, **kw)  # an Ethereum deposit to the bridge account: refused for good


def refund(nonce: int = 7, planck: int = 5 * 10**12, reason: RefundReason = RefundReason.BRIDGE_ACCOUNT) -> Refund:
    return Refund(nonce, b"\x11" * 20, planck * 10**6, planck, RID, reason)


def test_a_refund_pays_the_deposit_back_to_its_depositor_in_its_own_units() -> None:
    m = deposit()
    r = refund_of(m, RefundReason.BRIDGE_ACCOUNT)
    assert r.deposit_id == m.id_hex
    back = refund_message(r, bridge_account=BRIDGE, place=PLACE)
    assert (back.source_domain, back.dest_domain, back.kind) == (Domain.PHALA, Domain.ETHEREUM, MessageKind.TRANSFER)
    assert back.nonce == REFUND_NONCE_FLOOR + m.nonce and back.id_hex == r.refund_id
    assert back.recipient == m.sender and back.sender == BRIDGE and back.resource_id == RID
    assert (back.source_amount, back.amount) == (m.amount, m.source_amount)  # exactly what was locked
    BridgePolicy.of([PHA]).check(back)  # the relayers' and enclaves' own check passes it
    assert is_refund(back) and not is_refund(m)
    assert lane_of(back).kind == "refund"  # its own nonce space: never mistaken for a Phala deposit or a reply
    assert r.describe().startswith("refunded to 0x" + "11" * 20 + " on Ethereum as message " + r.refund_id)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"source_domain": 3}, "not from Ethereum"),
        ({"kind": MessageKind.CALL}, "not a transfer"),
        ({"sender": b"\x11" * 32}, "no 20-byte depositor to pay back"),
        ({"nonce": REFUND_NONCE_FLOOR}, "a nonce its refund could not be numbered from"),
        ({"amount": 0, "source_amount": 0}, "nothing to pay back"),
        ({"payload": b"\x01"}, "a transfer with a payload"),
    ],
)
def test_only_a_plain_ethereum_token_deposit_can_be_refunded(change: dict[str, object], why: str) -> None:
    m = deposit().model_copy(update=change)
    assert not refundable(m), why
    with pytest.raises(IntentError, match="is not a deposit that can be refunded"):
        refund_of(m, RefundReason.BRIDGE_ACCOUNT)


def test_the_note_round_trips() -> None:
    refunds = (refund(7), refund(3, 1, RefundReason.BELOW_EXISTENTIAL_DEPOSIT), refund(12, 9, RefundReason.NO_GATEWAY))
    note = encode_refund_note(refunds)
    assert len(note) == 7 + 3 * 109
    assert decode_refund_note(note) == refunds


GOOD = encode_refund_note((refund(7), refund(8)))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (GOOD[:-1], "need 225 bytes, got 224"),
        (GOOD + b"\x00", "need 225 bytes, got 226"),
        (b"PHBX" + GOOD[4:], "does not start with"),
        (GOOD[:4] + b"\x02" + GOOD[5:], "unsupported version 2"),
        (GOOD[:5] + b"\x00\x00", "count must be 1..1024, got 0"),
        (GOOD[:-1] + b"\x09", "unknown reason 9"),
        (GOOD[:7] + GOOD[7:116] + GOOD[7:116], "refunded twice"),
        (GOOD[:7] + (0).to_bytes(8, "big") + GOOD[15:], r"outside 1\.\.2\^62-1"),
        (GOOD[:7] + REFUND_NONCE_FLOOR.to_bytes(8, "big") + GOOD[15:], r"outside 1\.\.2\^62-1"),
        (GOOD[:35] + bytes(32) + GOOD[67:], "source amount 0 is not a positive u256"),
        (GOOD[:67] + bytes(16) + GOOD[83:], "amount 0 is not a positive u128"),
        (b"PHB", "truncated in magic"),
    ],
)
def test_a_malformed_note_is_refused_with_what_is_wrong(data: bytes, error: str) -> None:
    with pytest.raises(IntentError, match=error):
        decode_refund_note(data)


def test_a_note_refunding_nothing_or_one_deposit_twice_is_never_written() -> None:
    with pytest.raises(IntentError, match=r"count must be 1\.\.1024, got 0"):
        encode_refund_note(())
    with pytest.raises(IntentError, match="refunded twice"):
        encode_refund_note((refund(7), refund(7, 1)))


@given(st.binary(min_size=0, max_size=400))
def test_any_bytes_decode_to_the_one_encoding_or_are_refused(data: bytes) -> None:
    try:
        refunds = decode_refund_note(b"PHBF\x01" + data)
    except IntentError:
        return
    assert encode_refund_note(refunds) == b"PHBF\x01" + data


@given(st.integers(0, len(GOOD) - 1), st.integers(1, 255))
def test_a_changed_byte_is_another_valid_note_or_refused(position: int, delta: int) -> None:
    data = bytearray(GOOD)
    data[position] = (data[position] + delta) % 256
    try:
        refunds = decode_refund_note(bytes(data))
    except IntentError:
        return
    assert encode_refund_note(refunds) == bytes(data) and refunds != decode_refund_note(GOOD)
