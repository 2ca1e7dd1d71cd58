"""The member side of a ceremony kind (DKG, resharing): one session per `<kind>.start`, the rest routed to it.

Both ceremonies keep the same registry: open a session when a coordinator's start names this member, poke it when
the coordinator repeats the start (a retransmission), route the other messages to it, and forget it after its
time to live, closing its replay window unless this member coordinates it (the coordinator closes its own).
"""

from __future__ import annotations

import asyncio
from typing import Generic, Protocol, TypeVar

import structlog

from enclave_signer.committee.channel import Received
from enclave_signer.committee.messages import PayloadError, _Payload, decode
from enclave_signer.committee.sessions.common import Services, short

__all__ = ["MemberSessions"]

_log = structlog.get_logger(__name__)


class MemberSession(Protocol):
    coordinator: int

    async def run(self) -> None: ...

    async def poke(self) -> None: ...

    def on_message(self, msg: Received) -> None: ...


S = TypeVar("S", bound=MemberSession)
P = TypeVar("P", bound=_Payload)


class MemberSessions(Generic[S, P]):
    """Subclasses name the kind, the start payload, and say who is involved, how long a session lives and how one
    is made; `route` handles the kind's other messages (by default the session's `on_message`)."""

    kind: str
    start_model: type[P]

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._sessions: dict[bytes, S] = {}
        self._expires: dict[bytes, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def holds(self, session_id: bytes) -> bool:
        """Whether this handler keeps the session (the node drops a session no handler took)."""
        return session_id in self._sessions

    # ---- what a ceremony kind says -----------------------------------------------------------------------------

    def involves(self, start: P) -> bool:
        raise NotImplementedError

    def ttl(self, start: P) -> float:
        """Seconds the session is kept (its timeout plus the member grace period)."""
        raise NotImplementedError

    def create(self, sid: bytes, coordinator: int, start: P, epoch: int) -> S:
        raise NotImplementedError

    def opened(self, start: P) -> None:
        """Called once a session is registered (e.g. expect the members it involves)."""

    async def route(self, sid: bytes, session: S, msg: Received) -> None:
        session.on_message(msg)

    # ---- the registry ------------------------------------------------------------------------------------------

    async def on_message(self, msg: Received) -> None:
        sid = msg.session_id
        s = self._sessions.get(sid)
        if msg.kind == f"{self.kind}.start":
            if s is not None:
                if msg.sender == s.coordinator:
                    await s.poke()
                return
            try:
                start = decode(self.start_model, msg.payload, kind=msg.kind)
            except PayloadError as exc:
                _log.warning("payload_rejected", session_id=short(sid), sender=msg.sender, error=str(exc))
                return
            if not self.involves(start):
                if not msg.local:
                    self.svc.channel.close_session(sid)
                return
            s = self.create(sid, msg.sender, start, msg.epoch)
            self._sessions[sid] = s
            self._expires[sid] = asyncio.get_running_loop().time() + self.ttl(start)
            self.opened(start)
            task = asyncio.create_task(s.run(), name=f"{self.kind}-{short(sid)}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif s is not None:
            await self.route(sid, s, msg)

    def sweep(self, now: float) -> None:
        for sid in [sid for sid, t in self._expires.items() if t <= now]:
            self.close(sid)

    def close(self, sid: bytes) -> None:
        s = self._sessions.pop(sid, None)
        self._expires.pop(sid, None)
        if s is not None and s.coordinator != self.svc.member_id:
            self.svc.channel.close_session(sid)
