"""Signing sessions: the leader (the enclave whose relayer asks) gathers t FROST signatures shares; every member's
enclave verifies the batch independently before it commits to anything.

    leader                                   member (every committee member, the leader's own enclave included)
    sign.request {attempt 0, key, request, messages}  ->  verifier.check(request, messages)
                                             <-  sign.commit {attempt, D, E}    or  sign.refuse {code, reason}
    picks t committers (itself first, then by arrival)
    sign.round2 {attempt, commitment list}   ->  z = FROST sign (nonces of that attempt, consumed)
                                             <-  sign.share {attempt, z}
    aggregate with the verification shares: the signature is verified; a bad share names its member, who is
    dropped, and a new attempt asks everyone left for fresh commitments (spent nonces are never reused). A share
    that does not decode or is not below the group order drops its sender on receipt; a dropped signer is not
    waited for, so the new attempt starts at once
    sign.done                                ->  members forget the session

Retransmission: the leader re-issues `sign.request` / `sign.round2` (new envelopes) to members that have not
answered; a member answers a repeated request with the very bytes it sent before (peers drop duplicates), so a
lost message costs one retransmit interval. A member binds the session to the first request's content: another
payload under the same session id is refused, and a commitment list that does not carry its own commitment for
that attempt is not signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from bridge.enclave_api import KeyName, SigningRequestModel
from bridge.messages import BridgeMessage
from enclave_signer.committee.channel import NotAdmittedError, Received, Sent
from enclave_signer.committee.messages import (
    CommitmentModel,
    Done,
    PayloadError,
    Refusal,
    SignCommit,
    SignRequest,
    SignRound2,
    SignShare,
    decode,
    encode,
)
from enclave_signer.committee.sessions.common import (
    SUITES,
    Services,
    SessionRefusedError,
    SessionUnavailableError,
    Signal,
    new_session_id,
    short,
)
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.frost.errors import FrostError, InvalidSignatureError, InvalidSignatureShareError
from enclave_signer.frost.signing import aggregate, commit, sign, verify_signature_share
from enclave_signer.frost.types import Signature, SigningCommitment, SigningNonces
from enclave_signer.keystore import EpochKeys

__all__ = ["SignOutcome", "SigningLeader", "SigningParticipant"]

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SignOutcome:
    signature: Signature
    signers: tuple[int, ...]
    session_id: bytes
    attempts: int


class SigningLeader:
    def __init__(
        self,
        svc: Services,
        keys: EpochKeys,
        *,
        key: KeyName,
        request: SigningRequestModel,
        messages: Sequence[BridgeMessage],
        timeout: float,
    ) -> None:
        self.svc = svc
        self.session_id = new_session_id()
        self._keys = keys
        self._key = key
        self._suite = SUITES[key]
        self._request = request
        self._messages = tuple(messages)
        self._timeout = timeout
        self._record = keys.record
        self._members = keys.record.member_ids
        self._t = keys.record.threshold
        self._commits: dict[int, dict[int, SigningCommitment]] = {}  # attempt -> member -> commitment, by arrival
        self._shares: dict[int, dict[int, int]] = {}
        self._refused: dict[int, Refusal] = {}
        self._excluded: dict[int, str] = {}  # provably bad values
        self._signal = Signal()
        self._bodies: dict[int, bytes] = {}
        self._log = _log.bind(session_id=short(self.session_id), member_id=svc.member_id, kind="sign", key=key)

    # ---- inbound --------------------------------------------------------------------------------------------------

    def on_message(self, msg: Received) -> None:
        sender = msg.sender
        if sender not in self._members:
            return
        try:
            if msg.kind == "sign.commit":
                c = decode(SignCommit, msg.payload, kind=msg.kind)
                g = self._suite.group
                g.deserialize_element(c.hiding)
                g.deserialize_element(c.binding)
                self._commits.setdefault(c.attempt, {}).setdefault(
                    sender, SigningCommitment(sender, c.hiding, c.binding)
                )
            elif msg.kind == "sign.refuse":
                r = decode(Refusal, msg.payload, kind=msg.kind)
                if sender not in self._refused:
                    self._refused[sender] = r
                    self.svc.metrics.refusals.labels("sign", r.code).inc()
                    self._log.warning("member_refused", member=sender, code=r.code, reason=r.reason)
            elif msg.kind == "sign.share":
                s = decode(SignShare, msg.payload, kind=msg.kind)
                if s.z >= self._suite.group.order:
                    # Not a scalar of the suite: no honest member sends it (FROST reduces z mod n). Dropped like a
                    # share that fails verification, and never stored, so it cannot fail a whole aggregation.
                    self._exclude(sender, "bad_share", "signature share out of range")
                else:
                    self._shares.setdefault(s.attempt, {}).setdefault(sender, s.z)
        except (PayloadError, FrostError) as exc:
            self._exclude(sender, "malformed", f"malformed {msg.kind}: {exc}")
        self._signal.notify()

    # ---- the session ----------------------------------------------------------------------------------------------

    async def run(self) -> SignOutcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._timeout
        ch = self.svc.channel
        ch.open_session(self.session_id)
        outcome = "error"
        self._log.info("signing_started", messages=len(self._messages), timeout=self._timeout)
        try:
            result = await self._attempts(deadline)
            outcome = "signed"
            self._log.info(
                "signing_done",
                signers=list(result.signers),
                attempts=result.attempts,
                ms=round((loop.time() - started) * 1e3, 1),
            )
            return result
        except SessionRefusedError as exc:
            outcome = "refused"
            self._log.warning("signing_refused", reasons={str(k): v for k, v in exc.reasons.items()})
            raise
        except SessionUnavailableError as exc:
            outcome = "unavailable"
            self._log.warning("signing_unavailable", error=str(exc))
            raise
        finally:
            self.svc.metrics.sessions.labels("sign", "leader", outcome).inc()
            self.svc.metrics.session_seconds.labels("sign").observe(loop.time() - started)
            with contextlib.suppress(NotAdmittedError):
                await ch.broadcast(self._record.epoch, self.session_id, "sign.done", encode(Done()))
            ch.close_session(self.session_id)

    async def _attempts(self, deadline: float) -> SignOutcome:
        loop = asyncio.get_running_loop()
        for attempt in range(self.svc.settings.max_attempts):
            outcome = await self._attempt(attempt, deadline)
            if outcome is not None:
                return outcome
            if loop.time() >= deadline:
                raise self._unavailable_error(attempt)
            self._log.info("signing_retry", attempt=attempt + 1, excluded=sorted(self._excluded))
        raise SessionUnavailableError(f"no signature after {self.svc.settings.max_attempts} attempts")

    async def _attempt(self, attempt: int, deadline: float) -> SignOutcome | None:
        """One round of fresh commitments and shares; None when a signer was silent or sent a bad share."""
        loop = asyncio.get_running_loop()
        settings = self.svc.settings
        if len(self._candidates()) < self._t:
            raise self._refused_error()
        await self._ask(attempt, initial=True)
        enough = await self._signal.wait_until(
            lambda: len(self._committed(attempt)) >= self._t or self._impossible(),
            deadline,
            tick=settings.retransmit_interval,
            on_tick=lambda: self._ask(attempt, initial=False),
        )
        if self._impossible():
            raise self._refused_error()
        if not enough:
            raise self._unavailable_error(attempt)
        chosen = self._choose(attempt)
        commitments = [self._commits[attempt][m] for m in chosen]
        listed = tuple(CommitmentModel(member=c.identifier, hiding=c.hiding, binding=c.binding) for c in commitments)
        body = encode(SignRound2(attempt=attempt, commitments=listed))
        await self._send_round2(chosen, body, everyone=True, attempt=attempt)

        def silent() -> list[int]:
            # A member dropped meanwhile (bad or malformed share) is not waited for: the attempt ends at once.
            got = self._shares.get(attempt, {})
            return [m for m in chosen if m not in got and m not in self._refused and m not in self._excluded]

        # Wait for the shares. A chosen signer that is merely slow (its heartbeats still arrive) is waited for:
        # retrying would burn everyone's nonces and add load. One that stopped (no heartbeat within the timeout)
        # is given up on after `round_timeout`, and a new attempt goes ahead without it.
        while True:
            await self._signal.wait_until(
                lambda: not silent(),
                min(deadline, loop.time() + settings.round_timeout),
                tick=settings.retransmit_interval,
                on_tick=lambda: self._send_round2(chosen, body, everyone=False, attempt=attempt),
            )
            late = silent()
            if not late or loop.time() >= deadline or not all(self.svc.liveness.is_up(m) for m in late):
                break
        if late and loop.time() >= deadline:
            raise SessionUnavailableError(
                f"chosen signers {late} did not send their shares within {self._timeout:.1f}s (attempt {attempt + 1})"
            )
        signature = self._combine(attempt, chosen, commitments)
        if signature is None:
            return None
        return SignOutcome(signature, tuple(chosen), self.session_id, attempt + 1)

    def _candidates(self) -> list[int]:
        return [m for m in self._members if m not in self._refused and m not in self._excluded]

    def _committed(self, attempt: int) -> list[int]:
        got = self._commits.get(attempt, {})
        return [m for m in got if m not in self._refused and m not in self._excluded]

    def _impossible(self) -> bool:
        return len(self._candidates()) < self._t

    def _choose(self, attempt: int) -> list[int]:
        committed = self._committed(attempt)
        me = self.svc.member_id
        ordered = ([me] if me in committed else []) + [m for m in committed if m != me]
        return sorted(ordered[: self._t])

    async def _ask(self, attempt: int, *, initial: bool) -> None:
        body = self._bodies.get(attempt)
        if body is None:
            msg = SignRequest(attempt=attempt, key=self._key, request=self._request, messages=self._messages)
            body = self._bodies[attempt] = encode(msg)
        ch, epoch = self.svc.channel, self._record.epoch
        if initial and attempt == 0:
            await ch.broadcast(epoch, self.session_id, "sign.request", body)
            return
        answered = self._commits.get(attempt, {})
        targets = [m for m in self._candidates() if m not in answered]
        if not initial:
            if not targets:
                return
            self.svc.metrics.retransmissions.labels("sign.request").inc()
            self._log.debug("sign_request_resent", attempt=attempt, to=targets)
        for m in targets:
            await ch.send(epoch, m, self.session_id, "sign.request", body)

    async def _send_round2(self, chosen: list[int], body: bytes, *, everyone: bool, attempt: int) -> None:
        done = self._shares.get(attempt, {})
        targets = [
            m for m in chosen if everyone or (m not in done and m not in self._refused and m not in self._excluded)
        ]
        if not everyone and targets:
            self.svc.metrics.retransmissions.labels("sign.round2").inc()
        for m in targets:
            await self.svc.channel.send(self._record.epoch, m, self.session_id, "sign.round2", body)

    def _combine(self, attempt: int, chosen: list[int], commitments: list[SigningCommitment]) -> Signature | None:
        got = self._shares.get(attempt, {})
        shares = {m: got[m] for m in chosen if m in got}
        verifying = self._record.verifying_shares[self._key]
        group_pk = self._record.group_keys.get(self._key)
        payload = self._request.payload
        if len(shares) < len(chosen):
            silent = [m for m in chosen if m not in shares and m not in self._excluded]
            if silent:
                self._log.warning("signers_silent", attempt=attempt, members=silent)
            for m, z in shares.items():  # still drop any provably bad share now
                try:
                    ok = verify_signature_share(self._suite, m, verifying[m], z, commitments, group_pk, payload)
                except FrostError:  # e.g. z out of range: that member's fault, not the session's
                    ok = False
                if not ok:
                    self._exclude(m, "bad_share", "invalid signature share")
            return None
        try:
            return aggregate(self._suite, commitments, payload, group_pk, shares, verifying)
        except InvalidSignatureShareError as exc:
            for m in exc.identifiers:
                self._exclude(m, "bad_share", "invalid signature share")
            return None
        except InvalidSignatureError:
            raise SessionUnavailableError(
                "signature shares verify but do not add up: members hold inconsistent key shares"
            ) from None
        except FrostError as exc:
            raise SessionUnavailableError(f"aggregation failed: {type(exc).__name__}") from None

    def _exclude(self, member: int, what: str, reason: str) -> None:
        if member in self._excluded:
            return
        self._excluded[member] = reason
        self.svc.metrics.misbehaviour.labels("sign", what).inc()
        self._log.warning("member_dropped", member=member, what=what, reason=reason)

    def _refused_error(self) -> SessionRefusedError:
        reasons = {m: f"{r.code}: {r.reason}" for m, r in self._refused.items()}
        reasons.update(self._excluded)
        first = next(iter(reasons.values()), "")
        n, t = len(self._members), self._t
        return SessionRefusedError(
            f"{len(reasons)} of {n} members refused or were dropped; {t} needed ({first})", reasons
        )

    def _unavailable_error(self, attempt: int) -> SessionUnavailableError:
        got = len(self._committed(attempt))
        return SessionUnavailableError(
            f"{got} of {self._t} members answered within {self._timeout:.1f}s (attempt {attempt + 1})",
            {m: f"{r.code}: {r.reason}" for m, r in self._refused.items()},
        )


@dataclass
class _MemberSession:
    leader: int
    epoch: int
    digest: bytes
    key: KeyName
    payload: bytes
    expires: float
    status: str = "checking"  # checking | approved | refused
    refusal: Sent | None = None
    pending: set[int] = field(default_factory=set)
    nonces: dict[int, SigningNonces] = field(default_factory=dict, repr=False)
    commits: dict[int, Sent] = field(default_factory=dict)
    shares: dict[int, Sent] = field(default_factory=dict)


class SigningParticipant:
    """The member side of every signing session on this node."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._sessions: dict[bytes, _MemberSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def holds(self, session_id: bytes) -> bool:
        """Whether this handler keeps the session (the node drops a session no handler took)."""
        return session_id in self._sessions

    async def on_message(self, msg: Received) -> None:
        try:
            if msg.kind == "sign.request":
                await self._on_request(msg, decode(SignRequest, msg.payload, kind=msg.kind))
            elif msg.kind == "sign.round2":
                await self._on_round2(msg, decode(SignRound2, msg.payload, kind=msg.kind))
            elif msg.kind == "sign.done":
                self._close(msg.session_id, leader=msg.sender)
        except PayloadError as exc:
            _log.warning("payload_rejected", session_id=short(msg.session_id), sender=msg.sender, error=str(exc))

    def sweep(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if s.expires <= now]:
            self._close(sid, leader=None)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    def _keys_for(self, epoch: int) -> EpochKeys | None:
        keys = self.svc.keys
        if keys is None or keys.epoch != epoch or self.svc.member_id not in keys.record.member_ids:
            return None
        return keys

    async def _on_request(self, msg: Received, req: SignRequest) -> None:
        sid = msg.session_id
        s = self._sessions.get(sid)
        if s is None:
            keys = self._keys_for(msg.epoch)
            if keys is None or msg.sender not in keys.record.member_ids:
                return  # not a signer of this epoch, or a leader outside it: say nothing
            digest = hashlib.sha256(encode(req.model_copy(update={"attempt": 0}))).digest()
            # What this leader proposed, refused or not: evidence against passing messages over (omission.py).
            self.svc.omission.proposed(msg.sender, req.messages)
            now = asyncio.get_running_loop().time()
            s = _MemberSession(
                msg.sender, msg.epoch, digest, req.key, req.request.payload, now + self.svc.settings.member_session_ttl
            )
            s.pending.add(req.attempt)
            self._sessions[sid] = s
            task = asyncio.create_task(self._check(sid, s, req), name=f"sign-check-{short(sid)}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        digest = hashlib.sha256(encode(req.model_copy(update={"attempt": 0}))).digest()
        if msg.sender != s.leader or digest != s.digest:
            self.svc.metrics.misbehaviour.labels("sign", "conflicting_request").inc()
            _log.warning("conflicting_sign_request", session_id=short(sid), sender=msg.sender, leader=s.leader)
            return
        if s.status == "refused" and s.refusal is not None:
            await self.svc.channel.resend(s.refusal)
        elif s.status == "approved":
            await self._answer(sid, s, req.attempt)
        else:
            s.pending.add(req.attempt)

    async def _check(self, sid: bytes, s: _MemberSession, req: SignRequest) -> None:
        log = _log.bind(session_id=short(sid), member_id=self.svc.member_id, kind="sign", leader=s.leader)
        refusal: Refusal | None = None
        try:
            async with asyncio.timeout(self.svc.settings.verify_timeout):
                await self.svc.verifier.check(req.request.to_port(), req.messages)
        except SigningRefusal as exc:
            refusal = Refusal(code=exc.code[:40], reason=exc.reason[:500])
        except TimeoutError:
            refusal = Refusal(code="verify_timeout", reason="independent verification did not finish in time")
        except Exception as exc:
            log.exception("verifier_failed")
            refusal = Refusal(code="verifier_error", reason=f"verifier failed: {type(exc).__name__}")
        if refusal is not None:
            # Logged even when the session closed meanwhile (the leader had t signatures without this member): a
            # member that disagrees with a signed batch is what its operator most needs to see.
            log.warning("refusing_to_sign", code=refusal.code, reason=refusal.reason, late=sid not in self._sessions)
            self.svc.metrics.sessions.labels("sign", "member", "refused").inc()
            self.svc.distrust.refused(s.leader, refusal.code)  # counts only content codes (distrust.py)
        if sid not in self._sessions:
            return  # closed meanwhile
        if refusal is not None:
            s.status = "refused"
            s.refusal = await self._send(s, sid, "sign.refuse", encode(refusal))
            return
        s.status = "approved"
        self.svc.metrics.sessions.labels("sign", "member", "approved").inc()
        for attempt in sorted(s.pending):
            await self._answer(sid, s, attempt)
        s.pending.clear()

    async def _answer(self, sid: bytes, s: _MemberSession, attempt: int) -> None:
        cached = s.commits.get(attempt)
        if cached is not None:
            await self.svc.channel.resend(cached)
            return
        if len(s.commits) >= self.svc.settings.max_attempts:
            return
        keys = self._keys_for(s.epoch)
        if keys is None:
            return
        nonces, comm = commit(SUITES[s.key], keys.share(s.key))
        s.nonces[attempt] = nonces
        body = encode(SignCommit(attempt=attempt, hiding=comm.hiding, binding=comm.binding))
        s.commits[attempt] = await self._send(s, sid, "sign.commit", body)

    async def _on_round2(self, msg: Received, r2: SignRound2) -> None:
        sid = msg.session_id
        s = self._sessions.get(sid)
        if s is None or s.status != "approved" or msg.sender != s.leader:
            return
        cached = s.shares.get(r2.attempt)
        if cached is not None:
            await self.svc.channel.resend(cached)
            return
        nonces = s.nonces.get(r2.attempt)
        keys = self._keys_for(s.epoch)
        if nonces is None or nonces.used or keys is None:
            return
        commitments = [SigningCommitment(c.member, c.hiding, c.binding) for c in r2.commitments]
        try:
            z = sign(SUITES[s.key], keys.share(s.key), nonces, s.payload, commitments)
        except FrostError as exc:
            _log.warning("round2_refused", session_id=short(sid), leader=s.leader, error=str(exc))
            return
        body = encode(SignShare(attempt=r2.attempt, z=self._share_value(SUITES[s.key].group.order, z)))
        s.shares[r2.attempt] = await self._send(s, sid, "sign.share", body)

    def _share_value(self, order: int, z: int) -> int:
        """The share as sent (tests override this to play a member that sends bad shares)."""
        return z

    async def _send(self, s: _MemberSession, sid: bytes, kind: str, body: bytes) -> Sent:
        return await self.svc.channel.send(s.epoch, s.leader, sid, kind, body)

    def _close(self, sid: bytes, *, leader: int | None) -> None:
        s = self._sessions.get(sid)
        if s is None or (leader is not None and leader != s.leader):
            return
        del self._sessions[sid]
        if leader is not None or s.leader != self.svc.member_id:
            self.svc.channel.close_session(sid)
