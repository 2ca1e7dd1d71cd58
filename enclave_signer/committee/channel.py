"""This member's end of the committee channel: per-epoch rosters built from the attested directory, signing and
verifying envelopes, publishing them, and delivering our own messages to ourselves (a leader is also a member).

Every envelope that leaves is signed (and, when secret, encrypted to its recipient); every envelope that arrives goes
through `EnvelopeVerifier.open` for its epoch (signature, committee, session, freshness, replay). Rejections are
counted by reason. A message to ourselves never touches the broker: it goes straight to the local queue.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from enclave_signer.attestation.errors import AttestationError
from enclave_signer.attestation.roster import Member, Roster
from enclave_signer.committee.admission import Directory
from enclave_signer.committee.envelope import Envelope, EnvelopeSigner, EnvelopeVerifier, disclose_payload_key
from enclave_signer.committee.errors import (
    EnvelopeRejectedError,
    TooManySessionsError,
    TransportError,
    WrongCommitteeError,
)
from enclave_signer.committee.replay import ReplayGuard
from enclave_signer.committee.transport import BROADCAST_TOPIC, Transport, member_topic
from enclave_signer.identity import IdentityKey

__all__ = ["Channel", "NotAdmittedError", "Received", "Sent"]

_log = structlog.get_logger(__name__)


class NotAdmittedError(RuntimeError):
    """This enclave is not on its own roster (its quote did not verify here), so it cannot sign envelopes."""


@dataclass(frozen=True)
class Received:
    """An accepted message: authenticated envelope (or our own, delivered locally), its payload decrypted."""

    sender: int
    kind: str
    session_id: bytes
    epoch: int
    payload: bytes = field(repr=False)
    envelope: Envelope | None = None  # None for a local delivery
    raw: bytes | None = field(default=None, repr=False)

    @property
    def local(self) -> bool:
        return self.envelope is None


@dataclass(frozen=True)
class Sent:
    """What we published (kept to send again: the same bytes, which peers that already have them drop)."""

    topic: str
    raw: bytes = field(repr=False)
    local: bool = False


@dataclass
class _Epoch:
    roster: Roster
    verifier: EnvelopeVerifier
    signer: EnvelopeSigner | None


class Channel:
    def __init__(
        self,
        *,
        committee_id: str,
        member_id: int,
        identity: IdentityKey,
        directory: Directory,
        transport: Transport,
        replay: ReplayGuard,
        session_opener: Callable[[Envelope], bool],
    ) -> None:
        self.committee_id = committee_id
        self.member_id = member_id
        self._identity = identity
        self.directory = directory
        self._transport = transport
        self.replay = replay
        self._opener = session_opener
        self._epochs: dict[int, _Epoch] = {}
        self.local: asyncio.Queue[Received] = asyncio.Queue()
        self.rejections: Counter[str] = Counter()
        directory.listeners.append(self._on_admitted)

    # ---- epochs ---------------------------------------------------------------------------------------------------

    def ensure_epoch(self, epoch: int) -> None:
        if epoch in self._epochs:
            return
        roster = self.directory.roster(epoch)
        verifier = EnvelopeVerifier(self._identity, roster, self.member_id, self.replay, session_opener=self._opener)
        self._epochs[epoch] = _Epoch(roster, verifier, self._make_signer(roster))

    def retain_epochs(self, keep: Iterable[int]) -> None:
        wanted = set(keep)
        for epoch in wanted:
            self.ensure_epoch(epoch)
        for epoch in [e for e in self._epochs if e not in wanted]:
            del self._epochs[epoch]

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(sorted(self._epochs))

    def roster(self, epoch: int) -> Roster:
        return self._epochs[epoch].roster

    def can_sign(self, epoch: int) -> bool:
        entry = self._epochs.get(epoch)
        return entry is not None and entry.signer is not None

    def _make_signer(self, roster: Roster) -> EnvelopeSigner | None:
        me = roster.get(self.member_id)
        if me is None or me.identity_public_key != self._identity.public_key:
            return None
        return EnvelopeSigner(self._identity, roster, self.member_id)

    def _on_admitted(self, member: Member) -> None:
        for entry in self._epochs.values():
            try:
                self.directory.admit_into(entry.roster, member.member_id)
            except AttestationError as exc:  # pragma: no cover - the directory enforces the same rules
                _log.error("roster_admission_failed", member_id=member.member_id, error=str(exc))
                continue
            if member.member_id == self.member_id and entry.signer is None:
                entry.signer = self._make_signer(entry.roster)

    # ---- sending --------------------------------------------------------------------------------------------------

    def _signer(self, epoch: int) -> EnvelopeSigner:
        self.ensure_epoch(epoch)
        signer = self._epochs[epoch].signer
        if signer is None:
            raise NotAdmittedError(f"member {self.member_id} is not admitted (its own quote did not verify)")
        return signer

    async def broadcast(self, epoch: int, session_id: bytes, kind: str, payload: bytes) -> Sent:
        raw = self._signer(epoch).broadcast(session_id=session_id, kind=kind, payload=payload)
        await self._publish(BROADCAST_TOPIC, raw)
        self.local.put_nowait(Received(self.member_id, kind, session_id, epoch, payload))
        return Sent(BROADCAST_TOPIC, raw)

    async def send(
        self, epoch: int, to: int, session_id: bytes, kind: str, payload: bytes, *, encrypt: bool = False
    ) -> Sent:
        if to == self.member_id:
            self.local.put_nowait(Received(self.member_id, kind, session_id, epoch, payload))
            return Sent("", b"", local=True)
        raw = self._signer(epoch).send_to(to, session_id=session_id, kind=kind, payload=payload, encrypt=encrypt)
        topic = member_topic(to)
        await self._publish(topic, raw)
        return Sent(topic, raw)

    async def resend(self, sent: Sent) -> None:
        if not sent.local:
            await self._publish(sent.topic, sent.raw)

    async def _publish(self, topic: str, raw: bytes) -> None:
        try:
            await self._transport.publish(topic, raw)
        except TransportError as exc:
            # Sessions retransmit; a message that could not even be queued is just one more loss.
            _log.warning("publish_failed", topic=topic, error=str(exc))

    # ---- receiving ------------------------------------------------------------------------------------------------

    def open(self, raw: bytes) -> Received:
        """Verify an incoming envelope (raises `EnvelopeRejectedError`, counted by reason)."""
        try:
            env = Envelope.from_bytes(raw)
            entry = self._epochs.get(env.epoch)
            if entry is None or env.committee_id != self.committee_id:
                raise WrongCommitteeError(f"envelope for committee {env.committee_id}/{env.epoch}")
            inbound = entry.verifier.open(raw)
        except EnvelopeRejectedError as exc:
            self.rejections[exc.reason] += 1
            raise
        except TooManySessionsError as exc:  # pragma: no cover - the opener converts it
            self.rejections["unknown_session"] += 1
            raise WrongCommitteeError(str(exc)) from None
        e = inbound.envelope
        return Received(e.sender, e.kind, e.session_id, e.epoch, inbound.payload, e, bytes(raw))

    def disclose_key(self, env: Envelope) -> bytes:
        """The payload key of an encrypted envelope addressed to us (DKG complaint evidence)."""
        return disclose_payload_key(env, self._identity)

    def open_session(self, session_id: bytes) -> None:
        self.replay.open_session(session_id)

    def close_session(self, session_id: bytes) -> None:
        self.replay.close_session(session_id)
