"""Open the store named by a config URL: `sqlite:///relative.db`, `sqlite:////abs.db`, `sqlite:///:memory:` or
`postgresql://...`; and the one-line errors a database failure becomes (`store_error`)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from bridge.errors import one_line
from relayers.store.base import SqlStore, StoreError, StoreUnavailable


def open_store(url: str) -> SqlStore:
    """The store, its schema created or migrated. `StoreUnavailable`: the server did not answer (retry);
    `StoreError`: anything else (a bad URL, not a database, a wrong database name...): one line, password masked."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from relayers.store.sqlite import SqliteStore

        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        if not url.startswith("sqlite:///"):
            raise StoreError(f"bad SQLite URL {redact_url(url)!r}: use sqlite:///relative.db or sqlite:////absolute.db")
        with store_errors(url, "open"):
            return SqliteStore(url.removeprefix("sqlite:///"))
    if scheme in ("postgresql", "postgres"):
        from relayers.store.postgres import PostgresStore

        with store_errors(url, "open"):
            return PostgresStore(url)
    raise StoreError(f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...")


_PASSWORD_PARAM = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The store URL without its password (user:password@ or a password= parameter), for logs and errors."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        url = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return _PASSWORD_PARAM.sub(r"\1***", url)


def _password(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        return parts.password
    except ValueError:
        return None


# SQLite's messages, by what the operator does about them. Matched on the text: sqlite3 gives no finer error codes
# on every Python this runs on.
_SQLITE_ADVICE = (
    (
        "file is not a database",
        "not an SQLite database: point [store] url at the store, or move this file aside",
    ),
    ("unable to open database file", "cannot open or create the file: check that its directory exists and is writable"),
    ("database is locked", "locked by another process: stop whatever holds it (another relayer?) and start again"),
    ("readonly database", "the file is read-only: give this user write access to it and its directory"),
    ("disk i/o error", "disk I/O error: check the disk and the file system"),
    ("database or disk is full", "the disk is full: free space on it and start again"),
    ("database disk image is malformed", "the file is corrupt: restore it from a backup, or move it aside"),
)
# PostgreSQL's, the same way (psycopg's connection errors carry no SQLSTATE).
_POSTGRES_ADVICE = (
    ("does not exist", "create the database or the role, or fix the name in [store] url"),
    ("authentication failed", "fix the user or password in [store] url (or the server's pg_hba.conf)"),
    ("no password supplied", "give the password in [store] url"),
    ("permission denied", "grant this role the rights it needs (CREATE and USAGE on the schema)"),
)


def store_error(url: str, exc: BaseException, doing: str) -> StoreError:
    """A database failure as one line: the store (password masked), what was being done, what failed, what to do.
    A server that did not answer (down, restarting, refusing connections) is `StoreUnavailable`."""
    name = redact_url(url)
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, (FileExistsError, NotADirectoryError)):  # a file where the store's directory should be
        return StoreError(f"store {name}: cannot {doing} it: {exc.filename} is not a directory: fix [store] url")
    if isinstance(exc, OSError):
        reason = exc.strerror or exc.__class__.__name__
        return StoreError(
            f"store {name}: cannot {doing} it: {exc.filename}: {reason}: fix [store] url or the directory's permissions"
        )
    text = one_line(str(exc), mask=_password(url))
    lowered = text.lower()
    if isinstance(exc, sqlite3.Error):
        sqlite_advice = next((a for key, a in _SQLITE_ADVICE if key in lowered), "see the SQLite message")
        return StoreError(f"store {name}: cannot {doing} it: {text}: {sqlite_advice}")
    advice = next((a for key, a in _POSTGRES_ADVICE if key in lowered), None)
    if advice is not None:
        return StoreError(f"store {name}: cannot {doing} it: {text}: {advice}")
    if _is_connection_error(exc):
        return StoreUnavailable(
            f"store {name}: cannot {doing} it: the server did not answer ({text}): start PostgreSQL or fix the host "
            "and port in [store] url"
        )
    return StoreError(f"store {name}: cannot {doing} it: {text}")


def connection_lost(url: str, exc: BaseException) -> StoreUnavailable:
    """A running store's connection found broken under a call (the server restarted, the connection was terminated,
    the network cut): one line, password masked. Retryable: the next call opens a new connection."""
    text = one_line(str(exc), mask=_password(url))
    return StoreUnavailable(
        f"store {redact_url(url)}: lost its connection ({text}): the next call reconnects; if it keeps failing, see "
        "that PostgreSQL runs and answers at the host and port in [store] url"
    )


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.OperationalError)


def database_errors() -> tuple[type[BaseException], ...]:
    """What a store call may raise besides `StoreError`: the drivers' errors and the file system's."""
    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


@contextmanager
def store_errors(url: str, doing: str) -> Iterator[None]:
    """Turn a driver's error inside the block into `store_error(url, exc, doing)`."""
    try:
        yield
    except database_errors() as exc:
        raise store_error(url, exc, doing) from None
