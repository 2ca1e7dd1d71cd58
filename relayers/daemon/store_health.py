"""Whether the relayer's store answers, as the daemon last saw it. The stages report the `StoreUnavailable` they hit
and the probe that found the store back; `/health` and `phala_bridge_store_up` read it. One outage is logged once
when it begins (`store_unavailable`, with the error), then at most every `log_every` seconds while it lasts, and once
when it ends (`store_recovered`, with how long it lasted)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from bridge.errors import one_line
from bridge.failure_runs import FailureRun
from relayers.daemon.metrics import RelayerMetrics
from relayers.store import StoreError
from relayers.store.factory import database_errors

log = structlog.get_logger("relayer")
# What a store call may raise when the database fails: our one-line errors and, for a store opened without them,
# the drivers' own.
STORE_FAILURES: tuple[type[BaseException], ...] = (StoreError, *database_errors())


class StoreHealth:
    def __init__(
        self, metrics: RelayerMetrics, clock: Callable[[], float] = time.monotonic, log_every: float = 30.0
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.error: str | None = None
        self._run = FailureRun(log_every)
        metrics.store_up.set(1)  # the daemon starts on a store it has opened

    @property
    def down_since(self) -> float | None:
        """When the current outage began, on `clock`; None while the store answers."""
        return self._run.since

    @property
    def log_every(self) -> float:
        return self._run.every

    @log_every.setter
    def log_every(self, seconds: float) -> None:
        self._run.every = seconds

    @property
    def up(self) -> bool:
        return self.down_since is None

    def failed(self, where: str, exc: BaseException, retry_in: float | None = None) -> float:
        """A call from `where` found the store unavailable. Returns when this outage began (a stage compares it with
        the outage it last backed off for: a new one starts its backoff again)."""
        now = self.clock()
        self.error = one_line(exc)
        first = self._run.since is None
        say = self._run.failed(now)
        since = self._run.since if self._run.since is not None else now  # set by `failed`
        fields: dict[str, Any] = {"stage": where, "error": self.error}
        if retry_in is not None:
            fields["retry_in"] = round(retry_in, 3)
        if first:
            self.metrics.store_up.set(0)
            log.warning("store_unavailable", **fields)
        elif say:
            log.warning("store_unavailable", down_for=round(now - since, 1), failures=self._run.failures, **fields)
        return since

    def succeeded(self, where: str) -> None:
        """A call from `where` went through: the end of an outage if there was one."""
        ended = self._run.succeeded(self.clock())
        if ended is None:
            return
        log.info("store_recovered", stage=where, down_for=round(ended.lasted, 1), failures=ended.failures)
        self.error = None
        self.metrics.store_up.set(1)

    def snapshot(self) -> dict[str, Any]:
        """For `/health`: up, and while it is not, since how long and the last error."""
        since = self.down_since
        if since is None:
            return {"up": True}
        return {"up": False, "down_for": round(self.clock() - since, 1), "error": self.error}
