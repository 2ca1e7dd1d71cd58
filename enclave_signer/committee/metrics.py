"""The committee node's Prometheus metrics, on its own registry (the enclave exposes them through its local API,
`metrics`, not over HTTP). Labels are codes (reason codes, kinds), never free text or secrets."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bridge.telemetry import new_registry

__all__ = ["CommitteeMetrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class CommitteeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or new_registry()
        r = self.registry
        self.members_up = Gauge(
            "phala_bridge_committee_members_up", "Members heard from recently (self included)", registry=r
        )
        self.distrusted = Gauge(
            "phala_bridge_committee_distrusted_members",
            "Members skipped for the lead: t members up distrust them (their proposals kept being refused)",
            registry=r,
        )
        self.skipped = Counter(
            "phala_bridge_committee_skipped_messages_total",
            "Strikes against a leader that passed over a message this member's view says it should deliver",
            ["destination", "lane"],
            registry=r,
        )
        self.stalled = Counter(
            "phala_bridge_committee_stalled_lanes_total",
            "Strikes against a leader that proposed nothing in a lane while a message of it waited in this member's"
            " view (one per lane per stall grace period)",
            ["destination", "lane"],
            registry=r,
        )
        self.sessions = Counter(
            "phala_bridge_committee_sessions_total",
            "Sessions by kind, role and outcome",
            ["kind", "role", "outcome"],
            registry=r,
        )
        self.refusals = Counter(
            "phala_bridge_committee_refusals_total",
            "Member refusals seen by the leader, by code",
            ["kind", "code"],
            registry=r,
        )
        self.misbehaviour = Counter(
            "phala_bridge_committee_misbehaviour_total",
            "Members dropped for provably bad values",
            ["kind", "what"],
            registry=r,
        )
        self.rejections = Counter(
            "phala_bridge_committee_envelope_rejections_total",
            "Incoming envelopes refused, by reason",
            ["reason"],
            registry=r,
        )
        self.quote_rejections = Counter(
            "phala_bridge_committee_quote_rejections_total",
            "Admission quotes refused, by reason",
            ["reason"],
            registry=r,
        )
        self.retransmissions = Counter(
            "phala_bridge_committee_retransmissions_total",
            "Requests sent again within a session",
            ["kind"],
            registry=r,
        )
        self.session_seconds = Histogram(
            "phala_bridge_committee_session_seconds",
            "Leader-side session duration",
            ["kind"],
            buckets=_BUCKETS,
            registry=r,
        )

    def render(self) -> str:
        return generate_latest(self.registry).decode()
