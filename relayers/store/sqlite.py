"""The embedded default store: SQLite in WAL mode (one writer, readers never blocked, durable on commit)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relayers.store.base import SqlStore


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
