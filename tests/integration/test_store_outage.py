"""The store going away under a running relayer, against the machine's real PostgreSQL: a terminated connection is
replaced on the next call and nothing recorded is lost; a write cut off in the middle is not half-applied; a server
that does not answer is `StoreUnavailable` (one line, password masked); and a pipeline whose database goes away
pauses and carries on instead of crashing, without sending a batch twice. The server "goes away" behind a small TCP
proxy that this file closes and opens again (the machine's PostgreSQL itself keeps running)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from bridge.batching import BatchPolicy
from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage
from bridge.policy import BridgePolicy
from bridge.ports import Confirmation, SigningRequest
from enclave_signer.committee.metrics import CommitteeMetrics
from relayers.daemon.node import RelayerParts, run_relayer
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.store import SqlStore, StoreError, StoreUnavailable, open_store
from relayers.store.sqlite import SqliteStore
from tests.integration.conftest import transfer_message
from tests.unit.relayer.test_pipeline import PHA, FakeSigner, FakeWatcher, _msg

SECRET = "hunter2"  # trust auth ignores it; it must never show in an error or a log


class TcpProxy:
    """127.0.0.1:<port> -> the PostgreSQL server. `close()` cuts every connection and refuses new ones (the server
    is gone as far as the store can tell); `open()` serves again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(postgres_url)
    p = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    p.open()
    yield p
    p.close()


def _via(proxy: TcpProxy, postgres_url: str) -> str:
    """The test database's URL through the proxy, with a password to be masked."""
    parts = urlsplit(postgres_url)
    return f"postgresql://{parts.username or 'postgres'}:{SECRET}@127.0.0.1:{proxy.port}{parts.path}"


def _terminate_backends(postgres_server: str, postgres_url: str) -> int:
    """What the brief of an operator's `pg_terminate_backend` does: every connection to the test database is cut."""
    name = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _backends(postgres_server: str, postgres_url: str) -> set[int]:
    name = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    return {int(r[0]) for r in rows}


def _ids_on_server(postgres_url: str) -> set[str]:
    """The messages the server holds, read on a connection of its own (not through the store under test)."""
    with psycopg.connect(postgres_url) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM messages").fetchall()}


# ---- the store -----------------------------------------------------------------------------------------------------


def test_a_terminated_connection_is_replaced_on_the_next_call(postgres_server: str, postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        assert store.add_observed([transfer_message(1), transfer_message(2)]) == 2
        store.transition([transfer_message(1).id_hex], MessageState.VERIFIED)
        before = _backends(postgres_server, postgres_url)
        assert _terminate_backends(postgres_server, postgres_url) == 1

        rec = store.get(transfer_message(1).id_hex)  # found broken, replaced, asked again: no error at all
        assert rec is not None and rec.state is MessageState.VERIFIED
        after = _backends(postgres_server, postgres_url)
        assert after and not after & before  # a new server-side connection
        assert store.counts() == {"observed": 1, "verified": 1}

        _terminate_backends(postgres_server, postgres_url)
        assert store.add_observed([transfer_message(3)]) == 1  # a write as the first call after the cut
        assert _ids_on_server(postgres_url) == {transfer_message(n).id_hex for n in (1, 2, 3)}
    finally:
        store.close()


def test_a_read_cut_off_before_its_commit_still_answers(postgres_server: str, postgres_url: str) -> None:
    """Reads end their transaction (a COMMIT after the SELECT); a connection cut between the two loses nothing of a
    read, so the read answers and the next call reconnects."""
    from relayers.store.postgres import _Connection

    conn = _Connection(postgres_url)
    try:
        assert conn.execute("SELECT 41 + 1").fetchall() == [(42,)]
        assert _terminate_backends(postgres_server, postgres_url) == 1
        conn.commit()  # the end of a read on a dead connection: no error
        assert conn.execute("SELECT 7").fetchall() == [(7,)]  # a new connection
        conn.commit()
    finally:
        conn.close()


def test_a_write_cut_off_in_the_middle_is_rolled_back_whole(postgres_server: str, postgres_url: str) -> None:
    store = open_store(postgres_url)
    messages = [transfer_message(n) for n in (1, 2, 3)]

    def cut_after_the_first() -> Iterator[BridgeMessage]:
        yield messages[0]  # inserted in the open transaction...
        _terminate_backends(postgres_server, postgres_url)  # ...whose connection is then cut
        yield from messages[1:]

    try:
        with pytest.raises(StoreUnavailable) as err:
            store.add_observed(cut_after_the_first())
        assert "lost its connection" in str(err.value) and "\n" not in str(err.value)
        assert _ids_on_server(postgres_url) == set()  # not one of the three: the server rolled the transaction back
        assert store.add_observed(messages) == 3  # the retry a stage makes: whole, once
        assert _ids_on_server(postgres_url) == {m.id_hex for m in messages}
    finally:
        store.close()


def test_a_server_that_does_not_answer_is_unavailable_until_it_does(proxy: TcpProxy, postgres_url: str) -> None:
    store = open_store(_via(proxy, postgres_url))
    try:
        store.add_observed([transfer_message(1)])
        proxy.close()
        for call in (lambda: store.get(transfer_message(1).id_hex), lambda: store.add_observed([transfer_message(2)])):
            with pytest.raises(StoreUnavailable) as err:
                call()
            text = str(err.value)
            assert "\n" not in text and SECRET not in text and ":***@127.0.0.1" in text, text
        proxy.open()
        deadline = time.monotonic() + 10
        while True:  # the store waits a second between reconnects: calls in between fail at once
            try:
                rec = store.get(transfer_message(1).id_hex)
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert rec is not None and rec.state is MessageState.OBSERVED
        assert _ids_on_server(postgres_url) == {transfer_message(1).id_hex}  # the write that failed did not happen
    finally:
        store.close()


def test_a_locked_sqlite_store_at_run_time_says_so_in_one_line_and_keeps_nothing_half_done(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path, timeout=0.1)
    holder = _hold_write_lock(path)
    try:
        with pytest.raises(StoreError) as err:
            store.add_observed([transfer_message(1), transfer_message(2)])
        assert not isinstance(err.value, StoreUnavailable)  # not waited out: the relayer stops and says it
        text = str(err.value)
        assert "\n" not in text and f"store sqlite:///{path}: " in text and "locked by another process" in text, text
    finally:
        holder.rollback()
        holder.close()
    assert store.counts() == {}
    assert store.add_observed([transfer_message(1), transfer_message(2)]) == 2
    store.close()


def _hold_write_lock(path: Path) -> Any:
    """Another writer holding the SQLite file's write lock (an operator's shell in a transaction, another relayer)."""
    import sqlite3

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO cursors VALUES ('other', 1, '0x01', 0, 0)")
    return holder


# ---- the pipeline --------------------------------------------------------------------------------------------------


class PoolDestination:
    """A destination whose transactions wait in a pool until `mine()`, which executes each id at most once (the nonce
    bitmap); `on_submit` runs as a transaction is accepted, before the relayer hears back."""

    name = "phala"
    domain = 2
    max_in_flight: int | None = None
    handed_over_at: float | None = None

    def __init__(self, on_submit: Callable[[], None] = lambda: None) -> None:
        self.on_submit = on_submit
        self.pool: list[str] = []
        self.txs: dict[str, tuple[str, ...]] = {}
        self.executed: list[str] = []
        self.executed_by: dict[str, tuple[str, ...]] = {}
        self.mining = True

    @property
    def submissions(self) -> int:
        return len(self.txs)

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        return frozenset(m.id_hex for m in messages if m.id_hex in self.executed)

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest:
        ids = tuple(m.id_hex for m in messages)
        return SigningRequest(self.domain, ids, ("|".join(ids)).encode())

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        tx = f"0x{len(self.txs) + 1:064x}"
        self.txs[tx] = request.message_ids
        self.pool.append(tx)
        self.on_submit()
        if self.mining:
            self.mine()
        return tx

    def mine(self) -> None:
        for tx in self.pool:
            fresh = tuple(i for i in self.txs[tx] if i not in self.executed)
            self.executed.extend(fresh)
            self.executed_by[tx] = fresh
        self.pool.clear()

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation:
        if tx_hash in self.pool:
            return Confirmation(pending=True)
        return Confirmation(executed=frozenset(self.executed_by[tx_hash]))

    def gas_of(self, message: BridgeMessage) -> int:
        return 30_000


def _pipeline(store: SqlStore, watcher: FakeWatcher, dest: PoolDestination) -> Pipeline:
    cfg = PipelineConfig(
        poll_interval=0.01, confirm_interval=0.01, retry_backoff=0.05, max_backoff=0.2, batch=BatchPolicy(10, 0.01)
    )
    return Pipeline(
        store=store,
        policy=BridgePolicy.of([PHA]),
        watchers=[watcher],
        destinations=[dest],
        signer=FakeSigner(),
        config=cfg,
    )


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(StoreUnavailable):  # a check that reads the store while it is away
                if check():
                    return
            await asyncio.sleep(0.02)


def _executed(p: Pipeline) -> int:
    return p.store.counts().get("executed", 0)


def _events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_stages_pause_while_the_database_is_away_and_carry_on_from_the_store(
    proxy: TcpProxy, postgres_url: str
) -> None:
    watcher = FakeWatcher([_msg(n) for n in (1, 2, 3)])
    dest = PoolDestination()
    p = _pipeline(open_store(_via(proxy, postgres_url)), watcher, dest)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        try:
            await _until(lambda: _executed(p) == 3)
            proxy.close()
            watcher.messages.extend(_msg(n) for n in (4, 5, 6))  # deposits made while the database is away
            await _until(lambda: not p.store_health.up)
            await asyncio.sleep(1.5)  # every stage hits it, pauses and probes with backoff
            assert not task.done()  # nothing crashed, nothing stopped
            assert p.metrics.store_up._value.get() == 0
            assert p.healthy and not any(p.healthy.values()), p.healthy
            assert p.store_health.snapshot()["up"] is False
            proxy.open()
            await _until(lambda: _executed(p) == 6)
            assert p.store_health.up and p.metrics.store_up._value.get() == 1
            await _until(lambda: all(p.healthy.values()))
        finally:
            stop.set()
            await task

    with structlog.testing.capture_logs() as logs:
        asyncio.run(scenario())
    p.store.close()
    assert sorted(dest.executed) == sorted(_msg(n).id_hex for n in range(1, 7))
    assert len(dest.executed) == len(set(dest.executed))
    assert _ids_on_server(postgres_url) == {_msg(n).id_hex for n in range(1, 7)}
    assert not _events(logs, "stage_crashed")
    down = _events(logs, "store_unavailable")
    assert down and "error" in down[0] and SECRET not in str(down) and ":***@" in down[0]["error"]
    assert len(down) <= 2  # once, then throttled (30 s): not once per stage and retry
    (recovered,) = _events(logs, "store_recovered")
    assert recovered["down_for"] >= 1.0


def test_a_batch_sent_as_the_database_goes_away_is_recorded_later_and_never_sent_again(
    proxy: TcpProxy, postgres_url: str
) -> None:
    """The worst moment: the destination took the transaction, then the store did not take its `submitted` record.
    The batch stays in flight in memory, its record is written once the store answers, and its messages are not
    signed again meanwhile (the destination would refuse to pay twice, but a second transaction is waste or, on
    Phala, a second extrinsic at the same nonce)."""
    watcher = FakeWatcher([_msg(1), _msg(2)])
    dest = PoolDestination(on_submit=proxy.close)
    dest.mining = False  # the transaction waits in the pool
    p = _pipeline(open_store(_via(proxy, postgres_url)), watcher, dest)

    def recorded() -> bool:
        recs = [p.store.get(_msg(n).id_hex) for n in (1, 2)]
        return all(r is not None and r.state is MessageState.SUBMITTED and r.dest_tx for r in recs)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        try:
            await _until(lambda: dest.submissions == 1 and not p.store_health.up)
            await asyncio.sleep(1.0)
            dest.on_submit = lambda: None
            proxy.open()
            await _until(recorded)
            await asyncio.sleep(1.0)  # the submit stage resumed long ago: nothing is signed again
            assert dest.submissions == 1
            dest.mine()
            await _until(lambda: _executed(p) == 2)
        finally:
            stop.set()
            await task

    with structlog.testing.capture_logs() as logs:
        asyncio.run(scenario())
    try:
        (tx,) = dest.txs
        assert dest.submissions == 1 and dest.executed_by[tx] == (_msg(1).id_hex, _msg(2).id_hex)
        rec = p.store.get(_msg(1).id_hex)
        assert rec is not None and rec.dest_tx == tx and rec.batch_id is not None
        batch = p.store.batch(rec.batch_id)
        assert batch is not None and batch.tx_hash == tx
    finally:
        p.store.close()
    assert _events(logs, "submitted_unrecorded") and not _events(logs, "stage_crashed")


class FakeEnclave:
    """An enclave that names another member leader (this relayer observes, verifies and reconciles; it never signs)."""

    async def status(self, *, relayer: bool = False) -> Any:
        return SimpleNamespace(leader=2, members_up=(1, 2, 3), relaying=(1, 2, 3), threshold=2, has_keys=True)

    async def metrics(self) -> str:
        m = CommitteeMetrics()  # the enclave's own registry, rendered as its socket API returns it
        m.members_up.set(3)
        m.distrusted.set(1)
        return m.render()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sample(metrics: str, series: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(series + " ")]
    return float(line.split()[-1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health_and_metrics_say_the_store_is_down_while_it_is(proxy: TcpProxy, postgres_url: str) -> None:
    store = open_store(_via(proxy, postgres_url))
    parts = RelayerParts(
        member_id=1,
        store=store,
        policy=BridgePolicy.of([PHA]),
        watchers=[FakeWatcher([_msg(1)])],
        destinations=[PoolDestination()],
        enclave=FakeEnclave(),  # type: ignore[arg-type]
        pipeline_config=PipelineConfig(poll_interval=0.05, retry_backoff=0.05, max_backoff=0.2),
        status_host="127.0.0.1",
        status_port=_free_port(),
    )
    base = f"http://127.0.0.1:{parts.status_port}"

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_relayer(parts, stop))
        try:
            await _until_health(base, lambda code, body: code == 200 and body["messages"] == {"verified": 1})
            # The store's gauges, read at scrape time: one message waits (verified: nobody leads here) since the
            # store first saw it.
            rec = store.get(_msg(1).id_hex)
            assert rec is not None
            before = time.time()
            _, metrics = await asyncio.to_thread(_get, base + "/metrics")
            after = time.time()
            assert 'phala_bridge_messages_in_state{state="verified"} 1.0' in metrics
            assert 'phala_bridge_messages_in_state{state="executed"} 0.0' in metrics
            # The enclave's committee metrics on the same page, each family once (the relayer's members_up wins).
            assert "phala_bridge_committee_distrusted_members 1.0" in metrics
            assert "phala_bridge_enclave_up 1.0" in metrics and "phala_bridge_committee_threshold 2.0" in metrics
            families = [f.name for f in text_string_to_metric_families(metrics)]
            assert len(families) == len(set(families)) and "phala_bridge_committee_members_up" in families
            waited = _sample(metrics, 'phala_bridge_oldest_waiting_seconds{destination="phala"}')
            assert before - rec.observed_at <= waited <= after - rec.observed_at, (waited, rec.observed_at)
            _, body = await _until_health(base, lambda code, body: code == 200)
            assert set(body["waiting"]) == {"phala"} and body["waiting"]["phala"] >= round(waited, 1), body
            proxy.close()
            _, body = await _until_health(base, lambda code, body: code == 503)
            assert body["status"] == "degraded" and body["store"]["up"] is False, body
            assert "did not answer" in body["store"]["error"] or "lost its connection" in body["store"]["error"]
            assert SECRET not in json.dumps(body) and body["messages"] is None and body["waiting"] is None
            _, metrics = await asyncio.to_thread(_get, base + "/metrics")
            assert "phala_bridge_store_up 0.0" in metrics
            # Unknown while the store does not answer: absent, not a stale or made-up figure.
            assert "phala_bridge_messages_in_state{" not in metrics and "oldest_waiting_seconds{" not in metrics
            proxy.open()
            _, body = await _until_health(base, lambda code, body: code == 200)
            assert body["status"] == "ok" and body["store"] == {"up": True}, body
            _, metrics = await asyncio.to_thread(_get, base + "/metrics")
            assert "phala_bridge_store_up 1.0" in metrics
            assert 'phala_bridge_messages_in_state{state="verified"} 1.0' in metrics
            assert not task.done()
        finally:
            stop.set()
            await task

    try:
        asyncio.run(scenario())
    finally:
        store.close()


async def _until_health(base: str, check: Callable[[int, dict[str, Any]], bool]) -> tuple[int, dict[str, Any]]:
    async with asyncio.timeout(15):
        while True:
            try:
                code, text = await asyncio.to_thread(_get, base + "/health")
            except urllib.error.URLError:  # not listening yet
                code, text = 0, "{}"
            body = json.loads(text)
            if code and check(code, body):
                return code, body
            await asyncio.sleep(0.05)
