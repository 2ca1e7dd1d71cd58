"""Open the store named by a config URL: `sqlite:///relative.db`, `sqlite:////abs.db`, `sqlite:///:memory:` or `postgresql://...`."""

from __future__ import annotations

from urllib.parse import urlsplit

from relayers.store.base import SqlStore, StoreError


def open_store(url: str) -> SqlStore:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from relayers.store.sqlite import SqliteStore

        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        if not url.startswith("sqlite:///"):
            raise StoreError(f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute.db")
        return SqliteStore(url.removeprefix("sqlite:///"))
    if scheme in ("postgresql", "postgres"):
        from relayers.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...")


def redact_url(url: str) -> str:
    """The store URL without its password, for logs and errors."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url
