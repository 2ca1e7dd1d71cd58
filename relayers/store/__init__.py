"""The relayer's persistent store: a state per message, a cursor per chain, and batches. SQLite by default,
PostgreSQL for production; both speak the same SQL through `SqlStore`."""

from relayers.store.base import (
    ArchivedRecord,
    BatchRecord,
    Cursor,
    MessageRecord,
    PendingMessages,
    Rebound,
    SqlStore,
    StoreError,
    StoreUnavailable,
)
from relayers.store.factory import open_store, redact_url, store_error, store_errors

__all__ = [
    "ArchivedRecord",
    "BatchRecord",
    "Cursor",
    "MessageRecord",
    "PendingMessages",
    "Rebound",
    "SqlStore",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "redact_url",
    "store_error",
    "store_errors",
]
