"""Planning and building a batch (refusals, executed, deferred, canonical order), the digest against bridge.evm, and
the independent rebuild check refusing any tampered request."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.evm import ContractCall, TokenRelease, batch_digest, decode_batch, encode_batch
from bridge.messages import MessageKind
from relayers.ethereum.errors import VerificationRefused
from relayers.ethereum.rebuild import (
    build_batch,
    canonical_order,
    plan_batch,
    rebuild_and_check_batch,
    refusal,
    signing_request,
)
from tests.unit.ethereum.helpers import BRIDGE, TARGET, TOKEN, call_message, facts, inbound


def test_batch_and_digest_are_exactly_bridge_evm() -> None:
    messages = [inbound(3, 2 * 10**18), inbound(1, 10**18), call_message(2)]
    ordered = canonical_order(messages)
    assert [m.nonce for m in ordered] == [1, 2, 3]
    batch, digest = build_batch(ordered, facts())
    expected = encode_batch(
        1,
        2,
        [
            TokenRelease(1, TOKEN, "0x" + ordered[0].recipient.hex(), 10**18),
            ContractCall(2, TARGET, 200_000, b"\xca\x11", b"\x11" * 32),  # with its origin: the message's sender
            TokenRelease(3, TOKEN, "0x" + ordered[2].recipient.hex(), 2 * 10**18),
        ],
    )
    assert batch == expected
    assert digest == batch_digest(31337, BRIDGE, expected)
    assert decode_batch(batch).nonces == (1, 2, 3)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"dest_domain": 2}, "not this chain"),
        ({"source_domain": 1}, "from this chain"),
        ({"recipient": b"\x01" * 32}, "20-byte address"),
        ({"recipient": b"\x00" * 20}, "zero address"),
        ({"recipient": bytes.fromhex(BRIDGE[2:])}, "bridge itself"),
        ({"resource_id": b"\x77" * 32}, "no enabled token"),
        ({"resource_id": None}, "no enabled token"),
        ({"amount": 0}, "amount 0"),
        ({"amount": 2**128}, "exceeds u128"),
        ({"payload": b"x"}, "no payload"),
        ({"kind": MessageKind.CONFIDENTIAL_CALL}, "not executed on Ethereum"),
    ],
)
def test_refusals(change: dict[str, object], needle: str) -> None:
    reason = refusal(inbound(1).model_copy(update=change), facts())
    assert reason is not None and needle in reason


def test_call_target_must_be_allow_listed() -> None:
    assert refusal(call_message(1), facts()) is None
    reason = refusal(call_message(1, "0x" + "12" * 20), facts())
    assert reason is not None and "not allow-listed" in reason


def test_a_call_with_its_own_gas_limit_gets_exactly_that_up_to_the_configured_call_gas() -> None:
    reply = call_message(2).model_copy(update={"gas_limit": 60_000})
    assert refusal(reply, facts()) is None
    batch, _ = build_batch([call_message(1), reply], facts())
    calls = [i for i in decode_batch(batch).items if isinstance(i, ContractCall)]
    assert [(c.nonce, c.gas_limit) for c in calls] == [(1, 200_000), (2, 60_000)]  # the configured gas, its own
    assert refusal(reply.model_copy(update={"gas_limit": 200_000}), facts()) is None
    reason = refusal(reply.model_copy(update={"gas_limit": 200_001}), facts())
    assert reason is not None and "above this bridge's call_gas_limit" in reason


def test_plan_splits_executed_refused_deferred_and_caps_the_size() -> None:
    used = inbound(1)
    bad = inbound(2, recipient=b"\x01" * 32)
    phala = [inbound(n) for n in (5, 3, 4)]
    other_domain = inbound(9, source_domain=3)
    plan = plan_batch([used, bad, *phala, other_domain, phala[0]], facts(used=frozenset({(2, 1)}), max_items=2))
    assert plan.source_domain == 2
    assert [m.nonce for m in plan.included] == [3, 4]
    assert plan.executed == {used.id_hex}
    assert set(plan.refused) == {bad.id_hex}
    assert plan.deferred == {phala[0].id_hex, other_domain.id_hex}
    empty = plan_batch([bad, used], facts(used=frozenset({(2, 1)})))
    assert not empty.included and empty.source_domain is None


def test_rebuild_accepts_the_request_it_would_build() -> None:
    messages = [inbound(2), inbound(1), call_message(3)]
    f = facts()
    request = signing_request(plan_batch(messages, f), f, block_number=55)
    assert request.destination == 1 and request.context["block_number"] == 55
    assert rebuild_and_check_batch(request, [*messages, inbound(99)], f) == request.payload


def test_rebuild_refuses_tampered_requests() -> None:
    messages = [inbound(1), inbound(2)]
    f = facts()
    request = signing_request(plan_batch(messages, f), f, block_number=1)

    def refused(req: object = request, msgs: object = messages, fx: object = f) -> VerificationRefused:
        with pytest.raises(VerificationRefused) as info:
            rebuild_and_check_batch(req, msgs, fx)  # type: ignore[arg-type]
        return info.value

    other = encode_batch(
        1, 2, [TokenRelease(1, TOKEN, "0x" + "66" * 20, 10**18), TokenRelease(2, TOKEN, "0x" + "02" * 20, 10**18)]
    )
    forged = replace(
        request, payload=batch_digest(31337, BRIDGE, other), context={**request.context, "batch": "0x" + other.hex()}
    )
    assert refused(forged).field == "context.batch"
    assert refused(replace(request, payload=b"\x00" * 32)).field == "payload"
    assert "epoch" in str(refused(replace(request, context={**request.context, "epoch": 2})))
    assert "chain_id" in str(refused(fx=facts(chain_id=1)))
    assert "bridge" in str(refused(fx=facts(bridge="0x" + "12" * 20)))
    assert "canonical" in str(refused(replace(request, message_ids=request.message_ids[::-1])))
    assert refused(msgs=messages[:1]).message_id == messages[1].id_hex
    executed = refused(fx=facts(used=frozenset({(2, 2)})))
    assert executed.field == "nonce" and executed.code == "executed"  # a lagging leader: not a strike (distrust.py)
    assert refused(forged).code == "mismatch"
    assert "no enabled token" in str(refused(fx=facts(tokens={})))
    assert "domain" in str(refused(replace(request, destination=2)))
    assert "distinct" in str(refused(replace(request, message_ids=request.message_ids * 2)))
    richer = [messages[0].model_copy(update={"amount": 5 * 10**18}), messages[1]]
    assert refused(msgs=richer).field == "context.batch"
    mixed = [messages[0], inbound(2, source_domain=3)]
    mixed_request = replace(request, message_ids=(mixed[0].id_hex, mixed[1].id_hex))
    assert "one source domain" in str(refused(mixed_request, mixed))


def test_a_call_carries_its_message_sender_as_origin() -> None:
    alice, contract = b"\xa1" * 32, b"\xc0" * 32
    intent = call_message(1).model_copy(update={"sender": alice})
    reply = call_message(2).model_copy(update={"sender": contract, "gas_limit": 60_000})
    batch, _ = build_batch([intent, reply], facts())
    calls = [i for i in decode_batch(batch).items if isinstance(i, ContractCall)]
    assert [c.sender for c in calls] == [alice, contract]
    assert batch[10] == 3  # item kind 3: a call with origin (no token table in this batch)
    reason = refusal(intent.model_copy(update={"sender": b"\xa1" * 20}), facts())
    assert reason is not None and "sender must be 32 bytes" in reason


def test_rebuild_refuses_a_batch_whose_origin_is_not_the_messages_sender() -> None:
    """A rogue leader that keeps the message but puts another origin in the batch (and signs its digest) is refused:
    the member rebuilds the origin from the message its own chain view checked."""
    alice, mallory = b"\xa1" * 32, b"\x66" * 32
    intent = call_message(1).model_copy(update={"sender": alice})
    f = facts()
    request = signing_request(plan_batch([intent], f), f, block_number=1)
    assert rebuild_and_check_batch(request, [intent], f) == request.payload
    forged = encode_batch(1, 2, [ContractCall(1, TARGET, 200_000, b"\xca\x11", mallory)])
    tampered = replace(
        request, payload=batch_digest(31337, BRIDGE, forged), context={**request.context, "batch": "0x" + forged.hex()}
    )
    with pytest.raises(VerificationRefused) as info:
        rebuild_and_check_batch(tampered, [intent], f)
    assert info.value.field == "context.batch"
    without = encode_batch(1, 2, [ContractCall(1, TARGET, 200_000, b"\xca\x11")])  # the origin dropped (kind 2)
    dropped = replace(
        request,
        payload=batch_digest(31337, BRIDGE, without),
        context={**request.context, "batch": "0x" + without.hex()},
    )
    with pytest.raises(VerificationRefused):
        rebuild_and_check_batch(dropped, [intent], f)
