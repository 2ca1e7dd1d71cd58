"""Refund batches on Phala (pure parts): what a member checks before it signs one, and how the refunds are read back.

A refund moves tokens on Ethereum, so a member signs one only for a deposit its own rules and chain view refuse for
good; the devnet test (tests/devnet/test_refunds.py) proves the whole path on Chopsticks and anvil."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.intents import decode_executed
from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from bridge.refunds import RefundReason, decode_refund_note, encode_refund_note, refund_of
from relayers.substrate.bridge_calls import parse_batch
from relayers.substrate.errors import RebuildMismatch, StaleRequest
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.payload import signing_payload
from relayers.substrate.plan import canonical_order
from relayers.substrate.rebuild import (
    ChainFacts,
    build_call,
    build_refund_call,
    rebuild_and_check,
    refund_decision,
    request_context,
)
from relayers.substrate.replies import refunds_of
from tests.unit.substrate.helpers import BRIDGE, INDICES, RID, RUNTIME, inbound

ED = 1_000
NONCE = 41
NEW = b"\x0a" * 32  # no account on Phala
OLD = b"\x0b" * 32  # has one
FACTS = ChainFacts(
    RUNTIME, 2, BRIDGE, RID, NONCE, frozenset(), existential_deposit=ED, accounts={NEW: False, OLD: False}
)
TO_BRIDGE = inbound(1, 5 * 10**12, BRIDGE)
SMALL = inbound(2, ED - 1, NEW)


def refund_request(messages: list[BridgeMessage], why: list[RefundReason], nonce: int = NONCE) -> SigningRequest:
    ordered = canonical_order(messages)
    reasons = {m.id_hex: w for m, w in zip(messages, why, strict=True)}
    call = build_refund_call(RUNTIME, [refund_of(m, reasons[m.id_hex]) for m in ordered])
    return SigningRequest(
        destination=2,
        message_ids=tuple(m.id_hex for m in ordered),
        payload=signing_payload(RUNTIME, call, nonce),
        context=request_context(RUNTIME, BRIDGE, nonce, call, (7, "0x" + "00" * 32), refund=True),
    )


GOOD = refund_request([TO_BRIDGE, SMALL], [RefundReason.BRIDGE_ACCOUNT, RefundReason.BELOW_EXISTENTIAL_DEPOSIT])


def test_a_faithful_refund_batch_is_rebuilt_exactly() -> None:
    assert rebuild_and_check(GOOD, [TO_BRIDGE, SMALL], FACTS) == GOOD.payload
    batch = parse_batch(INDICES, bytes.fromhex(str(GOOD.context["call"])[2:]))
    assert batch is not None and not batch.transfers  # nothing is paid on Phala
    (note,) = batch.notes
    refunds = decode_refund_note(note)
    assert [r.deposit_id for r in refunds] == list(GOOD.message_ids)
    assert refunds[0].depositor == TO_BRIDGE.sender and refunds[0].source_amount == TO_BRIDGE.source_amount
    assert ["0x" + i.hex() for i in decode_executed(batch.remark)] == list(GOOD.message_ids)  # settled on Phala


def test_a_deposit_phala_can_pay_is_never_refunded() -> None:
    payable = inbound(3, 5 * 10**12, OLD)
    request = refund_request([payable], [RefundReason.BRIDGE_ACCOUNT])
    with pytest.raises(RebuildMismatch, match="not a deposit Phala refuses for good"):
        rebuild_and_check(request, [payable], FACTS)
    with pytest.raises(RebuildMismatch, match="not a deposit Phala refuses for good"):  # whatever the member read
        rebuild_and_check(request, [payable], dataclasses.replace(FACTS, accounts={}))
    # below the existential deposit to an account the member sees: paid, so the leader's refund is refused as stale
    request = refund_request([SMALL], [RefundReason.BELOW_EXISTENTIAL_DEPOSIT])
    facts = dataclasses.replace(FACTS, accounts={NEW: True})
    with pytest.raises(StaleRequest, match="has an account now"):
        rebuild_and_check(request, [SMALL], facts)
    # a member that could not read the payee's account does not vouch for the refund either
    with pytest.raises(RebuildMismatch, match="no refund"):
        rebuild_and_check(request, [SMALL], dataclasses.replace(FACTS, accounts={}))


def test_a_refund_batch_with_another_reason_or_depositor_is_refused() -> None:
    wrong_reason = refund_request([TO_BRIDGE], [RefundReason.NO_GATEWAY])
    with pytest.raises(RebuildMismatch, match="not the refund batch"):
        rebuild_and_check(wrong_reason, [TO_BRIDGE], FACTS)
    other = TO_BRIDGE.model_copy(update={"sender": b"\x99" * 20})  # the leader's note pays someone else
    stolen = refund_request([other], [RefundReason.BRIDGE_ACCOUNT])
    with pytest.raises(RebuildMismatch, match="not the refund batch"):
        rebuild_and_check(stolen, [TO_BRIDGE], FACTS)


def test_a_refund_batch_is_refused_once_settled_out_of_order_or_at_another_nonce() -> None:
    with pytest.raises(StaleRequest, match="already settled"):
        rebuild_and_check(GOOD, [TO_BRIDGE, SMALL], dataclasses.replace(FACTS, executed=frozenset({SMALL.id_hex})))
    swapped = dataclasses.replace(GOOD, message_ids=tuple(reversed(GOOD.message_ids)))
    with pytest.raises(RebuildMismatch, match="canonical order"):
        rebuild_and_check(swapped, [TO_BRIDGE, SMALL], FACTS)
    ahead = refund_request([TO_BRIDGE], [RefundReason.BRIDGE_ACCOUNT], nonce=NONCE + 1)
    with pytest.raises(RebuildMismatch, match="not the bridge account's finalized nonce"):
        rebuild_and_check(ahead, [TO_BRIDGE], FACTS)


def test_a_refund_dressed_as_an_execution_and_the_reverse_are_refused() -> None:
    # the same ids as an execution batch: a transfer to the bridge account is never executed
    call = build_call(RUNTIME, [TO_BRIDGE])
    execution = SigningRequest(
        2, (TO_BRIDGE.id_hex,), signing_payload(RUNTIME, call, NONCE),
        request_context(RUNTIME, BRIDGE, NONCE, call, (7, "0x" + "00" * 32)),
    )  # fmt: skip
    with pytest.raises(RebuildMismatch, match="must not be executed"):
        rebuild_and_check(execution, [TO_BRIDGE], FACTS)
    # an execution batch's call under the refund label
    relabelled = dataclasses.replace(execution, context={**execution.context, "batch": "refund"})
    with pytest.raises(RebuildMismatch, match="not the refund batch"):
        rebuild_and_check(relabelled, [TO_BRIDGE], FACTS)


def test_the_decision_follows_the_members_rules() -> None:
    assert refund_decision(TO_BRIDGE, FACTS) == refund_of(TO_BRIDGE, RefundReason.BRIDGE_ACCOUNT)
    assert refund_decision(SMALL, FACTS) == refund_of(SMALL, RefundReason.BELOW_EXISTENTIAL_DEPOSIT)
    assert refund_decision(inbound(4, ED, NEW), FACTS) is None  # creates the account: paid
    assert refund_decision(TO_BRIDGE.model_copy(update={"resource_id": b"\x08" * 32}), FACTS) is None  # not ours


def _extrinsic(notes: tuple[bytes, ...], ids: tuple[str, ...]) -> BridgeExtrinsic:
    return BridgeExtrinsic(12, "0x" + "12" * 32, 3, "0x" + "ab" * 32, NONCE, ids, None, notes)


def test_refunds_are_read_back_only_where_the_same_extrinsic_settles_the_deposit() -> None:
    refunds = [refund_of(TO_BRIDGE, RefundReason.BRIDGE_ACCOUNT), refund_of(SMALL, RefundReason.NO_GATEWAY)]
    note = encode_refund_note(refunds)
    both = refunds_of(_extrinsic((note,), (TO_BRIDGE.id_hex, SMALL.id_hex)), BRIDGE)
    assert [m.id_hex for m in both] == [r.refund_id for r in refunds]
    assert both[0].recipient == TO_BRIDGE.sender and both[0].amount == TO_BRIDGE.source_amount
    assert both[0].source.block_number == 12 and both[0].source.index == 3
    # a note whose deposit the extrinsic's record does not settle pays nothing back
    assert [m.id_hex for m in refunds_of(_extrinsic((note,), (SMALL.id_hex,)), BRIDGE)] == [refunds[1].refund_id]
    # a malformed note is logged and skipped, never half-read
    assert refunds_of(_extrinsic((note[:-1],), (TO_BRIDGE.id_hex, SMALL.id_hex)), BRIDGE) == []
