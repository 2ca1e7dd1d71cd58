"""Distrust of a leader whose proposals this member keeps refusing: the committee moves the lead past it.

A rogue leader (a modified but allow-listed build holding a genuine share) cannot get a wrong result signed, but
while it leads that result's messages wait. (A leader that leaves a message out instead of proposing it wrongly is
struck through omission.py, code `skipped`; one that proposes nothing at all in a lane, code `stalled`.) So every
member counts, per proposer, its refusals for a reason about the proposal's CONTENT (`CONTENT_REFUSALS`) within a
sliding window (`window`, by default the distrust `ttl`). A share it sends that leader in between does NOT clear
them: a leader that interleaves honest batches with bad ones (censoring some messages by proposing them wrongly
again and again) is struck as surely as one that proposes only bad ones. After `strikes` within the window it
distrusts that member for `ttl` seconds and says so in its heartbeats (`Heartbeat.distrust`). The leader choice
(heartbeat.py) skips a member that at least t members up distrust: t, so that fewer than t rogues (who cannot sign
anything either) cannot push an honest leader out. Every member counts from the heartbeats it sees, so they converge
within a heartbeat or two.

A distrust ends after `ttl` (an honest member wrongly distrusted, e.g. after a transient bug, gets back in), or
when the distrusted member is re-admitted with another measurement (it restarted with another build).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

__all__ = ["CONTENT_REFUSALS", "DistrustBook"]

_log = structlog.get_logger(__name__)

# Refusal codes that say the PROPOSAL is wrong, whatever this member's view: the bytes to sign are not what this
# member rebuilds from its own chain view / own execution (`mismatch`, every chain adapter's refusal included), the
# request contradicts its own messages (`duplicate`, `empty`), or a message the bridge does not carry (`policy`,
# `unknown_destination`). Not counted, because an honest leader meets them too: `absent` (a member whose view lags
# the leader's finality does not see the message yet), `executed` (a race with the previous leader's batch around a
# handover, or a request built before the leader's view saw the previous batch finalize: a Phala nonce already
# used, a message already executed; a member BEHIND the leader waits for its own view first, relayers/substrate/
# verifier.py), `chain_unavailable`, `verify_timeout`, `verifier_error`, `no_keys`, `no_confidential`, `log_broken`
# (this member's own trouble), and any code not listed here. From threshold-decryption requests: `not_an_enclave`
# (shares asked for a key that is no enclave of this committee: an attempt to take plaintext out); not
# `unknown_ciphertext` (a member whose view lags does not know the call yet) nor `bad_request`. And `skipped`, not a
# refusal but evidence of the same weight: the leader passed over a message this member's own view says it should
# deliver, for the grace period (omission.py); and `stalled`, likewise: the leader proposed nothing at all in a lane
# while a message of it waited in this member's view, for the stall grace period (omission.py).
CONTENT_REFUSALS = frozenset(
    {"mismatch", "duplicate", "empty", "policy", "unknown_destination", "not_an_enclave", "skipped", "stalled"}
)


@dataclass
class _Distrust:
    until: float
    measurement: bytes | None  # the distrusted member's build when distrust began (None: not attested)


class DistrustBook:
    """This member's strikes and distrust, and what the others announce. No I/O; `clock` is monotonic seconds."""

    def __init__(
        self,
        member_id: int,
        *,
        strikes: int = 3,
        ttl: float = 300.0,
        window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        measurement_of: Callable[[int], bytes | None] = lambda _m: None,
    ) -> None:
        if strikes < 1:
            raise ValueError("strikes must be at least 1")
        self.member_id = member_id
        self.strikes = strikes
        self.ttl = ttl
        self.window = ttl if window is None else window
        self._clock = clock
        self._measurement_of = measurement_of
        self._strikes: dict[int, deque[float]] = {}  # leader -> times of its strikes within the window
        self._mine: dict[int, _Distrust] = {}
        self._announced: dict[int, frozenset[int]] = {}  # member -> whom its latest heartbeat distrusts
        self._skipped: tuple[int, ...] = ()
        self._log = _log.bind(member_id=member_id)

    # ---- this member's own judgement -------------------------------------------------------------------------------

    def refused(self, leader: int, code: str) -> None:
        """This member refused a proposal (or a decryption request) of `leader` with `code`."""
        if leader == self.member_id or code not in CONTENT_REFUSALS:
            return
        now = self._clock()
        times = self._recent(leader, now)
        times.append(now)
        count = len(times)
        self._log.warning("leader_strike", leader=leader, code=code, strikes=count, limit=self.strikes)
        if count >= self.strikes and leader not in self.distrusted():
            self._mine[leader] = _Distrust(now + self.ttl, self._measurement_of(leader))
            self._log.warning("member_distrusted", leader=leader, strikes=count, ttl_s=self.ttl)

    def _recent(self, leader: int, now: float) -> deque[float]:
        times = self._strikes.setdefault(leader, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def readmitted(self, member: int, measurement: bytes) -> None:
        """`member` was admitted again (a new quote): another build ends this member's distrust of it."""
        d = self._mine.get(member)
        if d is not None and d.measurement is not None and d.measurement != measurement:
            del self._mine[member]
            self._strikes.pop(member, None)
            self._log.info("distrust_ended", leader=member, why="new_build")

    def strikes_against(self, leader: int) -> int:
        """Strikes within the window."""
        return len(self._recent(leader, self._clock())) if leader in self._strikes else 0

    @property
    def announcements(self) -> dict[int, frozenset[int]]:
        """Each member's latest announced distrust (as heard; whether it is up is not checked here)."""
        return dict(self._announced)

    def distrusted(self) -> frozenset[int]:
        """Whom this member distrusts now (what its heartbeats announce)."""
        now = self._clock()
        for m in [m for m, d in self._mine.items() if d.until <= now]:
            del self._mine[m]
            self._strikes.pop(m, None)
            self._log.info("distrust_ended", leader=m, why="expired")
        return frozenset(self._mine)

    # ---- the others' -------------------------------------------------------------------------------------------

    def announced(self, member: int, distrust: Iterable[int]) -> None:
        """`member`'s latest heartbeat (an old heartbeat without the field: no distrust)."""
        new = frozenset(distrust)
        if self._announced.get(member, frozenset()) != new:
            self._log.info("distrust_announced", by=member, distrusts=sorted(new))
        self._announced[member] = new

    def skipped(self, up: Iterable[int], threshold: int) -> frozenset[int]:
        """Members at least `threshold` members of `up` (this one included when listed) distrust: not to lead.
        Logs each change of the set."""
        counts: dict[int, int] = {}
        for m in set(up):
            for d in self.distrusted() if m == self.member_id else self._announced.get(m, frozenset()):
                counts[d] = counts.get(d, 0) + 1
        out = frozenset(d for d, n in counts.items() if n >= threshold)
        now = tuple(sorted(out))
        if now != self._skipped:
            self._log.warning(
                "leader_candidates_changed", skipped=list(now), before=list(self._skipped), threshold=threshold
            )
            self._skipped = now
        return out
