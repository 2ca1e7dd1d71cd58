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
from relayers.daemon.metrics import RelayerMetrics

log = structlog.get_logger("relayer")


class StoreHealth:
    def __init__(
        self, metrics: RelayerMetrics, clock: Callable[[], float] = time.monotonic, log_every: float = 30.0
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.log_every = log_every
        self.down_since: float | None = None  # on `clock`; None while the store answers
        self.error: str | None = None
        self.failures = 0  # calls that found it unavailable in this outage
        self._logged_at = 0.0
        metrics.store_up.set(1)  # the daemon starts on a store it has opened

    @property
    def up(self) -> bool:
        return self.down_since is None

    def failed(self, where: str, exc: BaseException, retry_in: float | None = None) -> float:
        """A call from `where` found the store unavailable. Returns when this outage began (a stage compares it with
        the outage it last backed off for: a new one starts its backoff again)."""
        now = self.clock()
        self.error = one_line(exc)
        self.failures += 1
        fields: dict[str, Any] = {"stage": where, "error": self.error}
        if retry_in is not None:
            fields["retry_in"] = round(retry_in, 3)
        if self.down_since is None:
            self.down_since, self.failures, self._logged_at = now, 1, now
            self.metrics.store_up.set(0)
            log.warning("store_unavailable", **fields)
        elif now - self._logged_at >= self.log_every:
            self._logged_at = now
            log.warning("store_unavailable", down_for=round(now - self.down_since, 1), failures=self.failures, **fields)
        return self.down_since

    def succeeded(self, where: str) -> None:
        """A call from `where` went through: the end of an outage if there was one."""
        if self.down_since is None:
            return
        down_for = self.clock() - self.down_since
        log.info("store_recovered", stage=where, down_for=round(down_for, 1), failures=self.failures)
        self.down_since, self.error, self.failures = None, None, 0
        self.metrics.store_up.set(1)

    def snapshot(self) -> dict[str, Any]:
        """For `/health`: up, and while it is not, since how long and the last error."""
        if self.down_since is None:
            return {"up": True}
        return {"up": False, "down_for": round(self.clock() - self.down_since, 1), "error": self.error}
