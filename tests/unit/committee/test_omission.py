"""The evidence of omission (omission.py): a leader that proposes later messages of a lane while one waits, final and
valid in this member's own view, never proposed, for `grace` seconds, is struck; an honest leader never is."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bridge.messages import BridgeMessage, MessageKind
from enclave_signer.committee import omission
from enclave_signer.committee.omission import (
    REPLY_NONCE_FLOOR,
    Lane,
    OmissionView,
    OmissionWatch,
    Skipped,
    Stalled,
    lane_of,
)
from tests.unit.committee.helpers import Clock, message

GRACE = 30.0
ME = 5


class View:
    """This member's view: final messages, and what the destination executed (what `outstanding` must answer)."""

    def __init__(self, *messages: BridgeMessage) -> None:
        self.final: list[BridgeMessage] = list(messages)
        self.executed: set[str] = set()
        self.refused: set[str] = set()  # messages this member would not sign (its own policy/destination checks)

    async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
        out = [
            m
            for m in self.final
            if lane_of(m) == lane and m.nonce < below and m.id_hex not in self.executed | self.refused
        ]
        return sorted(out, key=lambda m: m.nonce)[:limit]

    def execute(self, *messages: BridgeMessage) -> None:
        self.executed |= {m.id_hex for m in messages}


def _watch(clock: Clock) -> OmissionWatch:
    return OmissionWatch(ME, grace=GRACE, clock=clock)


def _check(w: OmissionWatch, leader: int | None, view: OmissionView) -> list[Skipped | Stalled]:
    return asyncio.run(w.check(leader, view))


def test_the_view_port_is_recognised() -> None:
    assert isinstance(View(), OmissionView)


def test_a_leader_passing_a_message_over_is_struck_once_per_grace_period() -> None:
    clock = Clock()
    m1, m2, m3, m4 = (message(n) for n in (1, 2, 3, 4))
    view = View(m1, m2, m3, m4)
    w = _watch(clock)
    w.proposed(1, [m1])
    view.execute(m1)
    w.proposed(1, [m3, m4])  # m2 passed over
    view.execute(m3, m4)
    assert _check(w, 1, view) == []  # the clock starts
    clock.now += GRACE - 1
    assert _check(w, 1, view) == []
    assert w.passed_over() == {m2.id_hex: GRACE - 1}
    clock.now += 1
    [s] = _check(w, 1, view)
    assert (s.leader, s.lane, s.message_id, s.age) == (1, Lane(2, 1, "message"), m2.id_hex, GRACE)
    clock.now += 1
    assert _check(w, 1, view) == []  # the next strike needs another full grace period
    clock.now += GRACE
    assert [s.message_id for s in _check(w, 1, view)] == [m2.id_hex]


def test_an_honest_leader_in_lane_order_is_never_struck() -> None:
    clock = Clock()
    msgs = [message(n) for n in range(1, 10)]
    view = View(*msgs)
    w = _watch(clock)
    for lo in range(0, 9, 3):
        w.proposed(1, msgs[lo : lo + 3])
        assert _check(w, 1, view) == []  # batches in flight, not executed yet: proposed, so not passed over
        clock.now += GRACE * 2
        view.execute(*msgs[lo : lo + 3])
    assert _check(w, 1, view) == []
    # The batcher split a lane across two batches (the later half first): the earlier half follows within grace.
    more = [message(n) for n in range(10, 16)]
    view.final += more
    w.proposed(1, more[3:])
    assert _check(w, 1, view) == []
    clock.now += GRACE / 2
    w.proposed(1, more[:3])
    clock.now += GRACE
    assert _check(w, 1, view) == []


def test_a_proposal_refused_still_counts_as_proposed() -> None:
    """A member whose view lagged refused the batch (`absent`): the leader did propose the message."""
    clock = Clock()
    m1, m2 = message(1), message(2)
    w = _watch(clock)
    w.proposed(1, [m1, m2])  # recorded when the request arrives, before this member's verdict
    view = View(m1, m2)  # now final here, not executed yet (the leader retries)
    clock.now += GRACE * 3
    assert _check(w, 1, view) == []
    assert w.proposed_by(1, m1.id_hex)


def test_a_lagging_member_view_strikes_nobody() -> None:
    """The member's source view lags (the message is not final here yet), or its destination view lags (executed
    there, not yet seen executed here): the clock stops once the view catches up within grace."""
    clock = Clock()
    m1, m2, m3 = message(1), message(2), message(3)
    view = View(m3)  # m1, m2 not final in this member's view yet
    w = _watch(clock)
    w.proposed(1, [m3])  # the leader saw m1, m2 executed already (its destination view is ahead)
    assert _check(w, 1, view) == []
    view.final += [m1, m2]  # the source view catches up: the destination view has not
    assert _check(w, 1, view) == []
    assert set(w.passed_over()) == {m1.id_hex, m2.id_hex}
    clock.now += GRACE - 5
    view.execute(m1, m2)  # the destination view catches up within grace
    assert _check(w, 1, view) == []
    assert w.passed_over() == {}
    clock.now += GRACE * 3
    assert _check(w, 1, view) == []


def test_a_message_this_member_would_refuse_or_already_executed_is_no_evidence() -> None:
    clock = Clock()
    m1, m2, m3 = message(1), message(2), message(3)
    view = View(m1, m2, m3)
    view.refused.add(m1.id_hex)  # e.g. the policy refuses it here too: the honest leader's relayer failed it
    view.execute(m2)
    w = _watch(clock)
    w.proposed(1, [m3])
    for _ in range(3):
        clock.now += GRACE
        assert _check(w, 1, view) == []


def test_a_handover_is_not_skipping() -> None:
    """The old leader passed a message over and lost the lead before grace: no strike against it, and the new
    leader starts with no clocks; it proposes the message with the later ones (in order)."""
    clock = Clock()
    m1, m2, m3 = message(1), message(2), message(3)
    view = View(m1, m2, m3)
    w = _watch(clock)
    w.proposed(1, [m3])
    assert _check(w, 1, view) == []
    clock.now += GRACE / 2
    assert _check(w, 2, view) == []  # member 2 leads now
    assert w.passed_over() == {}
    clock.now += GRACE * 2
    assert _check(w, 2, view) == []  # member 2 proposed nothing in the lane yet: nothing passed over
    w.proposed(2, [m1, m2, m3])
    clock.now += GRACE * 2
    assert _check(w, 2, view) == []
    # Nor does a member that merely proposed earlier, while another leads, carry a clock.
    clock.now += GRACE * 2
    assert _check(w, 2, view) == []
    assert _check(w, None, view) == []


def test_lanes_are_apart_replies_and_confidential_calls() -> None:
    """A reply (nonce 2^63 | counter) proposed while a Phala deposit to Ethereum waits, a transfer to Phala while a
    confidential call waits: other lanes, other orders; no evidence."""
    clock = Clock()
    deposit = message(3, dest=1)
    reply = message(REPLY_NONCE_FLOOR + 5, dest=1).model_copy(update={"kind": MessageKind.CALL})
    call = message(4).model_copy(update={"kind": MessageKind.CONFIDENTIAL_CALL})
    transfer = message(9)
    assert lane_of(deposit) == Lane(1, 2, "message")
    assert lane_of(reply) == Lane(1, 2, "reply")
    assert lane_of(call) == Lane(2, 1, "confidential")
    assert lane_of(transfer) == Lane(2, 1, "message")
    view = View(deposit, reply, call, transfer)
    w = _watch(clock)
    w.proposed(1, [reply])
    w.proposed(1, [transfer])
    for _ in range(3):
        clock.now += GRACE
        assert _check(w, 1, view) == []


def test_the_watch_trusts_only_what_it_asked_for_and_ignores_its_own_proposals() -> None:
    class Loose(View):
        async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
            return self.final  # every lane, every position

    clock = Clock()
    m2, m5, other = message(2), message(5), message(1, dest=1)
    view = Loose(m2, m5, other)
    w = _watch(clock)
    w.proposed(1, [message(3)])
    w.proposed(ME, [message(9)])  # this member's own proposals are not evidence against itself
    _check(w, 1, view)
    clock.now += GRACE
    assert [s.message_id for s in _check(w, 1, view)] == [m2.id_hex]  # not m5 (above), not the other lane
    clock.now += GRACE
    assert _check(w, ME, view) == []


def test_the_ids_remembered_per_lane_are_bounded_keeping_the_highest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(omission, "_MAX_IDS_PER_LANE", 10)
    w = _watch(Clock())
    w.proposed(1, [message(n) for n in range(1, 12)])
    assert not w.proposed_by(1, message(5).id_hex)
    assert all(w.proposed_by(1, message(n).id_hex) for n in range(6, 12))
