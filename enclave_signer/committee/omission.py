"""Evidence that a leader censors by NOT proposing a message: it proposes later messages of that message's lane while
the message waits, final and valid in this member's own view, and never proposed by it.

A content refusal (distrust.py) catches a leader that proposes a message wrongly; a leader that simply leaves a
message out never meets one. What an honest leader does not do is pass over a message: messages of one lane (same
destination, same source domain, same kind of ordering: a plain message, a confidential call, a reply) reach the
destination in the lane's order (the Ethereum batch is in nonce order per source, confidential calls run in source
order, replies follow the dense counter; the pipeline batches by arrival, so a lane's earlier message is at worst
one batch behind a later one). A leader whose own view has a later message has the earlier one too (one source
chain finalizes in order), so a lagging leader cannot propose past a message either.

So each member, for the member it sees leading, records every message that leader proposes (every `sign.request`
it receives, refused or not: a proposal refused as `absent` is still a proposal) and the highest position it
proposed in each lane. Every check it asks its own view (`OmissionView.outstanding`) for the lane's messages below
that position that are final, that it would sign, that the destination could execute now, and that are not
executed. One the leader never proposed starts a clock; still outstanding and still not proposed `grace` seconds
later, it is a strike with code `skipped` (the same DistrustBook and t-of-members rule as content refusals), and the
clock starts again (a leader that keeps censoring one message is struck once per grace period). The clocks follow
the lead: a member that stops leading has no clocks (handing over is not skipping), a new leader starts with none.

`grace` covers what an honest leader takes between passing a message and proposing it (the next batch, a retry
after a failed session with its backoff) and what separates the views (the destination's execution becoming final
in this member's view, a proposal this member missed while it restarted and whose batch is still on its way).

A leader can also propose NOTHING in a lane (its relayer's watcher stuck or lagging, a relayer that never proposes,
a censor that stops proposing altogether): there is no later proposal to compare with, and its relayer still polls
its enclave, so it keeps the lead. So the same check also asks the view, with no upper bound, for every lane it
names (`LaneCoverage.omission_lanes`: where an honest leader never holds a whole lane back that long): a message
outstanding ABOVE everything the leader proposed in the lane (below it, it is the `skipped` rule's: one omission is
never struck twice), that it never proposed, for `stall_grace` seconds, while the leader proposed nothing at all in
that lane since the message became outstanding, is a strike with code `stalled`: one per lane per grace period while
it lasts (the clocks of the lane's waiting messages start again). A leader that proposes anything in the lane is not
stalled (if it passes messages over, that is `skipped`). The clocks follow the lead like the `skipped` ones.
`stall_grace` is longer than `grace`: an honest leader whose source node lags for a while must not be struck; one
that lags longer should hand over (docs/decisions.md, "A leader that proposes nothing").

The port's contract is the safety of the whole: `outstanding` must leave out anything an honest leader with this
member's view may legitimately hold back (a transfer the bridge account cannot pay now, a rate limit, anything the
destination would refuse or defer): when in doubt, leave it out. A message left out only delays a strike; one put
in wrongly strikes an honest leader (and still takes t members doing so, strikes times).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bridge.confidential import is_confidential_call
from bridge.domains import Domain
from bridge.failure_runs import FailureRun
from bridge.messages import BridgeMessage
from bridge.refunds import is_refund

__all__ = [
    "LANE_END",
    "REPLY_NONCE_FLOOR",
    "CheckFailures",
    "Lane",
    "LaneCoverage",
    "OmissionView",
    "OmissionWatch",
    "Skipped",
    "Stalled",
    "lane_of",
]

REPLY_NONCE_FLOOR = 1 << 63  # bridge.confidential.reply_nonce: replies (source Phala) set the top bit
LANE_END = 1 << 64  # nonces are u64: `below` this asks for a lane's every position (no upper bound)
_MAX_IDS_PER_LANE = 100_000  # ids remembered per (leader, lane); beyond, the lowest positions are forgotten


@dataclass(frozen=True, order=True)
class Lane:
    """Messages an honest leader delivers in `position` order (the nonce)."""

    destination: int
    source: int
    kind: str  # "message" | "confidential" | "reply" | "refund"

    def __str__(self) -> str:
        return f"{self.source}->{self.destination}/{self.kind}"


def lane_of(message: BridgeMessage) -> Lane:
    if is_confidential_call(message):
        kind = "confidential"  # run alone, in source order (the Phala dispatcher): apart from transfers
    elif message.source_domain == Domain.PHALA and message.nonce >= REPLY_NONCE_FLOOR:
        kind = "reply"  # another nonce space than Phala deposits, from another watcher
    elif is_refund(message):
        kind = "refund"  # refunds of refused Ethereum deposits: their own nonce space (bridge/refunds.py)
    else:
        kind = "message"
    return Lane(int(message.dest_domain), int(message.source_domain), kind)


@runtime_checkable
class OmissionView(Protocol):
    """This member's own view of what waits. Implemented by a `BatchVerifier` that can enumerate; without it the
    member gathers no omission evidence (and strikes nobody for it)."""

    async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
        """At most `limit` messages of `lane` with nonce < `below`, lowest first, that are final in this member's
        view, that it would sign, that the destination could execute now, and that are not executed."""
        ...


@runtime_checkable
class LaneCoverage(Protocol):
    """An `OmissionView` that names the lanes where a leader proposing nothing at all is seen stalling: lanes it
    can enumerate AND where an honest leader never holds everything back for a stall grace period (not a
    destination that waits for its batch in flight before the next, like Phala). Without it, nobody is struck
    `stalled`."""

    def omission_lanes(self) -> frozenset[Lane]: ...


@dataclass(frozen=True)
class Skipped:
    leader: int
    lane: Lane
    message_id: str
    age: float  # seconds since this member first saw the leader pass the message over


@dataclass(frozen=True)
class Stalled:
    leader: int
    lane: Lane
    message_id: str  # the lane's message that waited longest
    age: float  # seconds since its clock started (or the lane's previous strike), the leader proposing nothing
    waiting: int  # the lane's messages waiting that long


@dataclass
class _Lane:
    high: int = -1  # the highest position the leader proposed in the lane
    ids: dict[str, int] = field(default_factory=dict)  # id (lower-case hex) -> position, every message it proposed
    last: float | None = None  # when the leader last proposed in the lane (this member's clock)


class OmissionWatch:
    """Proposals seen from each leader, and the clocks of the messages the current leader passed over. No I/O but
    the view it is given; `clock` is monotonic seconds."""

    def __init__(
        self,
        member_id: int,
        *,
        grace: float = 60.0,
        stall_grace: float = 120.0,
        limit: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if grace <= 0 or stall_grace <= 0:
            raise ValueError("grace and stall_grace must be positive")
        self.member_id = member_id
        self.grace = grace
        self.stall_grace = stall_grace
        self.limit = limit
        self._clock = clock
        self._lanes: dict[int, dict[Lane, _Lane]] = {}  # leader -> lane -> what it proposed
        # (leader, message id) -> (passed over since, its lane)
        self._since: dict[tuple[int, str], tuple[float, Lane]] = {}
        # lane -> message id -> since when it waits above all the current leader proposed in the lane
        self._stall: dict[Lane, dict[str, float]] = {}
        self._watching: int | None = None

    def proposed(self, leader: int, messages: Sequence[BridgeMessage]) -> None:
        """`leader` asked this member to sign a batch of `messages` (whatever this member then answers)."""
        if leader == self.member_id:
            return
        lanes = self._lanes.setdefault(leader, {})
        now = self._clock()
        for m in messages:
            lane = lane_of(m)
            state = lanes.setdefault(lane, _Lane())
            state.ids[m.id_hex.lower()] = m.nonce
            state.high = max(state.high, m.nonce)
            state.last = now
            self._since.pop((leader, m.id_hex.lower()), None)
            if leader == self._watching:
                self._stall.get(lane, {}).pop(m.id_hex.lower(), None)
            if len(state.ids) > _MAX_IDS_PER_LANE:
                state.ids = dict(sorted(state.ids.items(), key=lambda kv: kv[1])[len(state.ids) // 2 :])

    def proposed_by(self, leader: int, message_id: str) -> bool:
        lanes = self._lanes.get(leader, {})
        return any(message_id.lower() in s.ids for s in lanes.values())

    def passed_over(self) -> dict[str, float]:
        """Message id -> seconds since the current leader passed it over (for status and tests)."""
        now = self._clock()
        return {mid: now - t for (leader, mid), (t, _) in self._since.items() if leader == self._watching}

    def stalled_since(self) -> dict[str, float]:
        """Message id -> seconds it has waited above all the current leader proposed in its lane (status, tests)."""
        now = self._clock()
        return {mid: now - t for clocks in self._stall.values() for mid, t in clocks.items()}

    async def check(self, leader: int | None, view: OmissionView) -> list[Skipped | Stalled]:
        """One round against this member's view, for the member it sees leading now. Returns the strikes due."""
        if leader != self._watching:
            # The lead moved: what the previous leader passed over or held back is not the new one's doing.
            self._since.clear()
            self._stall.clear()
            self._watching = leader
        if leader is None or leader == self.member_id:
            return []
        proposed = self._lanes.get(leader, {})
        covered = view.omission_lanes() if isinstance(view, LaneCoverage) else frozenset()
        out: list[Skipped | Stalled] = []
        for lane in sorted(covered | proposed.keys()):
            state = proposed.get(lane, _Lane())
            # One read per lane, with no upper bound: its prefix below `high` is what the `skipped` rule asks for
            # (lowest first), the rest is what the `stalled` rule watches.
            waiting = await view.outstanding(lane, LANE_END, self.limit)
            now = self._clock()
            waiting = [m for m in waiting if lane_of(m) == lane]  # a view that answers more than asked is not trusted
            if state.high >= 0:
                out += self._skipped(leader, lane, state, waiting, now)
            # Stalling is judged only where the view says an honest leader never holds a whole lane back.
            stalled = self._stalled(leader, lane, state, waiting, now) if lane in covered else None
            if stalled is not None:
                out.append(stalled)
        return out

    def _stalled(
        self, leader: int, lane: Lane, state: _Lane, waiting: Sequence[BridgeMessage], now: float
    ) -> Stalled | None:
        clocks = self._stall.setdefault(lane, {})
        found: set[str] = set()
        for m in waiting:
            mid = m.id_hex.lower()
            if m.nonce <= state.high or mid in state.ids:
                continue  # below what the leader proposed: the `skipped` rule's; proposed: not held back
            found.add(mid)
            clocks.setdefault(mid, now)
        for mid in [mid for mid in clocks if mid not in found]:
            del clocks[mid]  # executed meanwhile, proposed, or no longer one this member would sign
        # Due: waited `stall_grace`, the leader proposing nothing in the lane since it began waiting.
        due = [
            (since, mid)
            for mid, since in clocks.items()
            if now - since >= self.stall_grace and (state.last is None or state.last < since)
        ]
        if not due:
            return None
        since, oldest = min(due)
        for mid in clocks:
            clocks[mid] = now  # one strike per lane: the next needs another grace period of nothing proposed
        return Stalled(leader, lane, oldest, now - since, len(due))

    def _skipped(
        self, leader: int, lane: Lane, state: _Lane, waiting: Sequence[BridgeMessage], now: float
    ) -> list[Skipped]:
        out: list[Skipped] = []
        found: set[str] = set()
        for m in waiting:
            mid = m.id_hex.lower()
            if m.nonce >= state.high or mid in state.ids:
                continue  # not a message passed over
            found.add(mid)
            since, _ = self._since.setdefault((leader, mid), (now, lane))
            if now - since >= self.grace:
                out.append(Skipped(leader, lane, mid, now - since))
                self._since[(leader, mid)] = (now, lane)  # the next strike needs another grace period
        # Executed meanwhile, proposed, or no longer one this member would sign: its clock stops.
        for key in [k for k, (_, ln) in self._since.items() if ln == lane and k[1] not in found]:
            del self._since[key]
        return out


class CheckFailures:
    """The log of a check that keeps failing (a chain down for minutes): `omission_check_failed` once when it starts
    failing, with the error, then at most once per `every` seconds with the count, and `omission_check_recovered`
    once it works again. `log` is a structlog logger; `clock` monotonic seconds."""

    def __init__(self, log: Any, *, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._clock = clock
        self._run = FailureRun(every)

    @property
    def failing(self) -> bool:
        return self._run.since is not None

    def failed(self, error: str) -> None:
        now = self._clock()
        first = self._run.since is None
        if not self._run.failed(now):
            return
        if first:
            self._log.warning("omission_check_failed", error=error, failures=1)
        else:
            failing_s = round(now - (self._run.since if self._run.since is not None else now), 1)
            self._log.warning("omission_check_failed", error=error, failures=self._run.failures, failing_s=failing_s)

    def succeeded(self) -> None:
        ended = self._run.succeeded(self._clock())
        if ended is not None:
            self._log.info("omission_check_recovered", failures=ended.failures, failing_s=round(ended.lasted, 1))
