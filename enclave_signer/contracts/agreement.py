"""t-agreement on a result digest: the committee signs a call's outputs and record only when at least t members
computed the same `ExecutionResult.digest` independently. Members that computed another digest are named (a
different build, a different state, a different key: each is worth an operator's look)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Agreement", "tally"]


@dataclass(frozen=True)
class Agreement:
    digest: bytes | None  # the digest at least t members computed, or None
    supporters: tuple[int, ...]
    dissenters: tuple[int, ...]  # members that reported another digest


def tally(digests: Mapping[int, bytes], threshold: int) -> Agreement:
    """`digests`: member id -> the digest it computed. Agreement when exactly one digest has t supporters (with
    t <= n/2 two could: then there is none, and the dissent is the news)."""
    if threshold < 1:
        raise ValueError("the threshold is at least 1")
    ranked = Counter(digests.values()).most_common()
    if not ranked or ranked[0][1] < threshold or (len(ranked) > 1 and ranked[1][1] >= threshold):
        return Agreement(None, (), tuple(sorted(digests)))
    winner = ranked[0][0]
    return Agreement(
        winner,
        tuple(sorted(m for m, d in digests.items() if d == winner)),
        tuple(sorted(m for m, d in digests.items() if d != winner)),
    )
