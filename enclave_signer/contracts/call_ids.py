"""The call ids a contract's log has seen, as an immutable set value that grows in O(1).

    ids = CallIds()                 # or CallIds(iterable) (a snapshot's list)
    more = ids.with_id(call_id)     # a new value; `ids` is unchanged (ValueError if it already holds the id)
    call_id in more; len(more); sorted(more); more == frozenset(...)

A `frozenset` rebuilt per call costs O(n) (O(n^2) over a log's life). Here every value is a view of the first
`len(value)` entries of an append-only store shared by the values derived from one another: adding to the newest
value appends to the store (the older values, shorter views, do not see it); adding to an older value the id the
store already has next (the engine executes a call, then replays its record from the chain) shares it too; any
other addition to an older value (a branch: rare) copies its prefix into a new store. A value's content never
changes, and equality is set equality: two enclaves' values compare and encode (sorted) the same whatever their
stores' orders.

Thread-safety: only the event loop adds; another thread (the snapshot saver) may read any value meanwhile, because
appends never move or change the entries an existing value covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set

__all__ = ["CallIds"]


class _Store:
    __slots__ = ("index", "order")

    def __init__(self, ids: Iterable[bytes] = ()) -> None:
        self.order: list[bytes] = []
        self.index: dict[bytes, int] = {}
        for cid in ids:
            self.append(cid)

    def append(self, cid: bytes) -> None:
        # the index entry before the list entry: a reader sees either nothing new or a position >= its own length
        self.index[cid] = len(self.order)
        self.order.append(cid)


class CallIds(Set[bytes]):
    """An immutable set of 32-byte call ids whose `with_id` is O(1) amortised. Never printed (ids are public, but a
    log's whole history in a log line is noise)."""

    __slots__ = ("_n", "_store")

    def __init__(self, ids: Iterable[bytes] = ()) -> None:
        store = _Store()
        for cid in ids:
            if cid not in store.index:
                store.append(bytes(cid))
        self._store, self._n = store, len(store.order)

    @classmethod
    def _view(cls, store: _Store, n: int) -> CallIds:
        value = cls.__new__(cls)
        value._store, value._n = store, n
        return value

    def with_id(self, cid: bytes) -> CallIds:
        """This set plus `cid` (not in it: ValueError, a caller's bug), as a new value."""
        if cid in self:
            raise ValueError("the call id is already in the set")
        store, n = self._store, self._n
        if n < len(store.order) and store.order[n] == cid:
            return CallIds._view(store, n + 1)  # the same next id as a newer value: share
        if n != len(store.order) or n == 0:
            # a branch off an older value (copy its prefix), or the first id (a fresh store: an empty value may be
            # shared by unrelated logs, e.g. a default)
            store = _Store(store.order[:n])
        store.append(cid)
        return CallIds._view(store, n + 1)

    def __contains__(self, cid: object) -> bool:
        i = self._store.index.get(cid) if isinstance(cid, bytes) else None
        return i is not None and i < self._n

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._store.order[: self._n])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CallIds) and other._store is self._store:
            return other._n == self._n
        return Set.__eq__(self, other)

    def __hash__(self) -> int:
        return self._hash()

    def __repr__(self) -> str:
        return f"CallIds(<{self._n} ids>)"
