"""Gauges read from the store when Prometheus scrapes: how many messages are in each state, and how long the oldest
message not yet final has waited, per destination.

Every relayer reports them, leader or not (a follower marks executed what the leader delivered: `reconcile_once`),
so a lane that stops moving shows on all of them, whatever the cause: a destination refusing, a stuck batch, or a
leader holding a lane back where no omission rule strikes it (the lanes to Phala: docs/decisions.md, "A leader that
proposes nothing"). Read at scrape time, not polled: nothing runs when nobody scrapes, and a scrape sees the store
as it is."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.lifecycle import MessageState
from relayers.daemon.store_health import STORE_FAILURES, StoreHealth
from relayers.store import SqlStore, StoreUnavailable

IN_STATE = "phala_bridge_messages_in_state"
OLDEST_WAITING = "phala_bridge_oldest_waiting_seconds"


def read_store(store: SqlStore, health: StoreHealth, where: str) -> tuple[dict[str, int], dict[int, float]]:
    """Messages per state, and per destination when its oldest message not final yet was first seen (wall clock).
    Like any store call it tells `health` what it found: an outage (`StoreUnavailable`, raised on) or an answer."""
    try:
        counts, first_seen = store.counts(), store.oldest_waiting()
    except StoreUnavailable as exc:
        health.failed(where, exc)
        raise
    health.succeeded(where)
    return counts, first_seen


class StoreGauges(Collector):
    def __init__(
        self,
        store: SqlStore,
        health: StoreHealth,
        destinations: Mapping[int, str],
        clock: Callable[[], float] = time.time,  # the store's `observed_at` is wall-clock time
    ) -> None:
        self.store = store
        self.health = health
        self.destinations = dict(destinations)
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        # Registering asks for the names; without this the registry would call `collect`, a store read.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        in_state, oldest = self._families()
        try:
            counts, first_seen = read_store(self.store, self.health, "metrics")
        except STORE_FAILURES:
            return  # absent while unknown: `phala_bridge_store_up` says why
        for state in MessageState:
            in_state.add_metric([state.value], counts.get(state.value, 0))
        now = self.clock()
        names = {**self.destinations, **{d: str(d) for d in first_seen if d not in self.destinations}}
        for domain, name in sorted(names.items()):
            since = first_seen.get(domain)
            oldest.add_metric([name], 0.0 if since is None else max(0.0, now - since))
        yield in_state
        yield oldest

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(IN_STATE, "Messages in this relayer's store per lifecycle state", labels=["state"]),
            GaugeMetricFamily(
                OLDEST_WAITING,
                "Seconds since this relayer first saw its oldest message to the destination that is not executed or "
                "failed yet (0: nothing waits)",
                labels=["destination"],
            ),
        )
