"""`CallIds`: the executed-call-id set of a contract state, an immutable value whose `with_id` is O(1) amortised.

- A value never changes: adding to it, to a newer value sharing its store, or branching off it leaves it as it was
  (the engine keeps old states for agreement checks; the snapshot saver reads them on another thread).
- Equality, hashing and iteration are those of the frozenset of the same ids, whatever the values' histories.
- The common paths share one store: adding to the newest value, and adding to an older value the id its store has
  next (a call executed, then its record replayed from the chain); only a real branch copies.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave_signer.contracts.call_ids import CallIds


def ids(n: int, tag: int = 0) -> list[bytes]:
    return [bytes([tag]) + i.to_bytes(31, "big") for i in range(n)]


def test_values_never_change_and_branches_do_not_mix() -> None:
    a, b, c = ids(3)
    empty = CallIds()
    one = empty.with_id(a)
    two = one.with_id(b)
    branch = one.with_id(c)  # off an older value whose store already has b next: copied
    assert set(empty) == set() and set(one) == {a} and set(two) == {a, b} and set(branch) == {a, c}
    assert b not in branch and c not in two and c not in one and a not in empty
    three = two.with_id(c)
    assert set(two) == {a, b} and set(three) == {a, b, c} and set(branch) == {a, c}
    assert two._store is one._store is three._store and branch._store is not one._store
    again = one.with_id(b)  # the same next id as a newer value (execute, then replay its record): shared
    assert again == two and again._store is two._store and len(again) == 2
    with pytest.raises(ValueError, match="already"):
        two.with_id(a)


def test_the_empty_value_is_never_grown_in_place() -> None:
    shared = CallIds()
    x, y = shared.with_id(ids(1, 1)[0]), shared.with_id(ids(1, 2)[0])
    assert shared._store.order == [] and x._store is not y._store and len(shared) == 0


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 40)), max_size=60))
def test_any_history_is_the_frozenset_model(steps: list[tuple[int, int]]) -> None:
    pool = ids(41)
    values: list[tuple[CallIds, frozenset[bytes]]] = [(CallIds(), frozenset())]
    for which, pick in steps:
        value, model = values[which % len(values)]
        cid = pool[pick]
        if cid in model:
            assert cid in value
            continue
        values.append((value.with_id(cid), model | {cid}))
    for value, model in values:  # every value, old or new, still is its model
        assert value == model and model == value and hash(value) == hash(model)
        assert sorted(value) == sorted(model) and len(value) == len(model)
        assert all((cid in value) == (cid in model) for cid in pool)
    assert CallIds(pool[:5]) == frozenset(pool[:5]) and CallIds(pool[:5]) != frozenset(pool[:4])
    assert repr(CallIds(pool[:5])) == "CallIds(<5 ids>)"
