"""The production store: PostgreSQL through psycopg 3."""

from __future__ import annotations

import psycopg

from relayers.store.base import SqlStore, StoreError


class PostgresStore(SqlStore):
    placeholder = "%s"
    blob_type = "BYTEA"
    upsert_ignore = "INSERT INTO"
    conflict_suffix = " ON CONFLICT (id) DO NOTHING"
    conflict_suffix_rejections = " ON CONFLICT (chain, tx_hash, idx) DO NOTHING"

    def __init__(self, url: str) -> None:
        try:
            conn = psycopg.connect(url, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from None
        super().__init__(conn)


def _redact(url: str) -> str:
    # Never echo a password from a connection URL.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url
