"""Which extrinsics of a block are deposits: decided from the events (funds arrived) and the exact call shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bridge.ids import message_id
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.messages import BridgeMessage, MessageKind
from bridge.minimums import DepositMinimum, MinimumChange, MinimumSchedule
from relayers.substrate.bridge_calls import Transfer, encode_batch, encode_transfer
from relayers.substrate.chain import RawBlock, SignedExtrinsic
from relayers.substrate.deposits import RejectedDeposit, recognize
from relayers.substrate.events import ChainEvent
from relayers.substrate.scale import blake2_256
from tests.unit.substrate.helpers import BRIDGE, CONFIG, INDICES, RID

ALICE = b"\xa1" * 32
ETH = b"\x22" * 20
UNIT = 10**12
INTENT = encode_intent(Intent(IntentKind.TRANSFER, 1, RID, ETH))


def deposit_call(amount: int, intent: bytes = INTENT, dest: bytes = BRIDGE) -> bytes:
    return encode_batch(INDICES, [Transfer(dest, amount)], intent)


def events_for(index: int, amount: int, *, ok: bool = True, to: bytes = BRIDGE) -> list[ChainEvent]:
    out = [ChainEvent("Balances", "Withdraw", {"who": "0x" + ALICE.hex(), "amount": 7}, index)]
    if ok:
        transfer = {"from": "0x" + ALICE.hex(), "to": "0x" + to.hex(), "amount": amount}
        out.append(ChainEvent("Balances", "Transfer", transfer, index))
        out.append(ChainEvent("System", "ExtrinsicSuccess", {}, index))
    else:
        out.append(ChainEvent("System", "ExtrinsicFailed", {"dispatch_error": "BadOrigin"}, index))
    return out


def block(n: int) -> RawBlock:
    return RawBlock(100, "0x" + "ab" * 32, "0x" + "aa" * 32, tuple(bytes([i]) * 10 for i in range(n)))


def scan(
    events: list[ChainEvent], calls: Mapping[int, bytes | None], signer: bytes | None = ALICE
) -> tuple[list[BridgeMessage], list[RejectedDeposit]]:
    decoded = {i: SignedExtrinsic(signer, 0, c) if c is not None else None for i, c in calls.items()}
    return recognize(block(8), events, decoded, CONFIG, INDICES, 41)


def test_a_deposit_becomes_a_message_with_every_field_right() -> None:
    (m,), rejected = scan(events_for(2, 5 * UNIT), {2: deposit_call(5 * UNIT)})
    assert not rejected
    assert (m.source_domain, m.dest_domain, m.kind) == (2, 1, MessageKind.TRANSFER)
    assert m.nonce == 41 and m.id == message_id(2, 41)  # the block's place in the deposit sequence
    assert (m.sender, m.recipient, m.resource_id) == (ALICE, ETH, RID)
    assert (m.source_amount, m.amount) == (5 * UNIT, 5 * UNIT * 10**6)
    assert m.source.block_number == 100 and m.source.block_hash == b"\xab" * 32
    assert m.source.tx_hash == blake2_256(bytes([2]) * 10) and m.source.index == 2


def test_a_call_intent_becomes_a_call_message() -> None:
    intent = encode_intent(Intent(IntentKind.CALL, 1, RID, ETH, b"\x01\x02"))
    (m,), _ = scan(events_for(1, UNIT), {1: deposit_call(UNIT, intent)})
    assert m.kind is MessageKind.CALL and m.payload == b"\x01\x02"


def test_failed_deposits_and_transfers_elsewhere_are_ignored() -> None:
    messages, rejected = scan(
        events_for(1, UNIT, ok=False) + events_for(2, UNIT, to=b"\x0c" * 32),
        {1: deposit_call(UNIT), 2: deposit_call(UNIT, dest=b"\x0c" * 32)},
    )
    assert messages == [] and rejected == []


def test_funds_without_a_valid_intent_are_reported_with_the_reason() -> None:
    bad_version = INTENT[:4] + b"\x09" + INTENT[5:]
    other_token = encode_intent(Intent(IntentKind.TRANSFER, 1, b"\x08" * 32, ETH))
    to_unserved = encode_intent(Intent(IntentKind.TRANSFER, 9, RID, ETH))
    plain = encode_transfer(INDICES, Transfer(BRIDGE, UNIT))
    cases = {
        1: (deposit_call(UNIT, bad_version), "bad intent: intent: unsupported version 9"),
        2: (plain, "funds arrived without a deposit intent"),
        3: (deposit_call(UNIT, other_token), "is the native token"),
        4: (deposit_call(UNIT, to_unserved), "names domain 9"),
        5: (deposit_call(2 * UNIT), "do not match the deposit call"),  # the event says UNIT
        6: (None, "not a decodable signed extrinsic"),
        7: (deposit_call(UNIT, b"hello"), "does not start with"),
    }
    events = [e for i in cases for e in events_for(i, UNIT)]
    messages, rejected = scan(events, {i: c for i, (c, _) in cases.items()})
    assert messages == []
    assert [r.extrinsic_index for r in rejected] == list(cases)
    for r in rejected:
        assert cases[r.extrinsic_index][1] in r.reason
        assert (r.sender, r.amount, r.block_number) == (ALICE, UNIT, 100)


def test_a_sender_that_is_not_a_plain_account_is_reported() -> None:
    messages, (r,) = scan(events_for(1, UNIT), {1: deposit_call(UNIT)}, signer=None)
    assert messages == [] and "not a plain account" in r.reason


def test_deposits_are_numbered_densely_in_extrinsic_order_skipping_rejections() -> None:
    events = events_for(1, UNIT) + events_for(3, 2 * UNIT) + events_for(5, 3 * UNIT)
    calls = {1: deposit_call(UNIT), 3: None, 5: deposit_call(3 * UNIT)}  # extrinsic 3 is not a deposit
    messages, rejected = scan(events, calls)
    assert [(m.source.index, m.nonce) for m in messages] == [(1, 41), (5, 42)]
    assert [r.extrinsic_index for r in rejected] == [3]


MIN_CONFIG = replace(CONFIG, min_deposit={1: DepositMinimum(transfer=UNIT, call=3 * UNIT)})


def test_below_the_minimum_is_held_not_numbered_and_at_it_takes_the_next_nonce() -> None:
    events = events_for(1, UNIT - 1) + events_for(2, UNIT) + events_for(3, 1)
    calls = {1: deposit_call(UNIT - 1), 2: deposit_call(UNIT), 3: deposit_call(1)}
    messages, rejected = recognize(
        block(8), events, {i: SignedExtrinsic(ALICE, 0, c) for i, c in calls.items()}, MIN_CONFIG, INDICES, 41
    )
    assert [(m.source.index, m.nonce, m.source_amount) for m in messages] == [(2, 41, UNIT)]
    assert [(r.extrinsic_index, r.amount, r.sender) for r in rejected] == [(1, UNIT - 1, ALICE), (3, 1, ALICE)]
    assert all(r.reason.startswith("below_minimum: a transfer to domain 1 must carry at least 1 PHA") for r in rejected)
    # The same block without a minimum: three deposits, numbered 41..43 (the minimum changes the numbering).
    unlimited, none = scan(events, calls)
    assert [m.nonce for m in unlimited] == [41, 42, 43] and none == []


def test_a_call_intent_meets_the_call_minimum() -> None:
    intent = encode_intent(Intent(IntentKind.CALL, 1, RID, ETH, b"\x01"))
    events = events_for(1, 2 * UNIT) + events_for(2, 3 * UNIT)
    calls = {1: deposit_call(2 * UNIT, intent), 2: deposit_call(3 * UNIT, intent)}
    messages, (r,) = recognize(
        block(8), events, {i: SignedExtrinsic(ALICE, 0, c) for i, c in calls.items()}, MIN_CONFIG, INDICES, 1
    )
    assert [(m.kind, m.nonce, m.source.index) for m in messages] == [(MessageKind.CALL, 1, 2)]
    assert r.extrinsic_index == 1 and "a call to domain 1 must carry at least 3 PHA" in r.reason


def test_a_deposit_is_judged_by_the_minimum_in_force_at_its_block() -> None:
    """A raise from block 100 (the test block's number): the same 1-PHA deposit is numbered in block 99 and held in
    block 100; the count carries on (the next deposit takes the next nonce)."""
    raised = MinimumSchedule(DepositMinimum(UNIT, UNIT), (MinimumChange(100, DepositMinimum(2 * UNIT, 2 * UNIT)),))
    config = replace(CONFIG, min_deposit={1: raised})
    events = events_for(1, UNIT) + events_for(2, 2 * UNIT)
    decoded = {1: SignedExtrinsic(ALICE, 0, deposit_call(UNIT)), 2: SignedExtrinsic(ALICE, 0, deposit_call(2 * UNIT))}
    before = replace(block(3), number=99)
    messages, rejected = recognize(before, events, decoded, config, INDICES, 7)
    assert [(m.source.index, m.nonce) for m in messages] == [(1, 7), (2, 8)] and rejected == []
    messages, (held,) = recognize(block(3), events, decoded, config, INDICES, 7)  # block 100: the raise applies
    assert [(m.source.index, m.nonce) for m in messages] == [(2, 7)]
    assert held.extrinsic_index == 1 and held.reason.startswith(
        "below_minimum: a transfer to domain 1 must carry at least 2 PHA"
    )
