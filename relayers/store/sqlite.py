"""The embedded default store: SQLite in WAL mode (one writer, readers never blocked, durable on commit)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relayers.store.base import SqlStore


class SqliteStore(SqlStore):
    placeholder = "?"

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level="DEFERRED", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a crash must not lose a committed state change
        super().__init__(conn)
