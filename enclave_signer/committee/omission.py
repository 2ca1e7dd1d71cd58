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

The port's contract is the safety of the whole: `outstanding` must leave out anything an honest leader with this
member's view may legitimately hold back (a transfer the bridge account cannot pay now, a rate limit, anything the
destination would refuse or defer): when in doubt, leave it out. A message left out only delays a strike; one put
in wrongly strikes an honest leader (and still takes t members doing so, strikes times).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bridge.confidential import is_confidential_call
from bridge.domains import Domain
from bridge.messages import BridgeMessage

__all__ = ["REPLY_NONCE_FLOOR", "Lane", "OmissionView", "OmissionWatch", "Skipped", "lane_of"]

REPLY_NONCE_FLOOR = 1 << 63  # bridge.confidential.reply_nonce: replies (source Phala) set the top bit
_MAX_IDS_PER_LANE = 100_000  # ids remembered per (leader, lane); beyond, the lowest positions are forgotten


@dataclass(frozen=True, order=True)
class Lane:
    """Messages an honest leader delivers in `position` order (the nonce)."""

    destination: int
    source: int
    kind: str  # "message" | "confidential" | "reply"

    def __str__(self) -> str:
        return f"{self.source}->{self.destination}/{self.kind}"


def lane_of(message: BridgeMessage) -> Lane:
    if is_confidential_call(message):
        kind = "confidential"  # run alone, in source order (the Phala dispatcher): apart from transfers
    elif message.source_domain == Domain.PHALA and message.nonce >= REPLY_NONCE_FLOOR:
        kind = "reply"  # another nonce space than Phala deposits, from another watcher
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


@dataclass(frozen=True)
class Skipped:
    leader: int
    lane: Lane
    message_id: str
    age: float  # seconds since this member first saw the leader pass the message over


@dataclass
class _Lane:
    high: int = -1  # the highest position the leader proposed in the lane
    ids: dict[str, int] = field(default_factory=dict)  # id (lower-case hex) -> position, every message it proposed


class OmissionWatch:
    """Proposals seen from each leader, and the clocks of the messages the current leader passed over. No I/O but
    the view it is given; `clock` is monotonic seconds."""

    def __init__(
        self,
        member_id: int,
        *,
        grace: float = 60.0,
        limit: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if grace <= 0:
            raise ValueError("grace must be positive")
        self.member_id = member_id
        self.grace = grace
        self.limit = limit
        self._clock = clock
        self._lanes: dict[int, dict[Lane, _Lane]] = {}  # leader -> lane -> what it proposed
        # (leader, message id) -> (passed over since, its lane)
        self._since: dict[tuple[int, str], tuple[float, Lane]] = {}
        self._watching: int | None = None

    def proposed(self, leader: int, messages: Sequence[BridgeMessage]) -> None:
        """`leader` asked this member to sign a batch of `messages` (whatever this member then answers)."""
        if leader == self.member_id:
            return
        lanes = self._lanes.setdefault(leader, {})
        for m in messages:
            state = lanes.setdefault(lane_of(m), _Lane())
            state.ids[m.id_hex.lower()] = m.nonce
            state.high = max(state.high, m.nonce)
            self._since.pop((leader, m.id_hex.lower()), None)
            if len(state.ids) > _MAX_IDS_PER_LANE:
                state.ids = dict(sorted(state.ids.items(), key=lambda kv: kv[1])[len(state.ids) // 2 :])

    def proposed_by(self, leader: int, message_id: str) -> bool:
        lanes = self._lanes.get(leader, {})
        return any(message_id.lower() in s.ids for s in lanes.values())

    def passed_over(self) -> dict[str, float]:
        """Message id -> seconds since the current leader passed it over (for status and tests)."""
        now = self._clock()
        return {mid: now - t for (leader, mid), (t, _) in self._since.items() if leader == self._watching}

    async def check(self, leader: int | None, view: OmissionView) -> list[Skipped]:
        """One round against this member's view, for the member it sees leading now. Returns the strikes due."""
        if leader != self._watching:
            # The lead moved: what the previous leader passed over is not the new one's doing.
            self._since.clear()
            self._watching = leader
        if leader is None or leader == self.member_id:
            return []
        out: list[Skipped] = []
        for lane, state in sorted(self._lanes.get(leader, {}).items()):
            if state.high < 0:
                continue
            waiting = await view.outstanding(lane, state.high, self.limit)
            now = self._clock()
            found: set[str] = set()
            for m in waiting:
                mid = m.id_hex.lower()
                if lane_of(m) != lane or m.nonce >= state.high or mid in state.ids:
                    continue  # not a message passed over (a view that answers more than asked is not trusted)
                found.add(mid)
                since, _ = self._since.setdefault((leader, mid), (now, lane))
                if now - since >= self.grace:
                    out.append(Skipped(leader, lane, mid, now - since))
                    self._since[(leader, mid)] = (now, lane)  # the next strike needs another grace period
            # Executed meanwhile, proposed, or no longer one this member would sign: its clock stops.
            for key in [k for k, (_, ln) in self._since.items() if ln == lane and k[1] not in found]:
                del self._since[key]
        return out
