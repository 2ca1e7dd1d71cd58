"""The relayer's persistent store: a state per message, a cursor per chain, and batches. SQLite by default,
PostgreSQL for production; both speak the same SQL through `SqlStore`."""

from relayers.store.base import BatchRecord, Cursor, MessageRecord, PendingMessages, Rebound, SqlStore, StoreError
from relayers.store.factory import open_store, redact_url

__all__ = [
    "BatchRecord",
    "Cursor",
    "MessageRecord",
    "PendingMessages",
    "Rebound",
    "SqlStore",
    "StoreError",
    "open_store",
    "redact_url",
]
