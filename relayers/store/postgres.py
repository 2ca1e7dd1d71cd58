"""The production store: PostgreSQL through psycopg 3."""

from __future__ import annotations

import psycopg

from relayers.store.base import SqlStore


class PostgresStore(SqlStore):
    placeholder = "%s"
    blob_type = "BYTEA"
    upsert_ignore = "INSERT INTO"
    conflict_suffix = " ON CONFLICT (id) DO NOTHING"
    conflict_suffix_rejections = " ON CONFLICT (chain, tx_hash, idx) DO NOTHING"

    def __init__(self, url: str) -> None:
        """psycopg.Error when the server does not answer or refuses (`open_store` makes it a one-line
        `StoreError`, `StoreUnavailable` for a server that did not answer)."""
        conn = psycopg.connect(url, connect_timeout=10)
        try:
            super().__init__(conn)
        except BaseException:
            conn.close()
            raise
