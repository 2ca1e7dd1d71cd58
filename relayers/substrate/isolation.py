"""Finding the message(s) that make an atomic batch fail, by halves (pure state).

`batch_all` is all or nothing and the runtime's error does not say which transfer failed. When an included batch
fails, its ids become two suspect groups; the next batches built from them carry one suspect group only, so each
probe either executes (the group was innocent) or fails again and is halved, until a group of one fails: that
message is failed with the runtime's reason. k bad messages among n cost about k * log2(n) extra extrinsics.
Held in memory: after a restart, a failing batch is simply found again the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class FailureIsolator:
    def __init__(self) -> None:
        self._groups: list[tuple[frozenset[str], str]] = []  # (suspect ids, the failure that made them suspect)

    @property
    def suspects(self) -> list[frozenset[str]]:
        return [g for g, _ in self._groups]

    def probe(self, ids: Iterable[str]) -> frozenset[str] | None:
        """The suspect group to try next among `ids` (only those of it), or None when none of `ids` is suspect."""
        candidates = set(ids)
        for group, _ in self._groups:
            if group & candidates:
                return frozenset(group & candidates)
        return None

    def failed(self, included: Sequence[str], reason: str) -> dict[str, str]:
        """A batch of `included` (in batch order) failed with `reason`. Returns the ids now known to fail."""
        self.settled(included)
        if len(included) == 1:
            return {included[0]: reason}
        half = (len(included) + 1) // 2
        self._groups[:0] = [(frozenset(included[:half]), reason), (frozenset(included[half:]), reason)]
        return {}

    def settled(self, ids: Iterable[str]) -> None:
        """These ids executed, failed or were retried in a batch: they are no longer suspect where they were."""
        gone = set(ids)
        self._groups = [(g - gone, r) for g, r in self._groups if g - gone]


__all__ = ["FailureIsolator"]
