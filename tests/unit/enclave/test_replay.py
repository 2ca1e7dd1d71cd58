"""The replay guard's bounds: memory stays bounded and nothing it forgets becomes replayable."""

from __future__ import annotations

import pytest

from enclave_signer.committee import (
    ClosedSessionError,
    ReplayedMessageError,
    ReplayGuard,
    StaleMessageError,
    TooManySessionsError,
    UnknownSessionError,
)
from tests.unit.enclave.helpers import FakeClock

S = b"\x01" * 32


def test_seen_set_is_bounded_and_floor_covers_what_it_forgot() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_seen_per_sender=8, clock=clock)
    guard.open_session(S)
    for seq in range(1, 101):
        guard.record(sender=1, session_id=S, seq=seq, timestamp_ms=clock())
    seen = guard._open[S][1]
    assert len(seen.entries) <= 8
    for seq in range(1, 101):
        with pytest.raises(ReplayedMessageError):
            guard.check(sender=1, session_id=S, seq=seq, timestamp_ms=clock())
    guard.record(sender=1, session_id=S, seq=101, timestamp_ms=clock())
    guard.record(sender=2, session_id=S, seq=1, timestamp_ms=clock())  # per sender


def test_entries_age_out_with_the_time_window() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_seen_per_sender=4, max_age_ms=1000, clock=clock)
    guard.open_session(S)
    for seq in range(1, 5):
        guard.record(sender=1, session_id=S, seq=seq, timestamp_ms=clock())
    clock.advance(2000)
    guard.record(sender=1, session_id=S, seq=10, timestamp_ms=clock())  # triggers pruning of aged entries
    assert list(guard._open[S][1].entries) == [10]
    with pytest.raises(ReplayedMessageError):  # the floor still refuses them, whatever the clock says later
        guard.check(sender=1, session_id=S, seq=3, timestamp_ms=clock())


def test_window() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_age_ms=1000, max_skew_ms=100, clock=clock)
    guard.open_session(S)
    with pytest.raises(StaleMessageError):
        guard.check(sender=1, session_id=S, seq=1, timestamp_ms=clock() - 1001)
    with pytest.raises(StaleMessageError):
        guard.check(sender=1, session_id=S, seq=1, timestamp_ms=clock() + 101)
    guard.check(sender=1, session_id=S, seq=1, timestamp_ms=clock() + 100)


def test_sessions_are_bounded_and_single_use() -> None:
    guard = ReplayGuard(max_open_sessions=2, max_closed_sessions=2)
    guard.open_session(b"\x01" * 32)
    guard.open_session(b"\x01" * 32)  # idempotent
    guard.open_session(b"\x02" * 32)
    with pytest.raises(TooManySessionsError):
        guard.open_session(b"\x03" * 32)
    guard.close_session(b"\x01" * 32)
    with pytest.raises(ValueError, match="single-use"):
        guard.open_session(b"\x01" * 32)
    with pytest.raises(ClosedSessionError):
        guard.check(sender=1, session_id=b"\x01" * 32, seq=1, timestamp_ms=0)
    guard.close_session(b"\x02" * 32)
    guard.close_session(b"\x04" * 32)
    # The oldest closed id fell out of the bounded memory: still refused, as unknown.
    with pytest.raises(UnknownSessionError):
        guard.check(sender=1, session_id=b"\x01" * 32, seq=1, timestamp_ms=0)
    with pytest.raises(ValueError, match="32 bytes"):
        guard.open_session(b"short")
