"""`FailureRun`: say a run of failures when it begins, then at most every `every` seconds, and when it ends."""

from __future__ import annotations

from bridge.failure_runs import FailureRun, RunEnded


def test_a_run_is_said_when_it_begins_then_at_most_every_period_and_its_end_is_measured() -> None:
    run = FailureRun(every=30.0)
    assert run.succeeded(0.0) is None  # no run to end
    assert run.failed(100.0) is True  # the first failure: say it
    assert run.failed(110.0) is False
    assert run.failed(129.9) is False
    assert run.failed(130.0) is True  # 30 s since it was said
    assert run.failed(131.0) is False
    assert (run.since, run.failures) == (100.0, 5)
    assert run.succeeded(145.0) == RunEnded(lasted=45.0, failures=5)
    assert (run.since, run.failures) == (None, 0)


def test_a_new_run_starts_its_count_and_its_clock_again() -> None:
    run = FailureRun(every=30.0)
    run.failed(0.0)
    run.failed(1.0)
    run.succeeded(2.0)
    assert run.failed(3.0) is True  # a new run is said at once, whatever was said before
    assert (run.since, run.failures) == (3.0, 1)
