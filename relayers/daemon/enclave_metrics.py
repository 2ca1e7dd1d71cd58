"""The local enclave's committee metrics, served on the relayer's `/metrics` beside its own.

The enclave has no HTTP server (its only interface is the local socket), so its counters (sessions, refusals,
omission strikes, distrusted members, envelope and quote rejections) were out of an operator's reach: one scrape of
the relayer now returns both. Fetched from the enclave at scrape time (`metrics` on the socket), bounded by a
timeout; what the relayer already exports under the same name (`phala_bridge_committee_members_up`, read from the
same enclave's status) is the relayer's. An enclave that does not answer, or answers with text that does not parse,
adds nothing: `phala_bridge_enclave_up` says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from bridge.errors import one_line
from relayers.enclave_client import EnclaveClientError

log = structlog.get_logger("relayer")


class MetricsSource(Protocol):
    async def metrics(self) -> str: ...


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class EnclaveMetricsRelay:
    def __init__(self, enclave: MetricsSource, own: CollectorRegistry, timeout: float = 2.0) -> None:
        self.enclave = enclave
        self.own = own
        self.timeout = timeout
        self._failing = False
        self._own: frozenset[str] | None = None  # the relayer's family names: all registered at start

    def _own_names(self) -> frozenset[str]:
        if self._own is None:
            self._own = frozenset(family.name for family in self.own.collect())
        return self._own

    async def render(self) -> bytes:
        """The enclave's families the relayer does not export itself, in the exposition format; b"" when the
        enclave cannot give them now."""
        try:
            async with asyncio.timeout(self.timeout):
                text = await self.enclave.metrics()
            families = list(text_string_to_metric_families(text))
        except (EnclaveClientError, OSError, TimeoutError, ValueError) as exc:
            if not self._failing:  # once per failing run: a scrape every 15 s must not flood the log
                log.warning("enclave_metrics_unavailable", error=one_line(exc))
            self._failing = True
            return b""
        if self._failing:
            log.info("enclave_metrics_available")
        self._failing = False
        own = self._own_names()
        return generate_latest(_Families(f for f in families if f.name not in own))
