"""The relayer's Prometheus metrics, on its own registry (those read from the store at scrape time: store_gauges.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bridge.telemetry import new_registry

# 10 ms steps up to 100 ms: the overhead target (p50 <= 50 ms) is read from these buckets, and a p50 interpolated
# inside one 50-100 ms bucket said little more than "over 50".
_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.02,
    0.03,
    0.04,
    0.05,
    0.06,
    0.07,
    0.08,
    0.09,
    0.1,
    0.15,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)


class RelayerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or new_registry()
        r = self.registry
        self.messages = Counter(
            "phala_bridge_messages_total", "Messages entering each stage", ["stage", "destination"], registry=r
        )
        self.failures = Counter(
            "phala_bridge_stage_errors_total", "Errors per stage and kind", ["stage", "kind"], registry=r
        )
        self.overhead = Histogram(
            "phala_bridge_overhead_seconds",
            "From a finalized source event being observed to its destination submission",
            ["destination"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.handoff = Histogram(
            "phala_bridge_handoff_seconds",
            "From a finalized source event being observed to its signed destination transaction handed to the node "
            "(the submit request written; overhead_seconds ends when the node has accepted it)",
            ["destination"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.signing = Histogram(
            "phala_bridge_signing_seconds", "Committee signing time per batch", ["destination"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.step = Histogram(
            "phala_bridge_batch_step_seconds",
            "Time per batch in the leader's steps: prepare (destination reads and planning), submit (the send)",
            ["step", "destination"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "phala_bridge_batch_size", "Messages per submitted batch", ["destination"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "phala_bridge_lag_blocks", "Blocks between the chain head and the cursor", ["chain"], registry=r
        )
        self.cursor = Gauge("phala_bridge_cursor_block", "Last processed finalized block", ["chain"], registry=r)
        self.committee_up = Gauge(
            "phala_bridge_committee_members_up", "Committee members seen alive recently", registry=r
        )
        self.threshold = Gauge(
            "phala_bridge_committee_threshold",
            "Members needed for a signature (t), as the local enclave says",
            registry=r,
        )
        self.enclave_up = Gauge(
            "phala_bridge_enclave_up",
            "1 while the local enclave answers its status polls holding committee keys; 0 otherwise (it cannot lead)",
            registry=r,
        )
        self.store_up = Gauge(
            "phala_bridge_store_up",
            "1 while the relayer's store answers; 0 while it does not (the stages that need it are paused)",
            registry=r,
        )
