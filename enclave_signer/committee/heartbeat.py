"""Heartbeats and the leader view: who is up, and who leads.

Every member broadcasts a signed `hb` envelope every `interval` on its epoch's heartbeat session; any authenticated
envelope counts as a sign of life. A heartbeat also says whether the member's relayer is attached: it asked its
enclave for `status` as a relayer within `relayer_timeout` (10 s by default, longer than a relayer restart).
The leader is the lowest-numbered member up whose relayer is attached: an enclave alive behind a dead relayer must
not keep the lead, or nobody relays. Only when no member up has a relayer attached (before the relayers start, or
all of them down) is it the lowest-numbered member up. A member that at least t members distrust (distrust.py:
they kept refusing its proposals for their content) is skipped, unless that leaves no member up at all. The relayer
asks its enclave (`status`) for `members_up` and `leader`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable

__all__ = ["Liveness", "heartbeat_session"]


def heartbeat_session(committee_id: str, epoch: int) -> bytes:
    """The session id heartbeats of one epoch travel on (open for the epoch's lifetime)."""
    return hashlib.sha256(
        b"phala-bridge/committee/heartbeat/v1\x00" + committee_id.encode() + b"\x00" + epoch.to_bytes(8, "big")
    ).digest()


class Liveness:
    def __init__(
        self,
        member_id: int,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        relayer_timeout: float | None = None,
    ) -> None:
        self.member_id = member_id
        self.timeout = timeout
        self.relayer_timeout = timeout if relayer_timeout is None else relayer_timeout
        self._clock = clock
        self._last_seen: dict[int, float] = {}
        self._relaying: dict[int, bool] = {}  # from each member's latest heartbeat
        self._relayer_polled: float | None = None  # our own relayer's latest `status` call

    def saw(self, member_id: int, *, relaying: bool | None = None) -> None:
        """Any authenticated envelope from `member_id`; a heartbeat also carries its relayer flag."""
        self._last_seen[member_id] = self._clock()
        if relaying is not None:
            self._relaying[member_id] = relaying

    def forget(self, member_id: int) -> None:
        self._last_seen.pop(member_id, None)
        self._relaying.pop(member_id, None)

    def relayer_polled(self) -> None:
        """Our relayer asked for the leader view: it is alive and attached to this enclave."""
        self._relayer_polled = self._clock()

    @property
    def relaying(self) -> bool:
        """Whether our own relayer is attached (what our heartbeats say)."""
        polled = self._relayer_polled
        return polled is not None and self._clock() - polled <= self.relayer_timeout

    def is_relaying(self, member_id: int) -> bool:
        if member_id == self.member_id:
            return self.relaying
        return self.is_up(member_id) and self._relaying.get(member_id, False)

    def is_up(self, member_id: int) -> bool:
        if member_id == self.member_id:
            return True
        seen = self._last_seen.get(member_id)
        return seen is not None and self._clock() - seen <= self.timeout

    def up(self, members: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted(m for m in set(members) if self.is_up(m)))

    def relayers(self, members: Iterable[int]) -> tuple[int, ...]:
        """Members up whose relayer is attached."""
        return tuple(m for m in self.up(members) if self.is_relaying(m))

    def leader(self, members: Iterable[int], skip: Collection[int] = ()) -> int | None:
        """`skip`: members not to lead (distrusted by t members up); ignored if it would leave nobody."""
        up = self.up(members)
        up = tuple(m for m in up if m not in skip) or up
        relaying = [m for m in up if self.is_relaying(m)]
        if relaying:
            return relaying[0]
        return up[0] if up else None
