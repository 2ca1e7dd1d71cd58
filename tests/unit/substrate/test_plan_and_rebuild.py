"""Which messages go into a batch and in what order, and the verifier's rebuild of a request (pure parts)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.gateway import (
    BeneficiaryKind,
    GatewayConfig,
    GatewayRoute,
    GatewayStatus,
    RefundReason,
    XcmDestination,
    decode_destination,
    decode_record,
    encode_destination,
    encode_program_v2,
    is_record,
)
from bridge.intents import encode_executed
from bridge.messages import BridgeMessage, MessageKind
from bridge.ports import SigningRequest
from bridge.refunds import RefundReason as Why
from relayers.substrate.bridge_calls import Transfer, encode_batch, parse_batch
from relayers.substrate.errors import RebuildMismatch, StaleRequest
from relayers.substrate.payload import signing_payload
from relayers.substrate.plan import BatchPlan, canonical_order, plan_around_probe, plan_batch, static_refusal
from relayers.substrate.rebuild import ChainFacts, build_call, rebuild_and_check, request_context
from tests.unit.substrate.helpers import BRIDGE, INDICES, RID, RUNTIME, inbound

ED = 1_000
UNIT = 10**12


def plan(messages: list[BridgeMessage], **kw: object) -> BatchPlan:
    args: dict[str, object] = dict(
        domain=2,
        bridge_account=BRIDGE,
        resource_id=RID,
        existential_deposit=ED,
        existing={},
        executed=frozenset(),
        spendable=10**30,
    )
    args.update(kw)
    return plan_batch(messages, **args)  # type: ignore[arg-type]


def test_canonical_order_is_largest_first_then_id_whatever_the_input_order() -> None:
    msgs = [inbound(1, 5 * UNIT), inbound(2, 9 * UNIT), inbound(3, 5 * UNIT)]
    ordered = canonical_order(msgs)
    assert [m.amount for m in ordered] == [9 * UNIT, 5 * UNIT, 5 * UNIT]
    assert ordered[1].id < ordered[2].id
    assert canonical_order(reversed(msgs)) == ordered


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"dest_domain": 1, "recipient": b"\x01" * 20}, "destination domain 1 is not this chain"),
        ({"kind": MessageKind.CALL}, "executes transfers only"),
        ({"resource_id": b"\x08" * 32}, "is not the native token"),
        ({"recipient": b"\x01" * 20}, "32-byte account, got 20"),
        ({"recipient": BRIDGE}, "the bridge account itself"),
        ({"amount": 0, "source_amount": 0}, "not a positive u128"),
        ({"amount": 2**128, "source_amount": 2**128 * 10**6}, "not a positive u128"),
        ({"payload": b"\x01"}, "carries no payload"),
    ],
)
def test_static_refusals(change: dict[str, object], reason: str) -> None:
    m = inbound(1, UNIT).model_copy(update=change)
    assert reason in (static_refusal(m, domain=2, bridge_account=BRIDGE, resource_id=RID) or "")
    result = plan([m, inbound(2, UNIT)])
    refunds = {r.message.id_hex: r for r in result.refunds}
    if set(change) == {"recipient"}:  # a deposit Phala refuses for its recipient alone: refunded, not just refused
        assert m.id_hex not in result.refused
        assert reason in refunds[m.id_hex].reason
    else:
        assert reason in result.refused[m.id_hex] and m.id_hex not in refunds
    assert [x.nonce for x in result.included] == [2]


def test_below_existential_deposit_to_a_new_account_is_refused_but_not_to_an_existing_one() -> None:
    new, old = b"\x0a" * 32, b"\x0b" * 32
    small_new, small_old = inbound(1, ED - 1, new), inbound(2, ED - 1, old)
    result = plan([small_new, small_old], existing={old: True})
    (refund,) = result.refunds
    assert refund.message == small_new and refund.why is Why.BELOW_EXISTENTIAL_DEPOSIT
    assert "below the existential deposit (1000)" in refund.reason
    assert [m.id_hex for m in result.included] == [small_old.id_hex]
    # not an Ethereum deposit the bridge can pay back (no 20-byte depositor): refused, and nothing refunds it
    odd = small_new.model_copy(update={"sender": b"\x11" * 32})
    result = plan([odd], existing={old: True})
    assert "below the existential deposit" in result.refused[odd.id_hex] and not result.refunds


def test_a_larger_transfer_in_the_batch_creates_the_account_for_a_smaller_one() -> None:
    new = b"\x0a" * 32
    big, small = inbound(1, ED, new), inbound(2, 1, new)
    result = plan([small, big])
    assert [m.id_hex for m in result.included] == [big.id_hex, small.id_hex]
    assert not result.refused


def test_a_small_transfer_waits_when_the_one_that_creates_its_account_is_deferred() -> None:
    new = b"\x0a" * 32
    big, small = inbound(1, 10 * ED, new), inbound(2, 1, new)
    result = plan([small, big], spendable=5 * ED)
    assert not result.included and not result.refused
    assert result.deferred == {big.id_hex, small.id_hex} and result.short_of_funds


def test_liquidity_defers_what_does_not_fit_and_keeps_what_does() -> None:
    a, b, c = inbound(1, 5 * UNIT), inbound(2, 3 * UNIT), inbound(3, 1 * UNIT)
    result = plan([a, b, c], spendable=4 * UNIT)
    assert [m.id_hex for m in result.included] == [b.id_hex, c.id_hex]
    assert result.deferred == {a.id_hex} and result.short_of_funds


def test_a_held_transfer_has_its_amount_set_aside_until_it_is_paid() -> None:
    big, mid, small = inbound(1, 5 * UNIT), inbound(2, 3 * UNIT), inbound(3, 1 * UNIT)
    # without a hold the smaller ones spend what there is; held for the big one, they are paid only beyond its 5
    result = plan([big, mid, small], spendable=4 * UNIT, hold=(big.id_hex, big.amount))
    assert not result.included and result.unpaid == {big.id_hex, mid.id_hex, small.id_hex}
    result = plan([big, mid, small], spendable=7 * UNIT, hold=(big.id_hex, big.amount))
    assert [m.id_hex for m in result.included] == [big.id_hex, small.id_hex]  # 5 + 1: paid, mid waits for 9
    assert result.unpaid == {mid.id_hex}
    # a hold on a transfer not in this batch still sets its amount aside
    result = plan([mid, small], spendable=5 * UNIT, hold=(big.id_hex, big.amount))
    assert not result.included and result.short_of_funds
    result = plan([mid, small], spendable=6 * UNIT, hold=(big.id_hex, big.amount))
    assert [m.id_hex for m in result.included] == [small.id_hex]


def test_a_hold_ends_with_its_transfer_executed_or_refused() -> None:
    big, small = inbound(1, 5 * UNIT), inbound(2, 1 * UNIT)
    result = plan([small], spendable=1 * UNIT, hold=(big.id_hex, big.amount), executed=frozenset({big.id_hex}))
    assert [m.id_hex for m in result.included] == [small.id_hex]
    bad = big.model_copy(update={"recipient": BRIDGE})
    result = plan([bad, small], spendable=1 * UNIT, hold=(bad.id_hex, bad.amount))
    assert [r.message.id_hex for r in result.refunds] == [bad.id_hex]
    assert [m.id_hex for m in result.included] == [small.id_hex]


def test_a_held_transfer_deferred_by_a_probe_keeps_its_amount_aside() -> None:
    big, small = inbound(1, 5 * UNIT), inbound(2, 1 * UNIT)
    result = plan([big, small], spendable=5 * UNIT, hold=(big.id_hex, big.amount), only=frozenset({small.id_hex}))
    assert not result.included and result.deferred == {big.id_hex, small.id_hex}
    assert result.unpaid == {small.id_hex}  # the big one fits: it waits for the probe, not for funds


def test_a_probe_the_bridge_cannot_pay_lets_the_unsuspected_through() -> None:
    big, other_suspect, a, b = (inbound(n, amount * UNIT) for n, amount in ((1, 9), (2, 1), (3, 2), (4, 1)))
    kw: dict[str, object] = dict(
        domain=2, bridge_account=BRIDGE, resource_id=RID, existential_deposit=ED, existing={}, executed=frozenset()
    )
    probe, suspects = frozenset({big.id_hex}), frozenset({big.id_hex, other_suspect.id_hex})
    msgs = [big, other_suspect, a, b]
    # payable: the probe goes alone, whatever else fits
    result = plan_around_probe(msgs, probe=probe, suspects=suspects, spendable=20 * UNIT, **kw)
    assert [m.id_hex for m in result.included] == [big.id_hex]
    # not payable: the messages no group suspects go; every suspect waits, the probe as unpaid
    result = plan_around_probe(msgs, probe=probe, suspects=suspects, spendable=5 * UNIT, **kw)
    assert [m.id_hex for m in result.included] == [a.id_hex, b.id_hex]
    assert result.deferred == suspects and big.id_hex in result.unpaid
    # nothing unsuspected: the probe's plan stands (nothing to pay)
    result = plan_around_probe([big], probe=probe, suspects=suspects, spendable=5 * UNIT, **kw)
    assert not result.included and result.unpaid == probe


def test_executed_duplicates_probe_groups_and_size_cap() -> None:
    msgs = [inbound(n, UNIT * n) for n in range(1, 6)]
    result = plan([*msgs, msgs[0]], executed=frozenset({msgs[1].id_hex}), only=frozenset({msgs[2].id_hex}))
    assert result.executed == {msgs[1].id_hex}
    assert [m.id_hex for m in result.included] == [msgs[2].id_hex]
    assert result.deferred == {msgs[0].id_hex, msgs[3].id_hex, msgs[4].id_hex} and not result.short_of_funds
    assert len(plan(msgs, max_items=2).included) == 2


# ---- rebuild_and_check ---------------------------------------------------------------------------------------------

NONCE = 41
FACTS = ChainFacts(RUNTIME, 2, BRIDGE, RID, NONCE, frozenset())


def request_for(messages: list[BridgeMessage], nonce: int = NONCE) -> SigningRequest:
    ordered = canonical_order(messages)
    call = build_call(RUNTIME, ordered)
    return SigningRequest(
        destination=2,
        message_ids=tuple(m.id_hex for m in ordered),
        payload=signing_payload(RUNTIME, call, nonce),
        context=request_context(RUNTIME, BRIDGE, nonce, call, (7, "0x" + "00" * 32)),
    )


MSGS = [inbound(1, 3 * UNIT), inbound(2, 2 * UNIT), inbound(3, 1 * UNIT)]


def test_a_faithful_request_is_rebuilt_exactly() -> None:
    request = request_for(MSGS)
    assert rebuild_and_check(request, MSGS, FACTS) == request.payload
    batch = parse_batch(INDICES, bytes.fromhex(str(request.context["call"])[2:]))
    assert batch is not None
    assert batch.transfers == tuple(Transfer(m.recipient, m.amount) for m in MSGS)
    assert batch.remark == encode_executed(m.id for m in MSGS)
    # extra messages handed to the verifier are fine: they are not in the payload, so they are not signed
    assert rebuild_and_check(request, [*MSGS, inbound(9, UNIT)], FACTS) == request.payload


def test_a_request_built_for_other_messages_is_refused() -> None:
    request = request_for(MSGS)
    others = [inbound(1, 3 * UNIT, b"\x99" * 32), MSGS[1], MSGS[2]]  # same ids, another recipient for the first
    with pytest.raises(RebuildMismatch, match="call is not the batch"):
        rebuild_and_check(request, others, FACTS)
    with pytest.raises(RebuildMismatch, match="not given to verify"):
        rebuild_and_check(request, MSGS[:2], FACTS)


def _with(request: SigningRequest, **context: object) -> SigningRequest:
    return replace(request, context={**request.context, **context})  # type: ignore[dict-item]


def test_every_tampering_is_refused() -> None:
    request = request_for(MSGS)
    call = bytes.fromhex(str(request.context["call"])[2:])
    two = [MSGS[0], MSGS[1]]
    smuggled = encode_batch(
        INDICES,
        [Transfer(m.recipient, m.amount) for m in two] + [Transfer(b"\x66" * 32, UNIT)],
        encode_executed(m.id for m in two),
    )
    cases = [
        (replace(request, payload=request.payload[:-1] + b"\x00"), "payload is not the signing payload"),
        (_with(request, call="0x" + call[:-1].hex() + "00"), "call is not the batch"),
        (replace(request, message_ids=request.message_ids[::-1]), "canonical order"),
        (replace(request, message_ids=request.message_ids * 2), "distinct"),
        (replace(request, message_ids=()), "distinct"),
        (replace(request, destination=1), "domain 1"),
        (_with(request, account_nonce=NONCE + 1), "not the bridge account's finalized nonce"),
        (_with(request, account_nonce="41"), "must be an integer"),
        (_with(request, genesis_hash="0x" + "00" * 32), "genesis_hash"),
        (_with(request, spec_version=901), "spec_version"),
        (_with(request, era="4500"), "era"),
        (_with(request, tip=1), "tip"),
        (_with(request, bridge_account="0x" + "00" * 32), "bridge_account"),
        (replace(request_for(two), context={**request_for(two).context, "call": "0x" + smuggled.hex()}), "call"),
    ]
    for bad, message in cases:
        with pytest.raises(RebuildMismatch, match=message) as info:
            rebuild_and_check(bad, MSGS, FACTS)
        assert info.value.code == "mismatch", message


def test_a_request_at_an_already_used_nonce_is_stale_not_a_mismatch() -> None:
    """The leader built it before its view saw the previous batch finalize: it can never be included, and the
    refusal's code (`executed`) is one distrust.py does not count against the leader."""
    stale = request_for(MSGS, nonce=NONCE - 1)
    with pytest.raises(StaleRequest, match="below the bridge account's finalized nonce") as info:
        rebuild_and_check(stale, MSGS, FACTS)
    assert info.value.code == "executed"


def test_executed_and_never_executable_messages_are_refused() -> None:
    request = request_for(MSGS)
    with pytest.raises(RebuildMismatch, match="already executed") as info:
        rebuild_and_check(request, MSGS, replace(FACTS, executed=frozenset({MSGS[0].id_hex})))
    assert info.value.code == "executed"  # the leader's view lags: not a strike against it (distrust.py)
    to_bridge = [inbound(1, UNIT, BRIDGE)]
    with pytest.raises(RebuildMismatch, match="bridge account itself"):
        rebuild_and_check(request_for(to_bridge), to_bridge, FACTS)


# ---- the XCM gateway's items ---------------------------------------------------------------------------------------

RESERVE = b"\x44" * 32
FALLBACK = b"\x33" * 32
ROUTE = GatewayRoute("peer", 1000, frozenset({2}), frozenset({BeneficiaryKind.ACCOUNT_ID32}), 20_000_000, 3_333_333)
GATEWAY = GatewayConfig(RESERVE, {1000: ROUTE}, RID)
GW_FACTS = replace(FACTS, gateway=GATEWAY)


def to_peer(nonce: int, amount: int, **dest: object) -> BridgeMessage:
    fields: dict[str, object] = dict(
        fallback=FALLBACK, xcm_version=2, para_id=1000, beneficiary_kind=BeneficiaryKind.ACCOUNT_ID32,
        beneficiary=b"\x22" * 32, max_fee=20_000_000,
    )  # fmt: skip
    fields.update(dest)
    return inbound(nonce, amount, encode_destination(XcmDestination(**fields)))  # type: ignore[arg-type]


def gateway_request(messages: list[BridgeMessage], gateway: GatewayConfig = GATEWAY) -> SigningRequest:
    ordered = canonical_order(messages)
    call = build_call(RUNTIME, ordered, gateway)
    return SigningRequest(
        destination=2,
        message_ids=tuple(m.id_hex for m in ordered),
        payload=signing_payload(RUNTIME, call, NONCE),
        context=request_context(RUNTIME, BRIDGE, NONCE, call, (7, "0x" + "00" * 32)),
    )


def test_a_gateway_item_pays_the_reserve_and_records_the_exact_program() -> None:
    sent, refunded, plain = to_peer(1, 3 * UNIT), to_peer(2, 2 * UNIT, para_id=3000), inbound(3, UNIT)
    request = gateway_request([sent, refunded, plain])
    assert rebuild_and_check(request, [sent, refunded, plain], GW_FACTS) == request.payload
    batch = parse_batch(INDICES, bytes.fromhex(str(request.context["call"])[2:]))
    assert batch is not None
    records = [decode_record(r) for r in batch.remarks if is_record(r)]
    assert batch.transfers == (
        Transfer(RESERVE, 3 * UNIT),
        Transfer(FALLBACK, 2 * UNIT),
        Transfer(plain.recipient, UNIT),
    )
    assert records[0].status is GatewayStatus.SENT and records[0].message_id == sent.id
    assert records[0].program == encode_program_v2(3 * UNIT, decode_destination(sent.recipient), 10**10 + 1)
    assert records[1].status is GatewayStatus.REFUNDED and records[1].reason is RefundReason.UNKNOWN_PARACHAIN
    assert records[1].account == FALLBACK
    assert batch.remark == encode_executed(m.id for m in (sent, refunded, plain))


def test_a_verifier_refuses_a_gateway_item_it_would_not_build() -> None:
    sent = to_peer(1, 3 * UNIT)
    other_reserve = GatewayConfig(b"\x55" * 32, {1000: ROUTE}, RID)  # a leader paying another account
    with pytest.raises(RebuildMismatch, match="call is not the batch"):
        rebuild_and_check(gateway_request([sent], other_reserve), [sent], GW_FACTS)
    no_route = GatewayConfig(RESERVE, {}, RID)  # a leader that refunds what the verifier would send on
    with pytest.raises(RebuildMismatch, match="call is not the batch"):
        rebuild_and_check(gateway_request([sent], no_route), [sent], GW_FACTS)
    with pytest.raises(RebuildMismatch, match="no XCM gateway"):  # a verifier without a gateway signs none
        rebuild_and_check(gateway_request([sent]), [sent], FACTS)


def test_an_xcm_destination_without_a_fallback_is_refused_and_the_payee_decides_the_deposit_check() -> None:
    headless = inbound(1, UNIT, b"PHXD\x01" + bytes(10))
    assert "names no fallback" in (
        static_refusal(headless, domain=2, bridge_account=BRIDGE, resource_id=RID, gateway=GATEWAY) or ""
    )
    to_bridge = to_peer(2, UNIT, fallback=BRIDGE, para_id=3000)
    assert "the bridge account itself" in (
        static_refusal(to_bridge, domain=2, bridge_account=BRIDGE, resource_id=RID, gateway=GATEWAY) or ""
    )
    small = to_peer(3, 25_000_000)  # routable; the reserve account is new and 25e6 >= ED
    result = plan([small], gateway=GATEWAY, existential_deposit=30_000_000)
    assert "recipient 0x" + RESERVE.hex() in result.refunds[0].reason
    assert plan([small], gateway=GATEWAY, existential_deposit=30_000_000, existing={RESERVE: True}).included
