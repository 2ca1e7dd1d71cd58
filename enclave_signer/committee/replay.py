"""Replay protection for committee envelopes, with bounded memory.

An envelope is accepted once, only for a session this member has open, and only while its timestamp is inside
[now - max_age, now + max_skew]. Per (sender, session) the guard keeps the sequence numbers seen within the time
window plus a floor: every sequence number at or below the floor is refused. Entries leave the seen-set when they
age out of the window or when the set is full (oldest first); either way the floor rises to cover them, so nothing
forgotten can be replayed. Memory: max_open_sessions x senders x max_seen_per_sender entries, and
max_closed_sessions closed ids (older closed ids are then refused as unknown: still refused).

Sessions another member opens here (its signing, decryption, DKG or resharing request) are bounded three ways, so
that no member (nor a flood of fresh session ids) can take the table for everyone or keep slots for good
(docs/decisions.md, "Pre-launch audit" and "Committee sessions and admission under flood"):
- per sender (`max_open_per_sender`, a quarter of the table by default), and all together to the table less
  `reserved_local` (a quarter by default): this member's own sessions (heartbeats, the sessions it leads) always
  find room;
- in time: closed once idle for `max_age_ms`, or `max_remote_lifetime_ms` after they opened whatever their traffic
  (the longest session a member may legitimately hold open here), whenever room is needed;
- a remote session that never accepted an envelope (its opener was refused after opening it: stale, or a payload
  that does not decrypt) is dropped whenever room is needed, and one no handler takes is dropped by the node at once
  (`discard_session`).

A sender's sequence numbers need not be dense: `EnvelopeSigner` starts its counter at the clock in microseconds,
so a restarted member keeps counting upwards across sessions.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from enclave_signer.committee.errors import (
    ClosedSessionError,
    ReplayedMessageError,
    StaleMessageError,
    TooManySessionsError,
    UnknownSessionError,
)

__all__ = ["MAX_REMOTE_SESSION_MS", "SESSION_ID_SIZE", "ReplayGuard"]

_log = structlog.get_logger(__name__)

SESSION_ID_SIZE = 32
# The longest a session another member opened may legitimately stay open here: a resharing's member side lives two
# ceremony timeouts (at most an hour each: `ReshareStart.timeout_ms`) plus the member grace period (120 s by default;
# sessions/reshare.py `ReshareMembers.ttl`). The node passes the value for its own settings.
MAX_REMOTE_SESSION_MS = 2 * 3_600_000 + 120_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Seen:
    floor: int = 0
    entries: dict[int, int] = field(default_factory=dict)  # seq -> timestamp_ms


@dataclass
class _Remote:
    opener: int  # the member whose envelope opened the session
    opened_ms: int
    last_ms: int  # last envelope accepted


class ReplayGuard:
    def __init__(
        self,
        *,
        max_age_ms: int = 120_000,
        max_skew_ms: int = 10_000,
        max_open_sessions: int = 1024,
        max_closed_sessions: int = 4096,
        max_seen_per_sender: int = 512,
        max_open_per_sender: int | None = None,
        reserved_local: int | None = None,
        max_remote_lifetime_ms: int = MAX_REMOTE_SESSION_MS,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        per_sender = max(1, max_open_sessions // 4) if max_open_per_sender is None else max_open_per_sender
        reserved = max_open_sessions // 4 if reserved_local is None else reserved_local
        bounds = (max_age_ms, max_skew_ms, max_open_sessions, max_closed_sessions, max_seen_per_sender, per_sender)
        if min(*bounds, max_remote_lifetime_ms) <= 0 or not 0 <= reserved < max_open_sessions:
            raise ValueError("replay guard bounds must be positive (and leave other members room)")
        self.max_age_ms = max_age_ms
        self.max_skew_ms = max_skew_ms
        self._max_open = max_open_sessions
        self._max_remote = max_open_sessions - reserved
        self._max_closed = max_closed_sessions
        self._max_seen = max_seen_per_sender
        self._max_lifetime = max_remote_lifetime_ms
        self._clock = clock
        self._max_per_sender = per_sender
        self._open: dict[bytes, dict[int, _Seen]] = {}
        self._closed: OrderedDict[bytes, None] = OrderedDict()
        self._remote: dict[bytes, _Remote] = {}  # sessions another member opened here
        self._remote_count: Counter[int] = Counter()

    def open_session(self, session_id: bytes, *, opener: int | None = None) -> None:
        """Start accepting envelopes for `session_id` (idempotent). A closed session cannot be reopened. `opener`:
        the member whose envelope opens it (None: this member opens it)."""
        _check_session_id(session_id)
        if session_id in self._open:
            return
        if session_id in self._closed:
            raise ValueError(f"session {session_id.hex()[:16]} was closed; session ids are single-use")
        now = self._clock()
        if len(self._open) >= self._max_open or (opener is not None and not self._remote_room(opener)):
            self._reclaim(now)
        if opener is not None:
            if self._remote_count[opener] >= self._max_per_sender:
                raise TooManySessionsError(f"member {opener} has {self._max_per_sender} sessions open here")
            if len(self._remote) >= self._max_remote:
                raise TooManySessionsError(
                    f"{self._max_remote} sessions other members opened are open here (the rest is kept for ours)"
                )
        if len(self._open) >= self._max_open:
            raise TooManySessionsError(f"{self._max_open} sessions are open; close finished ones first")
        self._open[session_id] = {}
        if opener is not None:
            self._remote[session_id] = _Remote(opener, now, now)
            self._remote_count[opener] += 1

    def _remote_room(self, opener: int) -> bool:
        return len(self._remote) < self._max_remote and self._remote_count[opener] < self._max_per_sender

    def _reclaim(self, now: int) -> None:
        """Make room: drop the remote sessions that never accepted an envelope, close those idle for `max_age_ms`
        or open longer than `max_remote_lifetime_ms` (their opener's own traffic cannot keep them)."""
        # Every accepted envelope is recorded in the same synchronous call that opened its session (EnvelopeVerifier
        # opens, checks, decrypts, records), so an empty one here is one whose opener was refused.
        unaccepted: list[bytes] = []
        idle: list[bytes] = []
        expired: list[bytes] = []
        for sid, r in self._remote.items():
            if not self._open[sid]:
                unaccepted.append(sid)
            elif r.last_ms < now - self.max_age_ms:
                idle.append(sid)
            elif r.opened_ms < now - self._max_lifetime:
                expired.append(sid)
        openers = sorted({self._remote[sid].opener for sid in expired})
        for sid in unaccepted:
            self.discard_session(sid)
        for sid in idle + expired:
            self.close_session(sid)
        if expired:
            # Still in use past the longest legitimate session: a handler that never closed it, or a member keeping
            # it alive on purpose.
            _log.warning("remote_sessions_expired", count=len(expired), openers=openers)

    def close_session(self, session_id: bytes) -> None:
        """Forget the session's seen-sets; its id is remembered (bounded) so late envelopes are refused as closed."""
        self._forget(session_id)
        self._closed[session_id] = None
        self._closed.move_to_end(session_id)
        while len(self._closed) > self._max_closed:
            self._closed.popitem(last=False)

    def discard_session(self, session_id: bytes) -> None:
        """Drop a session another member opened that nothing here took: its id is not remembered as closed, so a
        flood of such openers cannot push real closed sessions out of the bounded closed set, and a repeated opener
        is simply judged again."""
        if session_id in self._remote:
            self._forget(session_id)

    def _forget(self, session_id: bytes) -> None:
        remote = self._remote.pop(session_id, None)
        if remote is not None:
            self._remote_count[remote.opener] -= 1
            if not self._remote_count[remote.opener]:
                del self._remote_count[remote.opener]
        self._open.pop(session_id, None)

    def opener_of(self, session_id: bytes) -> int | None:
        """The member whose envelope opened this open session here (None: ours, or not open)."""
        remote = self._remote.get(session_id)
        return None if remote is None else remote.opener

    def is_open(self, session_id: bytes) -> bool:
        return session_id in self._open

    @property
    def open_sessions(self) -> int:
        return len(self._open)

    def check(self, *, sender: int, session_id: bytes, seq: int, timestamp_ms: int) -> None:
        """Raise if the envelope must be refused; changes nothing (call `record` once it is fully accepted)."""
        senders = self._open.get(session_id)
        if senders is None:
            short = session_id.hex()[:16]
            if session_id in self._closed:
                raise ClosedSessionError(f"session {short} is closed")
            raise UnknownSessionError(f"session {short} is not open here")
        now = self._clock()
        if timestamp_ms < now - self.max_age_ms:
            raise StaleMessageError(f"timestamp {now - timestamp_ms} ms old (max {self.max_age_ms} ms)")
        if timestamp_ms > now + self.max_skew_ms:
            raise StaleMessageError(f"timestamp {timestamp_ms - now} ms ahead (max skew {self.max_skew_ms} ms)")
        seen = senders.get(sender)
        if seen is not None and (seq <= seen.floor or seq in seen.entries):
            short = session_id.hex()[:16]
            raise ReplayedMessageError(f"member {sender} sequence {seq} already seen in session {short}")

    def record(self, *, sender: int, session_id: bytes, seq: int, timestamp_ms: int) -> None:
        self.check(sender=sender, session_id=session_id, seq=seq, timestamp_ms=timestamp_ms)
        seen = self._open[session_id].setdefault(sender, _Seen())
        seen.entries[seq] = timestamp_ms
        remote = self._remote.get(session_id)
        if remote is not None:
            remote.last_ms = self._clock()
        if len(seen.entries) > self._max_seen:
            self._prune(seen)

    def _prune(self, seen: _Seen) -> None:
        horizon = self._clock() - self.max_age_ms
        aged = [s for s, ts in seen.entries.items() if ts < horizon]
        # Then the lowest sequence numbers, down to 3/4 of the bound so pruning is amortised.
        keep = self._max_seen * 3 // 4
        rest = sorted(s for s in seen.entries if seen.entries[s] >= horizon)
        dropped = aged + rest[: max(0, len(rest) - keep)]
        for s in dropped:
            del seen.entries[s]
        if dropped:
            seen.floor = max(seen.floor, *dropped)


def _check_session_id(session_id: bytes) -> None:
    if not isinstance(session_id, bytes) or len(session_id) != SESSION_ID_SIZE:
        raise ValueError(f"a session id is {SESSION_ID_SIZE} bytes")
