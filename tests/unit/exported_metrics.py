"""What a relayer's /metrics serves, by series name and label names: its own metrics, the gauges it reads from the
store at scrape time, and its enclave's committee metrics (relayed). The docs test and the alert-rules test check
names against this one map."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from enclave_signer.committee.metrics import CommitteeMetrics
from relayers.daemon.metrics import RelayerMetrics
from relayers.daemon.store_gauges import StoreGauges

TARGET_LABELS = frozenset({"instance", "job"})  # what Prometheus adds to every series it scrapes
_SUFFIXES = {"counter": ("_total",), "histogram": ("", "_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> dict[str, frozenset[str]]:
    """Series name (counters with `_total`; a histogram's name and its `_bucket`/`_sum`/`_count`) -> label names."""
    out: dict[str, frozenset[str]] = {}
    relayer, enclave = RelayerMetrics(CollectorRegistry()), CommitteeMetrics(CollectorRegistry())
    for metric in [*vars(relayer).values(), *vars(enclave).values()]:
        if not isinstance(metric, MetricWrapperBase):
            continue
        for suffix in _SUFFIXES[str(metric._type)]:
            out[metric._name + suffix] = frozenset(metric._labelnames) | ({"le"} if suffix == "_bucket" else set())
    for family in StoreGauges._families():
        out[family.name] = frozenset(family._labelnames)
    return out
