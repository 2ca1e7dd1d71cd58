"""Which transfer the leader holds inflows for: the one unpaid for lack of funds the longest, once it has waited."""

from __future__ import annotations

import pytest

from bridge.messages import BridgeMessage
from relayers.substrate.liquidity import LiquidityHold
from relayers.substrate.plan import plan_batch
from tests.unit.substrate.helpers import BRIDGE, RID, inbound

UNIT = 10**12


def planned(hold: LiquidityHold, messages: list[BridgeMessage], spendable: int, now: float) -> list[str]:
    """One planning round as the dispatcher runs it: ask for the hold, plan, record. Returns the ids paid."""
    held = hold.held(now)
    plan = plan_batch(
        messages,
        domain=2,
        bridge_account=BRIDGE,
        resource_id=RID,
        existential_deposit=1,
        existing={},
        executed=frozenset(),
        spendable=spendable,
        hold=None if held is None else held[:2],
    )
    hold.planned(plan, {m.id_hex: m.amount for m in messages}, now)
    return [m.id_hex for m in plan.included]


def stream(hold: LiquidityHold, rounds: int) -> list[str]:
    """A 10 PHA transfer waits; every 30 s 2 PHA flow into the bridge account and a new 2 PHA transfer arrives.
    Returns what was paid, in order."""
    balance, queue, paid = 0, [inbound(1, 10 * UNIT)], []
    for n in range(rounds):
        balance += 2 * UNIT
        queue.append(inbound(100 + n, 2 * UNIT))
        ids = planned(hold, queue, spendable=balance, now=30.0 * n)
        balance -= sum(m.amount for m in queue if m.id_hex in ids)
        queue = [m for m in queue if m.id_hex not in ids]
        paid += ids
    return paid


def test_a_stream_of_small_transfers_no_longer_starves_a_large_one() -> None:
    big = inbound(1, 10 * UNIT).id_hex
    assert big not in stream(LiquidityHold(hold_after=10**9), 20)  # no hold: every inflow goes to a small one
    paid = stream(LiquidityHold(hold_after=60), 8)
    # t = 0 and 30 paid a small one each; from t = 60 (held) the inflows were set aside: 10 PHA at t = 180
    assert paid[:3] == [*paid[:2], big] and len(paid) == 4
    assert paid[3] == inbound(102, 2 * UNIT).id_hex  # then the oldest small one, at t = 210


def test_the_hold_waits_for_hold_after_and_picks_the_oldest() -> None:
    hold = LiquidityHold(hold_after=60)
    a, b = inbound(1, 5 * UNIT), inbound(2, 8 * UNIT)
    planned(hold, [a], spendable=0, now=0.0)
    planned(hold, [a, b], spendable=0, now=30.0)
    assert hold.held(59.0) is None
    assert hold.held(60.0) == (a.id_hex, a.amount, 60.0)  # unpaid since t = 0, though b is larger
    planned(hold, [a, b], spendable=6 * UNIT, now=61.0)  # a held and paid; b stays unpaid
    assert hold.waiting() == [b.id_hex]
    assert hold.held(89.0) is None and hold.held(90.0) == (b.id_hex, b.amount, 60.0)


def test_entries_go_when_executed_elsewhere_or_unseen() -> None:
    hold = LiquidityHold(hold_after=0, forget_after=100)
    a, b = inbound(1, 5 * UNIT), inbound(2, 8 * UNIT)
    planned(hold, [a, b], spendable=0, now=0.0)
    hold.forget([b.id_hex])  # the executed index names it
    assert hold.waiting() == [a.id_hex]
    assert hold.held(100.0) == (a.id_hex, a.amount, 100.0)
    assert hold.held(100.1) is None and hold.waiting() == []  # no plan saw it for 100 s: it left the queue


def test_a_negative_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="hold_after"):
        LiquidityHold(hold_after=-1)
