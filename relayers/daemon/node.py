"""One relayer daemon: wait for the local enclave's committee keys, build the adapters, run the pipeline with its
status server, follow the committee's leader view. Everything comes in through `RelayerParts` so the application
edge (bridge.cli) builds it from config and tests can build it by hand."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from bridge.confidential import is_confidential_call
from bridge.errors import one_line
from bridge.policy import BridgePolicy
from bridge.ports import Destination, SourceWatcher
from relayers.daemon.enclave_metrics import EnclaveMetricsRelay
from relayers.daemon.http import RouteFn, StatusServer
from relayers.daemon.metrics import RelayerMetrics
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.daemon.store_gauges import StoreGauges, read_store
from relayers.daemon.store_health import STORE_FAILURES, StoreHealth
from relayers.enclave_client import EnclaveBatchSigner, EnclaveClient, EnclaveClientError
from relayers.store import ArchivedRecord, SqlStore, StoreUnavailable

log = structlog.get_logger("relayer.node")


@dataclass
class RelayerParts:
    member_id: int
    store: SqlStore
    policy: BridgePolicy
    watchers: Sequence[SourceWatcher]
    destinations: Sequence[Destination]
    enclave: EnclaveClient
    pipeline_config: PipelineConfig
    status_host: str
    status_port: int


class LeaderView:
    """Who leads, from the local enclave's heartbeat view; refreshed in the background. Each refresh is also this
    relayer's sign of life: the enclave tells the committee its relayer is attached, which makes it eligible to lead."""

    def __init__(self, enclave: EnclaveClient, member_id: int, metrics: RelayerMetrics) -> None:
        self.enclave = enclave
        self.member_id = member_id
        self.metrics = metrics
        self.leader: int | None = None
        self.members_up: tuple[int, ...] = ()
        self.relaying: tuple[int, ...] = ()  # members whose relayer is attached (who may lead)
        self.threshold = 1
        self.enclave_ok = False
        self.updated = 0.0

    def is_leader(self, _domain: int) -> bool:
        # A member that cannot see t members up cannot get a signature: it does not lead (during a broker outage
        # every enclave sees only itself, and every relayer would otherwise try, fail and back off).
        return self.enclave_ok and self.leader == self.member_id and len(self.members_up) >= self.threshold

    async def refresh(self) -> None:
        try:
            status = await self.enclave.status(relayer=True)
        except EnclaveClientError as exc:
            if self.enclave_ok:
                log.warning("enclave_unreachable", error=str(exc))
            self.enclave_ok = False
            self.metrics.enclave_up.set(0)
            return
        if status.leader != self.leader:
            log.info("leader_changed", leader=status.leader, me=self.member_id, members_up=list(status.members_up))
        self.leader, self.members_up, self.enclave_ok = status.leader, status.members_up, status.has_keys
        self.relaying = status.relaying
        self.threshold = status.threshold
        self.metrics.committee_up.set(len(status.members_up))
        self.metrics.enclave_up.set(1 if status.has_keys else 0)
        self.metrics.threshold.set(status.threshold)
        self.updated = time.monotonic()

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


async def run_relayer(parts: RelayerParts, stop: asyncio.Event) -> None:
    metrics = RelayerMetrics()
    view = LeaderView(parts.enclave, parts.member_id, metrics)
    await view.refresh()
    signer = EnclaveBatchSigner(parts.enclave, {1: "secp256k1", 2: "ed25519"})
    pipeline = Pipeline(
        store=parts.store,
        policy=parts.policy,
        watchers=parts.watchers,
        destinations=parts.destinations,
        signer=signer,
        config=parts.pipeline_config,
        metrics=metrics,
        is_leader=view.is_leader,
    )

    names = {d.domain: d.name for d in parts.destinations}

    def health() -> tuple[bool, dict[str, Any]]:
        stages = dict(pipeline.healthy)
        messages, waiting, store = _store_health(parts.store, pipeline.store_health, names)
        ok = view.enclave_ok and all(stages.values()) and store["up"]
        return ok, {
            "member_id": parts.member_id,
            "leader": view.leader,
            "members_up": list(view.members_up),
            "relaying": list(view.relaying),
            "enclave": view.enclave_ok,
            "stages": stages,
            "store": store,
            "messages": messages,
            "waiting": waiting,
        }

    metrics.registry.register(StoreGauges(parts.store, pipeline.store_health, names))
    server = StatusServer(
        metrics.registry,
        health,
        parts.status_host,
        parts.status_port,
        status_routes(parts.store),
        extra_metrics=EnclaveMetricsRelay(parts.enclave, metrics.registry).render,
    )
    port = await server.start()
    log.info("relayer_started", member_id=parts.member_id, status_port=port, leader=view.leader)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(view.run(stop))
            tg.create_task(pipeline.run(stop))
    finally:
        await server.close()


def _store_health(
    store: SqlStore, tracker: StoreHealth, names: dict[int, str]
) -> tuple[dict[str, int] | None, dict[str, float] | None, dict[str, Any]]:
    """Message counts and, per destination with messages not final yet, the oldest one's age in seconds (both None
    when the store cannot give them), and the store's part of `/health`. A health check is a store call like any
    other: it may be the one that sees the store go away or come back."""
    try:
        counts, first_seen = read_store(store, tracker, "health")
    except StoreUnavailable:
        return None, None, tracker.snapshot()
    except STORE_FAILURES as exc:  # not an outage the stages wait out: say it, as the stages will
        return None, None, {"up": False, "error": one_line(exc)}
    now = time.time()  # `observed_at` is wall-clock time
    waiting = {names.get(d, str(d)): round(max(0.0, now - t), 1) for d, t in sorted(first_seen.items())}
    return counts, waiting, tracker.snapshot()


def status_routes(store: SqlStore) -> dict[str, RouteFn]:
    """`/message/<id>` and `/source-tx/<hash>` (what `phala-bridge status` asks), from the store: live messages and
    those a `store rebind` moved aside; a failing store is a 503 with its one-line error."""

    def message(mid: str) -> tuple[int, Any]:
        # A live message first; else the newest copy a `store rebind` moved aside (`archived_at` says so).
        try:
            rec = store.get(mid.lower())
            if rec is not None:
                return 200, _record_json(rec)
            archived = store.archived_get(mid)
        except STORE_FAILURES as exc:
            return _store_failed(exc)
        return (404, {"error": "unknown message"}) if not archived else (200, _archived_json(archived[0]))

    def source_tx(tx: str) -> tuple[int, Any]:
        try:
            live = store.by_source_tx(tx.lower())
            archived = store.archived_by_source_tx(tx)
        except STORE_FAILURES as exc:
            return _store_failed(exc)
        return 200, [_record_json(r) for r in live] + [_archived_json(a) for a in archived]

    return {"message": message, "source-tx": source_tx}


def _store_failed(exc: BaseException) -> tuple[int, Any]:
    # The store's own words, one line (a driver's message names no password; the URL is not in it).
    error = one_line(exc)
    log.error("status_store_failed", error=error)
    return 503, {"error": f"the relayer's store failed: {error}"}


def _archived_json(archived: ArchivedRecord) -> dict[str, Any]:
    return {**_record_json(archived.record), "archived_at": archived.archived_at}


def _record_json(rec: Any) -> dict[str, Any]:
    m = rec.message
    return {
        "id": rec.id_hex,
        "state": str(rec.state),
        "reason": rec.reason,
        "source_domain": m.source_domain,
        "dest_domain": m.dest_domain,
        "nonce": m.nonce,
        "kind": m.kind.value,
        "confidential": is_confidential_call(m),
        "amount": str(m.amount),
        "sender": "0x" + m.sender.hex(),  # for a call into Ethereum: the origin its target reads (messageOrigin)
        "recipient": "0x" + m.recipient.hex(),
        "source_tx": "0x" + m.source.tx_hash.hex(),
        "source_block": m.source.block_number,
        "dest_tx": rec.dest_tx,
    }
