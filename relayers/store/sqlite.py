"""The embedded default store: SQLite in WAL mode (one writer, readers never blocked, durable on commit)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relayers.store.base import SqlStore
from relayers.store.factory import store_error


class _Connection:
    """The SQLite connection as `SqlStore` uses it once open: a failure at run time (a file locked past the busy
    timeout, a disk I/O error, a full disk) is a one-line `StoreError` naming the file and what to do. Not retried:
    none of them goes away by itself, and the relayer stops for its supervisor (docs/decisions.md)."""

    def __init__(self, conn: sqlite3.Connection, url: str) -> None:
        self._conn = conn
        self._url = url

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise store_error(self._url, exc, "read or write") from exc

    def commit(self) -> None:
        try:
            self._conn.commit()
        except sqlite3.Error as exc:
            raise store_error(self._url, exc, "read or write") from exc

    def rollback(self) -> None:
        try:
            self._conn.rollback()
        except sqlite3.Error:
            # A transaction that cannot be rolled back must never be committed by a later call: close the
            # connection (SQLite drops the unfinished transaction; every later call fails, and the relayer stops).
            self._conn.close()

    def close(self) -> None:
        self._conn.close()


class SqliteStore(SqlStore):
    placeholder = "?"

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        """sqlite3.Error / OSError on a bad path or file (`open_store` makes them one-line `StoreError`s)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level="DEFERRED", check_same_thread=False)
        try:
            # The first statements read the file: garbage or a lock shows here, not at connect.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a crash must not lose a committed state change
            super().__init__(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = _Connection(conn, f"sqlite:///{path}")  # once open: every failure one line (above)
