"""Heartbeats and the leader view: who is up, and who leads (the lowest-numbered member heard from recently).

Every member broadcasts a signed `hb` envelope every `interval` on its epoch's heartbeat session; any authenticated
envelope counts as a sign of life. The relayer asks its enclave (`status`) for `members_up` and `leader`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

__all__ = ["Liveness", "heartbeat_session"]


def heartbeat_session(committee_id: str, epoch: int) -> bytes:
    """The session id heartbeats of one epoch travel on (open for the epoch's lifetime)."""
    return hashlib.sha256(
        b"phala-bridge/committee/heartbeat/v1\x00" + committee_id.encode() + b"\x00" + epoch.to_bytes(8, "big")
    ).digest()


class Liveness:
    def __init__(self, member_id: int, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.member_id = member_id
        self.timeout = timeout
        self._clock = clock
        self._last_seen: dict[int, float] = {}

    def saw(self, member_id: int) -> None:
        self._last_seen[member_id] = self._clock()

    def forget(self, member_id: int) -> None:
        self._last_seen.pop(member_id, None)

    def is_up(self, member_id: int) -> bool:
        if member_id == self.member_id:
            return True
        seen = self._last_seen.get(member_id)
        return seen is not None and self._clock() - seen <= self.timeout

    def up(self, members: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted(m for m in set(members) if self.is_up(m)))

    def leader(self, members: Iterable[int]) -> int | None:
        up = self.up(members)
        return up[0] if up else None
