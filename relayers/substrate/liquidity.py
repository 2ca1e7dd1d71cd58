"""Which transfer into Phala the leader holds the bridge account's inflows for (pure: the clock is passed in).

Largest first, the plan pays what fits and defers what does not (relayers/substrate/plan.py). Alone, that starves a
large transfer while a stream of smaller ones keeps spending every inflow. So this leader remembers since when each
transfer has gone unpaid for lack of funds; once the oldest has waited `hold_after` seconds, the plan sets its
amount aside and pays nothing else from it until it is paid (docs/phala-side.md, section 5, "Liquidity").

Kept in memory, by the leader that plans: a restart, or another member taking the lead, starts the wait again, so a
hold comes at most `hold_after` later than it would have (never sooner). An entry goes when its transfer is paid or
refused, when the executed index names it (another leader's batch), or when no plan has seen it for `forget_after`
seconds (it left the queue: failed or set aside by the operator), so a hold never outlives its transfer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from relayers.substrate.plan import BatchPlan

DEFAULT_FORGET_AFTER = 900.0  # seconds unseen before an entry is dropped: many batching rounds of an idle queue


@dataclass
class _Unpaid:
    amount: int
    since: float  # first plan that could not pay it
    seen: float  # last plan that could not pay it


class LiquidityHold:
    def __init__(self, hold_after: float, forget_after: float = DEFAULT_FORGET_AFTER) -> None:
        if hold_after < 0 or forget_after <= 0:
            raise ValueError("hold_after must be >= 0 and forget_after > 0 seconds")
        self.hold_after = hold_after
        self.forget_after = forget_after
        self._unpaid: dict[str, _Unpaid] = {}

    def held(self, now: float) -> tuple[str, int, float] | None:
        """(id, amount, seconds unpaid) of the transfer to hold for now: the one unpaid the longest (then the
        largest, then by id), once it has waited `hold_after`; None when none has."""
        self._expire(now)
        if not self._unpaid:
            return None
        mid, entry = min(self._unpaid.items(), key=lambda kv: (kv[1].since, -kv[1].amount, kv[0]))
        waited = now - entry.since
        return (mid, entry.amount, waited) if waited >= self.hold_after else None

    def planned(self, plan: BatchPlan, amounts: Mapping[str, int], now: float) -> None:
        """After `plan`, made of messages with these (id -> amount): its unpaid transfers are remembered (or seen
        again), what it paid, refused or found executed is forgotten, and what it deferred for another reason (a
        probe, a full batch) keeps its place."""
        for mid in plan.unpaid:
            entry = self._unpaid.get(mid)
            if entry is None:
                self._unpaid[mid] = _Unpaid(amounts[mid], now, now)
            else:
                entry.seen = now
        for mid in plan.deferred - plan.unpaid:
            if (entry := self._unpaid.get(mid)) is not None:
                entry.seen = now
        self.forget([m.id_hex for m in plan.included])
        self.forget(plan.refused)
        self.forget(plan.executed)

    def forget(self, ids: Iterable[str]) -> None:
        """Drop `ids` (executed elsewhere, as the executed index says)."""
        for mid in ids:
            self._unpaid.pop(mid, None)

    def waiting(self) -> list[str]:
        return list(self._unpaid)

    def _expire(self, now: float) -> None:
        for mid in [m for m, e in self._unpaid.items() if now - e.seen > self.forget_after]:
            del self._unpaid[mid]


__all__ = ["DEFAULT_FORGET_AFTER", "LiquidityHold"]
