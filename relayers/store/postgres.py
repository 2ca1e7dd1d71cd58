"""The production store: PostgreSQL through psycopg 3, on one connection that is replaced when it breaks.

A server restarted, a connection terminated or a network cut under a running relayer breaks the connection; the call
that finds it broken raises `StoreUnavailable` (one line, password masked) and the next call opens a new connection.
Atomicity does not depend on the client: a transaction whose connection is lost before its COMMIT reached the server
is rolled back by the server, never half-applied. So a call is retried on a new connection at once only when
nothing it wrote is lost with the old one (its first write); otherwise it fails and its caller runs it again. A
COMMIT that fails with the connection may or may not have been applied: every store write is safe to run twice
(guarded state changes, INSERT ... DO NOTHING, replace-whole rows), which is what makes that retry safe.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from relayers.store.base import SqlStore, StoreError, StoreUnavailable
from relayers.store.factory import connection_lost, redact_url, store_error

# libpq settings a URL may override. Keepalives and tcp_user_timeout turn a silent network cut into an error within
# seconds instead of the kernel's ~15 minutes (store calls run on the daemon's event loop: a hung call stalls it).
_CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",  # ms that sent data may stay unacknowledged
}


def _connect(url: str) -> psycopg.Connection[Any]:
    given = conninfo_to_dict(url)
    return psycopg.connect(make_conninfo(url, **{k: v for k, v in _CONNECT_DEFAULTS.items() if k not in given}))


def _writes(sql: str) -> bool:
    return not sql.lstrip()[:6].upper().startswith("SELECT")


class _Connection:
    """What `SqlStore` sees as its connection (execute, commit, rollback, close): a psycopg connection, replaced on
    the next call once found broken."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = _connect(url)  # at open: psycopg's errors (open_store says them)
        self._wrote = False  # a statement that changes data ran since the last commit or rollback
        self._retry_at = 0.0  # after a failed reconnect, calls fail at once until then (no stall on each call)
        self._last_error: str | None = None
        self._closed = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        for attempt in (1, 2):
            conn = self._live()
            try:
                cur = conn.execute(sql, params)
            except psycopg.OperationalError as exc:
                if not conn.broken:
                    raise  # the statement's own failure (a timeout, a conflict): the connection is fine
                self._drop()
                if self._wrote or attempt == 2:
                    self._wrote = False  # what this transaction wrote went with the connection (rolled back)
                    raise connection_lost(self._url, exc) from None
                continue  # nothing written was lost: the same statement on a new connection, once
            if _writes(sql):
                self._wrote = True
            return cur
        raise AssertionError("unreachable")  # pragma: no cover

    def commit(self) -> None:
        conn, wrote, self._wrote = self._conn, self._wrote, False
        if conn is None:
            if wrote:  # never reached by SqlStore (a lost write raises first), never silently "committed" either
                raise StoreUnavailable(f"store {redact_url(self._url)}: lost its connection before the commit")
            return  # nothing of this transaction is on the server
        try:
            conn.commit()
        except psycopg.OperationalError as exc:
            if not conn.broken:
                raise
            self._drop()
            if not wrote:  # the end of a read: nothing of it to lose, the next call reconnects
                return
            # Unknown outcome (the COMMIT may have reached the server): the caller retries, which is safe (above).
            raise connection_lost(self._url, exc) from None

    def rollback(self) -> None:
        conn, self._wrote = self._conn, False
        if conn is None:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            # Whatever failed, nothing of this transaction may be committed later: dropping the connection makes
            # the server roll it back, and the next call reconnects.
            self._drop()

    def close(self) -> None:
        self._closed = True
        self._drop()

    def _live(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._drop()
        if self._closed:
            raise StoreError(f"store {redact_url(self._url)}: cannot read or write it: it was closed")
        if self._last_error is not None and time.monotonic() < self._retry_at:
            raise StoreUnavailable(self._last_error)
        started = time.monotonic()
        try:
            self._conn = _connect(self._url)
        except psycopg.Error as exc:
            err = store_error(self._url, exc, "reconnect to")  # StoreUnavailable unless e.g. the database is gone
            # A connect that timed out (a black-holed host) stalled the event loop: wait at least as long again.
            self._retry_at = time.monotonic() + max(1.0, time.monotonic() - started)
            self._last_error = str(err) if isinstance(err, StoreUnavailable) else None
            raise err from None
        self._last_error = None
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # closing a broken connection
                conn.close()


class PostgresStore(SqlStore):
    placeholder = "%s"
    blob_type = "BYTEA"
    upsert_ignore = "INSERT INTO"
    conflict_suffix = " ON CONFLICT (id) DO NOTHING"
    conflict_suffix_rejections = " ON CONFLICT (chain, tx_hash, idx) DO NOTHING"

    def __init__(self, url: str) -> None:
        """psycopg.Error when the server does not answer or refuses (`open_store` makes it a one-line
        `StoreError`, `StoreUnavailable` for a server that did not answer)."""
        conn = _Connection(url)
        try:
            super().__init__(conn)
        except BaseException:
            conn.close()
            raise
