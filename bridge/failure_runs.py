"""A run of failures of something retried (a check, a store call), and when to say so: once when the run begins,
then at most once per `every` seconds while it lasts, and once when it ends. Pure: callers pass the time and do their
own logging, under their own event names (`omission_check_failed`, `store_unavailable`, ...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunEnded:
    lasted: float  # seconds from the run's first failure to the success that ended it
    failures: int


class FailureRun:
    def __init__(self, every: float) -> None:
        self.every = every
        self.since: float | None = None  # when the current run began; None while things work
        self.failures = 0  # failures in the current run
        self._said_at = 0.0

    def failed(self, now: float) -> bool:
        """Count a failure; True when it should be said now (the run's first, or `every` since it was last said)."""
        self.failures += 1
        if self.since is None:
            self.since, self.failures, self._said_at = now, 1, now
            return True
        if now - self._said_at >= self.every:
            self._said_at = now
            return True
        return False

    def succeeded(self, now: float) -> RunEnded | None:
        """A success: the run that it ends, if there was one."""
        if self.since is None:
            return None
        ended = RunEnded(now - self.since, self.failures)
        self.since, self.failures = None, 0
        return ended
