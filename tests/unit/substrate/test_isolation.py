"""Finding the failing messages of an atomic batch by halves, against a simulated all-or-nothing chain."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from relayers.substrate.isolation import FailureIsolator


def run(ids: list[str], bad: set[str]) -> tuple[set[str], dict[str, str], int]:
    """Drive the isolator like the dispatcher and pipeline do; returns (executed, failed, extrinsics used)."""
    iso = FailureIsolator()
    queue, executed, failed, rounds = list(ids), set(), {}, 0
    while queue:
        rounds += 1
        group = iso.probe(queue)
        batch = [i for i in queue if group is None or i in group]
        if bad & set(batch):  # batch_all: one bad transfer and nothing happens
            failed.update(iso.failed(batch, "Balances.ExistentialDeposit"))
        else:
            iso.settled(batch)
            executed.update(batch)
        queue = [i for i in queue if i not in executed and i not in failed]
        assert rounds < 10_000
    return executed, failed, rounds


def test_one_bad_message_among_three() -> None:
    executed, failed, rounds = run(["a", "b", "c"], {"c"})
    assert executed == {"a", "b"}
    assert failed == {"c": "Balances.ExistentialDeposit"}
    assert rounds == 3  # [a b c] fails -> halves [a b] (executes) and [c] (fails alone: isolated)


@given(st.integers(1, 64), st.data())
def test_every_good_message_executes_and_every_bad_one_fails_with_the_reason(n: int, data: st.DataObject) -> None:
    ids = [f"m{i}" for i in range(n)]
    bad = set(data.draw(st.lists(st.sampled_from(ids), max_size=4)))
    executed, failed, rounds = run(ids, bad)
    assert executed == set(ids) - bad
    assert set(failed) == bad
    assert rounds <= 1 + 2 * max(1, len(bad)) * (math.ceil(math.log2(n)) + 1)


def test_no_suspects_means_no_restriction() -> None:
    iso = FailureIsolator()
    assert iso.probe(["a", "b"]) is None
    assert iso.failed(["a", "b", "c", "d"], "x") == {}
    assert iso.suspects == [frozenset({"a", "b"}), frozenset({"c", "d"})]
    assert iso.probe(["d", "z"]) == frozenset({"d"})
    iso.settled(["a", "b"])
    assert iso.suspects == [frozenset({"c", "d"})]
