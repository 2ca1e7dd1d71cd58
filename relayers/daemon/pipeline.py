"""The pipeline: one task per source watcher (observe), one verifier, one sign-and-submit task and one confirmer
per destination, joined by the store (states) and an in-memory confirm queue.

The store is the queue between observe/verify and sign: a restart loses nothing because every stage reads its
work back from persisted states. At start-up, messages left `signed` (signature made, never submitted) go back to
`verified`, and `submitted` ones are re-confirmed against the destination, which is the final word.

A store that stops answering under a running daemon (`StoreUnavailable`: a PostgreSQL restart, a terminated
connection) pauses each stage that hits it; the stage probes the store with backoff and starts again from what the
store holds. The one thing the store may not hold is a batch already sent whose `submitted` record failed: it stays
in memory, in flight, confirmed against the destination like any other, and the confirm stage writes its record once
the store answers (docs/relayer.md, "The store goes away under a running relayer").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

from bridge.batching import Batcher, BatchPolicy
from bridge.errors import one_line
from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage
from bridge.policy import BridgePolicy, PolicyRefusal
from bridge.ports import (
    BatchNotExecutable,
    BatchSigner,
    ChainPosition,
    Destination,
    RefundingDestination,
    SigningRefused,
    SigningRequest,
    SigningUnavailable,
    SourceWatcher,
)
from relayers.daemon.metrics import RelayerMetrics
from relayers.daemon.store_health import StoreHealth
from relayers.heads import HeadNotifier
from relayers.store import BatchRecord, Cursor, MessageRecord, SqlStore, StoreUnavailable

log = structlog.get_logger("relayer")


@dataclass
class PipelineConfig:
    poll_interval: float = 0.5  # watchers and the verifier
    confirm_interval: float = 0.5
    # For a destination with `max_in_flight` the next batch waits for this confirmation: ask more often (a Phala
    # check with nothing new costs one round trip, the finalized head).
    gated_confirm_interval: float = 0.1
    batch: BatchPolicy = field(default_factory=BatchPolicy)
    signing_timeout: float = 30.0
    retry_backoff: float = 1.0  # after a failed sign or submit
    max_backoff: float = 30.0
    # A node that does not lead asks the destination this often which of its `verified` messages the leader has
    # executed, so its store (and `status` on it) follows the chains instead of saying `verified` forever.
    reconcile_interval: float = 5.0


@dataclass
class _InFlight:
    batch_id: str
    destination: int
    tx_hash: str
    message_ids: tuple[str, ...]
    submitted_at: float
    recorded: bool = True  # False: sent, but the store did not take its `submitted` record yet


class Pipeline:
    def __init__(
        self,
        *,
        store: SqlStore,
        policy: BridgePolicy,
        watchers: Sequence[SourceWatcher],
        destinations: Sequence[Destination],
        signer: BatchSigner,
        config: PipelineConfig | None = None,
        metrics: RelayerMetrics | None = None,
        is_leader: Callable[[int], bool] = lambda _domain: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.policy = policy
        self.watchers = list(watchers)
        self.destinations = {d.domain: d for d in destinations}
        self.signer = signer
        self.config = config or PipelineConfig()
        self.metrics = metrics or RelayerMetrics()
        self.is_leader = is_leader
        self.clock = clock
        # One confirm queue and task per destination: a slow chain's pending batches never delay another's.
        self._confirm_queues: dict[int, asyncio.Queue[_InFlight]] = {d: asyncio.Queue() for d in self.destinations}
        self._observed_at: dict[str, float] = {}  # id -> monotonic time first seen by this process (latency metric)
        self._wake_signers = asyncio.Event()
        self._in_flight: dict[int, dict[str, _InFlight]] = {}  # destination -> tx hash -> sent, not yet settled
        self.healthy: dict[str, bool] = {}
        self.store_health = StoreHealth(self.metrics, clock)

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def recover(self, domain: int | None = None) -> None:
        """Put persisted work back in play: at start (after a restart, or a crash at any point) for every destination,
        and for `domain` when its submit stage resumes after the store was unavailable. A batch this process holds in
        flight (sent; its record perhaps not written yet) is the confirm stage's: its messages stay as they are."""
        held = {mid for d, items in self._in_flight.items() if domain in (None, d) for i in items.values()
                for mid in i.message_ids}  # fmt: skip
        signed = [
            r.id_hex
            for r in self.store.in_state(MessageState.SIGNED, dest_domain=domain, limit=1_000_000)
            if r.id_hex not in held
        ]
        if signed:
            self.store.transition(signed, MessageState.VERIFIED, reason=None)
            log.info("recovered_signed_as_verified", count=len(signed))
        submitted = self.store.in_state(MessageState.SUBMITTED, dest_domain=domain, limit=1_000_000)
        by_tx: dict[tuple[int, str], list[MessageRecord]] = {}
        for rec in submitted:
            if rec.dest_tx and rec.dest_tx not in self._in_flight.get(rec.message.dest_domain, {}):
                by_tx.setdefault((rec.message.dest_domain, rec.dest_tx), []).append(rec)
        for (dest, tx), recs in by_tx.items():
            self._track(_InFlight(recs[0].batch_id or tx, dest, tx, tuple(r.id_hex for r in recs), self.clock()))
        if by_tx:
            log.info("recovered_submitted_for_confirmation", batches=len(by_tx), messages=len(submitted))

    async def run(self, stop: asyncio.Event) -> None:
        await self._guard("recover", self._recover_all, stop)
        self.healthy.pop("recover", None)
        async with asyncio.TaskGroup() as tg:
            for w in self.watchers:
                tg.create_task(self._guard(f"observe:{w.name}", partial(self._observe_loop, w, stop), stop))
            tg.create_task(self._guard("verify", partial(self._verify_loop, stop), stop))
            for d in self.destinations.values():
                # The submit stage resumes with `recover(d)`: what it signed before the store went away and did not
                # send goes back to `verified` (the signature was never used).
                tg.create_task(
                    self._guard(
                        f"submit:{d.name}",
                        partial(self._submit_loop, d, stop),
                        stop,
                        on_resume=partial(self.recover, d.domain),
                    )
                )
                tg.create_task(self._guard(f"confirm:{d.name}", partial(self._confirm_loop, d.domain, stop), stop))
                # A destination that keeps a local view of its chain (`follow`, until cancelled) runs it beside.
                follow = getattr(d, "follow", None)
                if callable(follow):
                    tg.create_task(self._guard(f"follow:{d.name}", partial(_until_stop, follow, stop), stop))
            for w in self.watchers:
                heads = getattr(w, "heads", None)
                if isinstance(heads, HeadNotifier):
                    tg.create_task(self._guard(f"heads:{w.name}", partial(_until_stop, heads.run, stop), stop))

    async def _recover_all(self) -> None:
        self.recover()

    async def _guard(
        self,
        name: str,
        stage: Callable[[], Awaitable[None]],
        stop: asyncio.Event,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        """Run a stage (a fresh coroutine on each call) until it returns. A store that does not answer pauses it:
        probe the store with backoff, then run `on_resume` and the stage again (it reads its work back from the
        store). Anything else that escapes a stage is a bug: stop the whole daemon so the supervisor restarts it from
        the store."""
        backoff = self.config.retry_backoff
        outage: float | None = None  # when the outage this stage last backed off for began
        while True:
            try:
                await stage()
                return
            except StoreUnavailable as exc:
                self.healthy[name] = False
                self.metrics.failures.labels(name.split(":")[0], "store_unavailable").inc()
                if self.store_health.down_since is None or self.store_health.down_since != outage:
                    backoff = self.config.retry_backoff  # a new outage: start the backoff again
                outage = self.store_health.failed(name, exc, retry_in=backoff)
            except Exception as exc:
                log.exception("stage_crashed", stage=name, error=one_line(exc))
                stop.set()
                raise
            resumed = await self._until_store_answers(name, backoff, stop, on_resume)
            if resumed is None:
                return
            backoff = resumed
            self.healthy[name] = True

    async def _until_store_answers(
        self, name: str, backoff: float, stop: asyncio.Event, on_resume: Callable[[], None] | None
    ) -> float | None:
        """Wait `backoff` (doubling) between probes until the store answers and `on_resume` went through. Returns
        the backoff for a failure in the same outage; None: stopped meanwhile."""
        while True:
            await _sleep_or_stop(stop, backoff)
            if stop.is_set():
                return None
            backoff = min(backoff * 2, self.config.max_backoff)
            try:
                self.store.ping()
                self.store_health.succeeded(name)
                if on_resume is not None:
                    on_resume()
                return backoff
            except StoreUnavailable as exc:
                self.store_health.failed(name, exc, retry_in=backoff)

    # ---- observe ---------------------------------------------------------------------------------------------

    async def observe_once(self, watcher: SourceWatcher) -> int:
        saved = self.store.cursor(watcher.name)
        after = ChainPosition(saved.block_number, saved.block_hash, saved.sequence) if saved else None
        result = await watcher.poll(after)
        observed = self.store.record_observed(result.messages)  # logs `message_body_replaced` for each replaced
        new = observed.new
        if result.reorg_from is not None:
            self._set_aside(watcher, result.reorg_from, {m.id_hex for m in result.messages})
        now = self.clock()
        for m in result.messages:
            self._observed_at.setdefault(m.id_hex, now)
        if result.rejected:
            added = self.store.add_rejections(watcher.name, result.rejected)
            for r in result.rejected:
                log.error(
                    "funds_without_valid_intent",
                    chain=watcher.name,
                    tx=r.extrinsic_hash,
                    amount=r.amount,
                    reason=r.reason,
                    new=bool(added),
                )
            self.metrics.failures.labels("observe", "rejected_deposit").inc(added)
        pos = result.position
        self.store.set_cursor(Cursor(watcher.name, pos.block_number, pos.block_hash, pos.sequence))
        self.metrics.cursor.labels(watcher.name).set(result.position.block_number)
        self.metrics.lag.labels(watcher.name).set(max(0, result.head - result.position.block_number))
        if new:
            self.metrics.messages.labels("observed", "any").inc(new)
            log.info("observed", chain=watcher.name, new=new, block=result.position.block_number)
        if result.reorg_from is not None:
            log.warning("reorg_rescanned", chain=watcher.name, from_block=result.reorg_from)
        return new

    def _set_aside(self, watcher: SourceWatcher, reorg_from: int, seen: set[str]) -> None:
        """A reorg deeper than the confirmation depth: the messages of this source not yet signed, from blocks at or
        after `reorg_from`, that the re-scan did not hand over again may be gone from the chain (or stand for another
        deposit with the same nonce): the verify stage skips them until the watcher observes them again
        (`SqlStore.set_aside_after_reorg`). Only when this watcher is its domain's one source: another watcher of
        the domain (Phala's replies) does not re-scan, so its messages would never be observed again."""
        if sum(1 for w in self.watchers if w.domain == watcher.domain) != 1:
            log.warning("reorg_not_set_aside", chain=watcher.name, from_block=reorg_from, why="shared source domain")
            return
        moved = self.store.set_aside_after_reorg(watcher.domain, reorg_from, seen)
        if moved:
            log.warning(
                "messages_set_aside_after_reorg", chain=watcher.name, from_block=reorg_from, count=len(moved),
                message_ids=[m[:18] for m in moved[:20]],
            )  # fmt: skip

    async def _observe_loop(self, watcher: SourceWatcher, stop: asyncio.Event) -> None:
        backoff = self.config.retry_backoff
        while not stop.is_set():
            try:
                new = await self.observe_once(watcher)
                self.healthy[f"observe:{watcher.name}"] = True
                backoff = self.config.retry_backoff
                if new:
                    await self.verify_once()
                    continue
                heads = getattr(watcher, "heads", None)
                if isinstance(heads, HeadNotifier):  # poll on the next head notification (polls if it is down)
                    await _head_or_stop(stop, heads)
                else:
                    await _sleep_or_stop(stop, self.config.poll_interval)
            except StoreUnavailable:
                raise  # the stage pauses for the store (`_guard`)
            except Exception as exc:
                self.healthy[f"observe:{watcher.name}"] = False
                self.metrics.failures.labels("observe", type(exc).__name__).inc()
                log.warning("observe_failed", chain=watcher.name, error=str(exc), retry_in=backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.config.max_backoff)

    # ---- verify ----------------------------------------------------------------------------------------------

    async def verify_once(self) -> int:
        records = self.store.to_verify(limit=10_000)  # not those set aside after a reorg
        ok: list[str] = []
        for rec in records:
            try:
                self.policy.check(rec.message)
            except PolicyRefusal as exc:
                self.store.transition([rec.id_hex], MessageState.FAILED, reason=f"refused by policy: {exc}")
                self.metrics.messages.labels("failed", str(rec.message.dest_domain)).inc()
                log.warning("refused_by_policy", message_id=rec.id_hex, reason=str(exc))
                continue
            ok.append(rec.id_hex)
        moved = self.store.transition(ok, MessageState.VERIFIED)
        if moved:
            self.metrics.messages.labels("verified", "any").inc(len(moved))
            self._wake_signers.set()
        return len(moved)

    async def _verify_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.verify_once()
            await _sleep_or_stop(stop, self.config.poll_interval)

    # ---- sign and submit -------------------------------------------------------------------------------------

    async def _submit_loop(self, dest: Destination, stop: asyncio.Event) -> None:
        batcher: Batcher[BridgeMessage] = Batcher(self.config.batch, dest.gas_of)
        queued: set[str] = set()
        backoff = self.config.retry_backoff
        reconciled = self.clock()
        while not stop.is_set():
            ready: list[list[BridgeMessage]] = []
            leading = self.is_leader(dest.domain)
            if not leading and self.clock() - reconciled >= self.config.reconcile_interval:
                reconciled = self.clock()
                await self.reconcile_once(dest)
            if leading and not self._full(dest):
                # Messages being signed or confirmed are no longer `verified`, so only `queued` needs tracking.
                for rec in self.store.in_state(MessageState.VERIFIED, dest_domain=dest.domain, limit=10_000):
                    if rec.id_hex in queued:
                        continue
                    queued.add(rec.id_hex)
                    ready.extend(batcher.add(dest.domain, rec.message, self.clock()))
                ready.extend(batch for _, batch in batcher.due(self.clock()))
            for n, batch in enumerate(ready):
                if self._full(dest):
                    # Wait for the batch in flight to settle; these go back to `verified` handling next round.
                    for later in ready[n:]:
                        for m in later:
                            queued.discard(m.id_hex)
                    break
                ok = await self._sign_and_submit(dest, batch)
                for m in batch:
                    queued.discard(m.id_hex)
                if not ok:
                    # The batches not tried are out of the batcher too: release their ids, or they would stay
                    # `verified` and never be batched again.
                    for later in ready[n + 1 :]:
                        for m in later:
                            queued.discard(m.id_hex)
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, self.config.max_backoff)
                    break
                backoff = self.config.retry_backoff
            if ready and not self._full(dest):
                continue
            deadline = batcher.next_deadline()
            wait = self.config.poll_interval if deadline is None else max(0.0, deadline - self.clock())
            self._wake_signers.clear()
            await _wait_any(stop, self._wake_signers, min(wait, self.config.poll_interval))

    async def reconcile_once(self, dest: Destination, limit: int = 1_000) -> int:
        """Mark `executed` what the destination says executed among this node's `verified` messages (a follower's
        view of the leader's work). Returns how many moved; a destination that cannot answer now is asked later."""
        records = self.store.in_state(MessageState.VERIFIED, dest_domain=dest.domain, limit=limit)
        if not records:
            return 0
        try:
            done = await dest.already_executed([r.message for r in records])
            refunded = await _refunded(dest, [r.message for r in records if r.message.id_hex not in done])
        except Exception as exc:
            self.metrics.failures.labels("reconcile", type(exc).__name__).inc()
            log.debug("reconcile_failed", destination=dest.name, error=str(exc))
            return 0
        self._fail_refunded(dest, refunded)
        moved = self.store.transition(sorted(done), MessageState.EXECUTED) if done else []
        if moved:
            self.metrics.messages.labels("executed", dest.name).inc(len(moved))
            log.info("reconciled", destination=dest.name, executed=len(moved))
        return len(moved)

    async def _sign_and_submit(self, dest: Destination, batch: list[BridgeMessage]) -> bool:
        """One batch through sign and submit. Returns False when it should be retried later."""
        ids = [m.id_hex for m in batch]
        prepare_started = self.clock()
        try:
            done = await dest.already_executed(batch)
            refunded = await _refunded(dest, [m for m in batch if m.id_hex not in done])
            self._fail_refunded(dest, refunded)
            if done or refunded:
                if done:
                    self.store.transition(sorted(done), MessageState.EXECUTED)
                    log.info("already_executed", destination=dest.name, count=len(done))
                batch = [m for m in batch if m.id_hex not in done and m.id_hex not in refunded]
                ids = [m.id_hex for m in batch]
                if not batch:
                    return True
            request = await dest.prepare(batch)
            # The members check the messages against the request id for id, in order: hand them over as the
            # destination planned them (its canonical order, without what it left out), not in arrival order.
            by_id = {i.lower(): m for i, m in zip(ids, batch, strict=True)}
            covered = [by_id[i.lower()] for i in request.message_ids if i.lower() in by_id]
            started = self.clock()
            self.metrics.step.labels("prepare", dest.name).observe(started - prepare_started)
            signature = await asyncio.wait_for(self.signer.sign(request, covered), self.config.signing_timeout)
            self.metrics.signing.labels(dest.name).observe(self.clock() - started)
        except StoreUnavailable:
            raise  # nothing signed or sent: the stage pauses for the store (`_guard`)
        except BatchNotExecutable as exc:
            self._settle_unexecutable(dest, exc)
            return not exc.deferred
        except (SigningUnavailable, TimeoutError) as exc:
            self.metrics.failures.labels("sign", "unavailable").inc()
            log.warning("signing_unavailable", destination=dest.name, messages=len(ids), error=str(exc))
            return False
        except SigningRefused as exc:
            self.metrics.failures.labels("sign", "refused").inc()
            log.warning("signing_refused", destination=dest.name, messages=len(ids), reason=str(exc))
            return False
        except Exception as exc:
            self.metrics.failures.labels("prepare", type(exc).__name__).inc()
            log.warning("prepare_failed", destination=dest.name, error=str(exc))
            return False
        batch_id = "0x" + request.payload.hex()[:64]
        # Not `signed` in the store (StoreUnavailable), not sent. Recorded but the answer lost (a COMMIT cut off):
        # `recover(dest)` on resume puts them back to `verified`, as after a restart.
        self.store.transition(ids, MessageState.SIGNED, batch_id=batch_id)
        submit_started = self.clock()
        handed_before = dest.handed_over_at
        try:
            tx_hash = await dest.submit(request, signature)
        except Exception as exc:
            self.metrics.failures.labels("submit", type(exc).__name__).inc()
            log.warning("submit_failed", destination=dest.name, batch_id=batch_id, error=str(exc))
            self.store.transition(ids, MessageState.VERIFIED)  # StoreUnavailable: `recover(dest)` on resume does it
            return False
        now = self.clock()
        self.metrics.step.labels("submit", dest.name).observe(now - submit_started)
        # In flight before it is recorded: a batch sent is confirmed against the destination whatever the store does
        # next, and while it is held in flight nothing signs its messages again (`recover` leaves them alone).
        item = _InFlight(batch_id, dest.domain, tx_hash, tuple(ids), now, recorded=False)
        self._track(item)
        # A destination that says when it wrote this submit request (`handed_over_at`, on this clock) gets a second
        # figure ending there: what the node then spends validating before it answers is the chain's time.
        handed = dest.handed_over_at
        handed = handed if handed is not None and handed != handed_before and handed <= now else None
        for mid in ids:
            seen = self._observed_at.pop(mid, None)
            if seen is not None:
                self.metrics.overhead.labels(dest.name).observe(now - seen)
                if handed is not None:
                    self.metrics.handoff.labels(dest.name).observe(max(0.0, handed - seen))
        self.metrics.messages.labels("submitted", dest.name).inc(len(ids))
        self.metrics.batch_size.labels(dest.name).observe(len(ids))
        log.info("submitted", destination=dest.name, batch_id=batch_id, tx=tx_hash, messages=len(ids))
        try:
            self._record_submitted(item)
        except StoreUnavailable:
            # The confirm stage writes the record once the store answers (`confirm_once`); a restart before then
            # finds them `signed` and signs again, which the destination refuses to pay twice (docs/faults.md).
            log.warning("submitted_unrecorded", destination=dest.name, batch_id=batch_id, tx=tx_hash, messages=len(ids))
            raise
        return True

    def _record_submitted(self, item: _InFlight) -> None:
        """`submitted` with its transaction, and the batch: both safe to write again (a guarded state change, a row
        replaced whole), so a write whose outcome the store could not tell is simply repeated."""
        self.store.transition(list(item.message_ids), MessageState.SUBMITTED, dest_tx=item.tx_hash)
        self.store.save_batch(
            BatchRecord(item.batch_id, item.destination, item.message_ids, "submitted", item.tx_hash, time.time(), 0.0)
        )
        item.recorded = True

    def _track(self, item: _InFlight) -> None:
        self._in_flight.setdefault(item.destination, {})[item.tx_hash] = item
        self._confirm_queues[item.destination].put_nowait(item)

    def _settled(self, item: _InFlight) -> None:
        self._in_flight.get(item.destination, {}).pop(item.tx_hash, None)
        self._wake_signers.set()  # a destination that was full may take the next batch now

    def _full(self, dest: Destination) -> bool:
        limit = dest.max_in_flight
        return limit is not None and len(self._in_flight.get(dest.domain, ())) >= limit

    def _fail_refunded(self, dest: Destination, refunded: dict[str, str]) -> None:
        """Settled by the destination with a refund to the source (a refund message of its own carries the tokens
        back): `failed`, with where they went."""
        for mid, how in refunded.items():
            if self.store.transition([mid], MessageState.FAILED, reason=how):  # as the refund batch's confirm says
                self.metrics.messages.labels("failed", dest.name).inc()
                log.warning("refunded_by_destination", destination=dest.name, message_id=mid, refund=how)

    def _settle_unexecutable(self, dest: Destination, exc: BatchNotExecutable) -> None:
        if exc.executed:
            self.store.transition(sorted(exc.executed), MessageState.EXECUTED)
        for mid, reason in exc.refused.items():
            self.store.transition([mid], MessageState.FAILED, reason=f"refused by {dest.name}: {reason}")
            self.metrics.messages.labels("failed", dest.name).inc()
            log.warning("refused_by_destination", destination=dest.name, message_id=mid, reason=reason)
        if exc.deferred:
            log.info("deferred_by_destination", destination=dest.name, count=len(exc.deferred))

    # ---- confirm ---------------------------------------------------------------------------------------------

    async def confirm_once(self, item: _InFlight) -> bool:
        """True when the batch is settled (executed, failed or dropped); False to ask again later."""
        dest = self.destinations[item.destination]
        if not item.recorded:  # sent while the store did not answer: its record first
            self._record_submitted(item)
        result = await dest.confirm(item.tx_hash, item.message_ids)
        if result.pending:
            return False
        if result.dropped:
            moved = self.store.transition(list(item.message_ids), MessageState.VERIFIED)
            log.warning("batch_dropped", destination=dest.name, tx=item.tx_hash, requeued=len(moved))
            self._wake_signers.set()
            return True
        if result.executed:
            self.store.transition(sorted(result.executed), MessageState.EXECUTED)
            self.metrics.messages.labels("executed", dest.name).inc(len(result.executed))
        for mid, reason in result.failed.items():
            self.store.transition([mid], MessageState.FAILED, reason=reason)
            self.metrics.messages.labels("failed", dest.name).inc()
            log.warning("item_failed_on_destination", destination=dest.name, message_id=mid, reason=reason)
        # Anything the destination neither executed nor failed goes back to be signed again.
        rest = [m for m in item.message_ids if m not in result.executed and m not in result.failed]
        if rest:
            self.store.transition(rest, MessageState.VERIFIED)
            self._wake_signers.set()
        log.info("confirmed", destination=dest.name, tx=item.tx_hash, executed=len(result.executed))
        return True

    async def _confirm_loop(self, domain: int, stop: asyncio.Event) -> None:
        """Check every batch in flight to `domain` once per round; a round with some still pending is followed by
        the confirm interval (new submissions are checked at once when nothing is pending)."""
        queue = self._confirm_queues[domain]
        gated = self.destinations[domain].max_in_flight is not None
        interval = self.config.gated_confirm_interval if gated else self.config.confirm_interval
        while not stop.is_set():
            try:
                first = await asyncio.wait_for(queue.get(), interval)
            except TimeoutError:
                continue
            items = [first]
            while not queue.empty():
                items.append(queue.get_nowait())
            pending: list[_InFlight] = []
            for n, item in enumerate(items):
                try:
                    settled = await self.confirm_once(item)
                except StoreUnavailable:
                    # Nothing settles without its record: back in the queue, this one and those not asked yet, for
                    # when the stage resumes (`_guard`). Asking the destination again is harmless.
                    for later in (*pending, *items[n:]):
                        queue.put_nowait(later)
                    raise
                except Exception as exc:
                    self.metrics.failures.labels("confirm", type(exc).__name__).inc()
                    log.warning("confirm_failed", tx=item.tx_hash, error=str(exc))
                    settled = False
                if settled:
                    self._settled(item)
                else:
                    pending.append(item)
            if pending:
                await _sleep_or_stop(stop, interval)
                for item in pending:
                    queue.put_nowait(item)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _head_or_stop(stop: asyncio.Event, heads: HeadNotifier) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(heads.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _until_stop(run: Callable[[], Coroutine[Any, Any, None]], stop: asyncio.Event) -> None:
    """Run a task that runs until cancelled (a follower, a subscription) until `stop` is set."""
    task = asyncio.ensure_future(run())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def _wait_any(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _refunded(dest: Destination, messages: list[BridgeMessage]) -> dict[str, str]:
    """What `dest` settled with a refund among `messages` (a destination that never refunds: nothing)."""
    return await dest.refunded(messages) if messages and isinstance(dest, RefundingDestination) else {}


__all__ = ["Pipeline", "PipelineConfig", "SigningRequest"]
