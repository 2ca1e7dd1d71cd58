"""The relayer's persistent store: a state per message, a cursor per chain, and batches. SQLite by default,
PostgreSQL for production; both speak the same SQL through `SqlStore`."""

from relayers.store.base import (
    ArchivedRecord,
    BatchRecord,
    Cursor,
    MessageRecord,
    Observed,
    PendingMessages,
    Rebound,
    Replaced,
    SqlStore,
    StoreError,
    StoreUnavailable,
    UnknownMessage,
)
from relayers.store.factory import open_store, redact_url, store_error, store_errors

__all__ = [
    "ArchivedRecord",
    "BatchRecord",
    "Cursor",
    "MessageRecord",
    "Observed",
    "PendingMessages",
    "Rebound",
    "Replaced",
    "SqlStore",
    "StoreError",
    "StoreUnavailable",
    "UnknownMessage",
    "open_store",
    "redact_url",
    "store_error",
    "store_errors",
]
