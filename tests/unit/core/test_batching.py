from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.batching import Batcher, BatchPolicy


def test_closes_on_size() -> None:
    b: Batcher[int] = Batcher(BatchPolicy(max_messages=3, max_wait=10), gas_of=lambda _: 1000)
    assert b.add(1, 1, 0.0) == []
    assert b.add(1, 2, 0.0) == []
    assert b.add(1, 3, 0.0) == [[1, 2, 3]]
    assert b.pending() == 0


def test_closes_on_time_per_destination() -> None:
    b: Batcher[str] = Batcher(BatchPolicy(max_messages=100, max_wait=0.5), gas_of=lambda _: 1000)
    b.add(1, "a", 0.0)
    b.add(2, "x", 0.3)
    assert b.due(0.4) == []
    assert b.next_deadline() == 0.5
    assert b.due(0.5) == [(1, ["a"])]
    assert b.due(0.8) == [(2, ["x"])]
    assert b.next_deadline() is None


def test_closes_on_gas_budget_without_losing_the_item() -> None:
    b: Batcher[int] = Batcher(BatchPolicy(max_messages=100, max_wait=1, max_gas=100_000, base_gas=60_000), lambda g: g)
    assert b.add(1, 30_000, 0.0) == []
    assert b.add(1, 20_000, 0.0) == [[30_000]]  # 60k + 30k + 20k > 100k: the first closes alone
    assert b.pending() == 1


def test_invalid_policy() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(max_messages=0)


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 50_000)), max_size=300), st.integers(1, 20))
def test_nothing_lost_nothing_duplicated_order_kept(items: list[tuple[int, int]], size: int) -> None:
    b: Batcher[tuple[int, int]] = Batcher(BatchPolicy(max_messages=size, max_wait=0, max_gas=200_000), lambda x: x[1])
    out: dict[int, list[tuple[int, int]]] = {}
    for i, (dest, gas) in enumerate(items):
        for batch in b.add(dest, (i, gas), float(i)):
            assert 0 < len(batch) <= size
            assert sum(g for _, g in batch) + 60_000 <= 200_000 or len(batch) == 1
            out.setdefault(dest, []).extend(batch)
    for dest, batch in b.due(1e9):
        out.setdefault(dest, []).extend(batch)
    for dest in {d for d, _ in items}:
        expected = [(i, g) for i, (d, g) in enumerate(items) if d == dest]
        assert out[dest] == expected
