"""The evidence of a stalled leader (omission.py, code `stalled`): a leader that proposes NOTHING in a lane while a
message of it waits, final and valid in this member's own view, for `stall_grace` seconds, is struck once per stall
grace period; a leader that proposes anything in the lane is not (passing messages over is the `skipped` rule's).
And the log of an omission check that keeps failing (`CheckFailures`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import structlog
from structlog.testing import capture_logs

from bridge.messages import BridgeMessage
from enclave_signer.committee.omission import (
    LANE_END,
    CheckFailures,
    Lane,
    LaneCoverage,
    OmissionView,
    OmissionWatch,
    Skipped,
    Stalled,
    lane_of,
)
from tests.unit.committee.helpers import Clock, message

GRACE = 30.0
STALL = 60.0
ME = 5
TO_PHALA = Lane(2, 1, "message")  # message(n): Ethereum -> Phala
TO_ETHEREUM = Lane(1, 2, "message")


class View:
    """This member's view, covering `lanes`: final messages, executed ones; `down` makes it raise (a chain down)."""

    def __init__(self, *messages: BridgeMessage, lanes: Sequence[Lane] = (TO_PHALA, TO_ETHEREUM)) -> None:
        self.final: list[BridgeMessage] = list(messages)
        self.executed: set[str] = set()
        self.lanes = frozenset(lanes)
        self.down = False
        self.asked: list[tuple[Lane, int]] = []

    def omission_lanes(self) -> frozenset[Lane]:
        return self.lanes

    async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
        self.asked.append((lane, below))
        if self.down:
            raise ConnectionError("the chain is down")
        out = [m for m in self.final if lane_of(m) == lane and m.nonce < below and m.id_hex not in self.executed]
        return sorted(out, key=lambda m: m.nonce)[:limit]

    def execute(self, *messages: BridgeMessage) -> None:
        self.executed |= {m.id_hex for m in messages}


def _watch(clock: Clock) -> OmissionWatch:
    return OmissionWatch(ME, grace=GRACE, stall_grace=STALL, clock=clock)


def _check(w: OmissionWatch, leader: int | None, view: OmissionView) -> list[Skipped | Stalled]:
    return asyncio.run(w.check(leader, view))


def _stalled(w: OmissionWatch, leader: int | None, view: OmissionView) -> list[Stalled]:
    return [s for s in _check(w, leader, view) if isinstance(s, Stalled)]


def test_the_coverage_port_is_recognised_and_asked_with_no_upper_bound() -> None:
    view = View()
    assert isinstance(view, LaneCoverage) and isinstance(view, OmissionView)
    _check(_watch(Clock()), 1, view)
    assert sorted(view.asked) == sorted([(TO_PHALA, LANE_END), (TO_ETHEREUM, LANE_END)])


def test_a_leader_proposing_nothing_in_a_lane_is_struck_once_per_stall_grace_period() -> None:
    clock = Clock()
    m1, m2 = message(1), message(2)
    view = View(m1)
    w = _watch(clock)
    assert _check(w, 1, view) == []  # m1's clock starts
    clock.now += 10
    view.final.append(m2)  # another waits, from later
    assert _check(w, 1, view) == []
    clock.now += STALL - 11
    assert _check(w, 1, view) == []
    assert w.stalled_since() == {m1.id_hex: STALL - 1, m2.id_hex: STALL - 11}
    clock.now += 1
    [s] = _check(w, 1, view)  # one strike per lane, however many wait: the oldest named
    assert s == Stalled(1, TO_PHALA, m1.id_hex, STALL, 1)
    clock.now += STALL - 1
    assert _check(w, 1, view) == []  # the next strike needs another full stall grace period
    clock.now += 1
    [s] = _check(w, 1, view)
    assert isinstance(s, Stalled)
    assert (s.message_id, s.age, s.waiting) == (m1.id_hex, STALL, 2)
    # The `skipped` rule has nothing to say: the leader passed nothing over (it proposed nothing).
    assert w.passed_over() == {}


def test_a_leader_that_proposes_anything_in_the_lane_is_not_stalled() -> None:
    """It proposes other messages of the lane (later ones: the `skipped` rule strikes it, not this one; earlier
    ones it is working through): no `stalled` strike."""
    clock = Clock()
    m1, m2, m3 = message(1), message(2), message(3)
    view = View(m2, m3)
    w = _watch(clock)
    assert _check(w, 1, view) == []
    clock.now += STALL / 2
    w.proposed(1, [m3])  # m2 passed over: the `skipped` rule's business
    for _ in range(4):
        clock.now += STALL / 2
        out = _check(w, 1, view)
        assert not [s for s in out if isinstance(s, Stalled)]
    assert {s.message_id for s in _check(w, 1, view) + out if isinstance(s, Skipped)} == {m2.id_hex}
    # A message above what it proposed, while it keeps proposing in the lane (an earlier one, slowly): not stalled.
    m9 = message(9)
    view.final += [m1, m9]
    for _ in range(4):
        clock.now += STALL / 2
        w.proposed(1, [m1])
        assert _stalled(w, 1, view) == []
    assert m9.id_hex in w.stalled_since()


def test_a_message_passed_over_is_struck_as_skipped_only_never_twice() -> None:
    """The leader proposed a later message, then nothing: the earlier one, waiting since, is `skipped` evidence;
    the `stalled` rule, for messages above all it proposed, says nothing (one omission, one strike per period)."""
    clock = Clock()
    m2, m3 = message(2), message(3)
    view = View(m3)
    w = _watch(clock)
    w.proposed(1, [m3])
    view.execute(m3)
    clock.now += 1
    view.final.append(m2)  # final in this view after the leader's proposal: waiting since then
    assert _check(w, 1, view) == []
    clock.now += STALL
    out = _check(w, 1, view)
    assert [(type(s), s.message_id) for s in out] == [(Skipped, m2.id_hex)]


def test_a_leader_proposing_again_after_a_stall_is_struck_only_when_it_stalls_again() -> None:
    clock = Clock()
    m1, m2 = message(1), message(2)
    view = View(m1)
    w = _watch(clock)
    _check(w, 1, view)
    clock.now += STALL
    assert len(_stalled(w, 1, view)) == 1
    w.proposed(1, [m1])  # it proposes at last
    view.final.append(m2)
    clock.now += STALL - 1
    assert _stalled(w, 1, view) == []  # m2 waits since the last check: not long enough yet
    clock.now += STALL
    assert [s.message_id for s in _stalled(w, 1, view)] == [m2.id_hex]


def test_an_executed_or_no_longer_outstanding_message_is_no_evidence() -> None:
    clock = Clock()
    m1, m2 = message(1), message(2)
    view = View(m1, m2)
    w = _watch(clock)
    _check(w, 1, view)
    clock.now += STALL - 1
    view.execute(m1)  # executed (by whoever) before the grace ran out
    view.final.remove(m2)  # no longer one this member would sign (e.g. the destination now refuses it)
    assert _check(w, 1, view) == []
    assert w.stalled_since() == {}
    clock.now += STALL * 3
    assert _check(w, 1, view) == []


def test_a_handover_clears_the_clocks() -> None:
    clock = Clock()
    m1 = message(1)
    view = View(m1)
    w = _watch(clock)
    _check(w, 1, view)
    clock.now += STALL - 1
    assert _check(w, 2, view) == []  # member 2 leads now: its own full stall grace
    clock.now += STALL - 1
    assert _check(w, 2, view) == []
    clock.now += 1
    assert [(s.leader, s.message_id) for s in _stalled(w, 2, view)] == [(2, m1.id_hex)]
    # Back to member 1 (member 2 distrusted): it starts from nothing too; nobody judges itself or no leader.
    assert _check(w, 1, view) == []
    clock.now += STALL - 1
    assert _check(w, 1, view) == []
    clock.now += STALL * 2
    assert _check(w, ME, view) == []
    assert _check(w, None, view) == []
    assert w.stalled_since() == {}


def test_a_view_that_raises_gives_no_evidence() -> None:
    clock = Clock()
    m1 = message(1)
    view = View(m1)
    w = _watch(clock)
    _check(w, 1, view)
    view.down = True
    for _ in range(3):
        clock.now += STALL
        with pytest.raises(ConnectionError):
            _check(w, 1, view)
    # While the view is down nothing is struck; back up, the clock it had goes on (the message waited all along).
    view.down = False
    assert len(_stalled(w, 1, view)) == 1


def test_lanes_are_independent() -> None:
    """A leader delivering to Phala but proposing nothing to Ethereum is stalled in that lane only; a lane the view
    does not cover is never judged."""
    clock = Clock()
    to_phala = [message(n) for n in (1, 2, 3)]
    to_eth = message(7, dest=1)
    view = View(*to_phala, to_eth)
    w = _watch(clock)
    _check(w, 1, view)
    for m in to_phala:
        clock.now += STALL / 4
        w.proposed(1, [m])
        view.execute(m)
        assert _stalled(w, 1, view) == []
    clock.now += STALL / 4
    [s] = _stalled(w, 1, view)
    assert (s.lane, s.message_id) == (TO_ETHEREUM, to_eth.id_hex)
    # The Phala lane, delivered in order and now empty, is not: new messages there start their own clocks.
    view.final.append(message(4))
    clock.now += STALL / 2
    w.proposed(1, [message(4)])
    clock.now += STALL
    assert [s.lane for s in _stalled(w, 1, view)] == [TO_ETHEREUM]
    # The same leader, a view covering only the Phala lane: the waiting Ethereum message is no evidence.
    narrow = View(*to_phala, to_eth, lanes=(TO_PHALA,))
    w2 = _watch(clock)
    _check(w2, 1, narrow)
    clock.now += STALL * 3
    assert [s.lane for s in _stalled(w2, 1, narrow)] == [TO_PHALA]  # nothing delivered there, in this watch
    assert {lane for lane, _ in narrow.asked} == {TO_PHALA}


def test_a_view_without_coverage_strikes_nobody_stalled() -> None:
    """Only the lanes a view names are judged for stalling: a lane to a destination whose honest leader waits for
    its batch in flight (Phala) must not be, even though the `skipped` rule reads it."""

    class Plain:
        def __init__(self, view: View) -> None:
            self.view = view

        async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
            return await self.view.outstanding(lane, below, limit)

    clock = Clock()
    m1, m2 = message(1), message(2)
    inner = View(m1, m2)
    view = Plain(inner)
    assert not isinstance(view, LaneCoverage)
    w = _watch(clock)
    w.proposed(1, [m1])
    inner.execute(m1)
    clock.now += 1
    _check(w, 1, view)
    clock.now += STALL * 3
    assert _check(w, 1, view) == []
    assert {lane for lane, _ in inner.asked} == {TO_PHALA}  # read for the `skipped` rule all the same
    # The same, through a view naming the lane: stalled.
    covered = View(m1, m2)
    covered.execute(m1)
    w2 = _watch(clock)
    w2.proposed(1, [m1])
    clock.now += 1
    _check(w2, 1, covered)
    clock.now += STALL
    assert [(s.lane, s.message_id) for s in _stalled(w2, 1, covered)] == [(TO_PHALA, m2.id_hex)]


class _Logs:
    def __init__(self) -> None:
        self.clock = Clock()
        self.failures = CheckFailures(structlog.get_logger("test"), every=60.0, clock=self.clock)


def test_a_failing_check_is_logged_when_it_starts_then_once_a_minute_with_a_count_and_when_it_recovers() -> None:
    t = _Logs()
    with capture_logs() as logs:
        t.failures.succeeded()  # working all along: nothing to say
        for _ in range(12):  # every 5 s for a minute
            t.failures.failed("ConnectionError: refused")
            t.clock.now += 5
        t.failures.failed("TimeoutError: ")
        t.clock.now += 7
        t.failures.succeeded()
        t.failures.succeeded()
        t.failures.failed("ConnectionError: again")
    events = [(e["event"], e.get("failures"), e.get("error"), e.get("failing_s")) for e in logs]
    assert events == [
        ("omission_check_failed", 1, "ConnectionError: refused", None),
        ("omission_check_failed", 13, "TimeoutError: ", 60.0),
        ("omission_check_recovered", 13, None, 67.0),
        ("omission_check_failed", 1, "ConnectionError: again", None),
    ]
    assert [e["log_level"] for e in logs] == ["warning", "warning", "info", "warning"]
    assert t.failures.failing
