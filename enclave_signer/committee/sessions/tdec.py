"""Threshold-decryption sessions: a requester gets t decryption shares of a ciphertext under the committee's
encryption key, each with its DLEQ proof, each sealed to the requester (the leader and the broker see neither).

    leader -> all        tdec.request {ciphertext, requester X25519 key}   (re-issued to silent members)
    member -> leader     tdec.share {sealed box}    or  tdec.refuse {code, reason}
    leader -> all        tdec.done

Each member asks its `DecryptionVerifier` first (what may be decrypted for whom is the confidential-call issue's
policy; the default refuses). The sealed plaintext binds the session id and the member id, so a share cannot be
presented as another member's or another session's.

Bad shares: when the requester is the leading enclave itself (its identity's X25519 key: the confidential engine's
state key and calls), the leader opens each share as it arrives and checks its DLEQ proof against the member's
verification share; a share that does not open, names another member or fails its proof drops that member (logged
`decryption_share_rejected`, counted in `misbehaviour{kind="tdec", what="bad_share"}`) and the session keeps
collecting from the others until it holds t valid shares or the deadline passes, so one bad member cannot block
decryption. For another requester the leader cannot open the boxes: the requester checks the shares itself
(`open_decryption_share`, `enclave_signer.tdec.verify_decryption_share`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.public
import structlog

from enclave_signer.committee.channel import NotAdmittedError, Received, Sent
from enclave_signer.committee.messages import Done, PayloadError, Refusal, TdecRequest, TdecShare, decode, encode
from enclave_signer.committee.sessions.common import (
    Services,
    SessionRefusedError,
    SessionUnavailableError,
    Signal,
    new_session_id,
    short,
)
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import FrostError
from enclave_signer.keystore import EpochKeys
from enclave_signer.tdec.dleq import DleqProof
from enclave_signer.tdec.ecies import Ciphertext
from enclave_signer.tdec.threshold import DecryptionShare, decryption_share, verify_decryption_share

__all__ = [
    "DecryptionOutcome",
    "TdecLeader",
    "TdecParticipant",
    "open_decryption_share",
    "parse_decryption_share",
    "seal_decryption_share",
]

_log = structlog.get_logger(__name__)
_DOMAIN = b"phala-bridge/committee/tdec-share/v1\x00"
_G = ED25519.group


def seal_decryption_share(share: DecryptionShare, session_id: bytes, requester_public_key: bytes) -> bytes:
    body = (
        _DOMAIN
        + session_id
        + share.identifier.to_bytes(2, "big")
        + share.d
        + _G.serialize_scalar(share.proof.c)
        + _G.serialize_scalar(share.proof.z)
    )
    return nacl.public.SealedBox(nacl.public.PublicKey(requester_public_key)).encrypt(body)


def open_decryption_share(sealed: bytes, requester: nacl.public.PrivateKey, session_id: bytes) -> DecryptionShare:
    """The requester's side: open one sealed share (raises ValueError if it is not for this requester and session).
    Check it with `enclave_signer.tdec.verify_decryption_share` against the member's verification share."""
    try:
        body = nacl.public.SealedBox(requester).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        raise ValueError("the share is not sealed to this requester") from None
    return parse_decryption_share(body, session_id)


def parse_decryption_share(body: bytes, session_id: bytes) -> DecryptionShare:
    """An opened share (e.g. by `IdentityKey.open_sealed_box`); ValueError if it belongs to another session."""
    n = len(_DOMAIN)
    if len(body) != n + 32 + 2 + 32 + 64 or body[:n] != _DOMAIN or body[n : n + 32] != session_id:
        raise ValueError("the share belongs to another session")
    rest = body[n + 32 :]
    member = int.from_bytes(rest[:2], "big")
    c, z = _G.deserialize_scalar(rest[34:66]), _G.deserialize_scalar(rest[66:98])
    return DecryptionShare(member, rest[2:34], DleqProof(c, z))


@dataclass(frozen=True)
class DecryptionOutcome:
    session_id: bytes
    shares: dict[int, bytes]  # member id -> sealed share


class TdecLeader:
    def __init__(
        self,
        svc: Services,
        keys: EpochKeys,
        *,
        ciphertext: bytes,
        requester_public_key: bytes,
        timeout: float,
        opener: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """`opener` opens a sealed share (the requester's X25519 secret): the node passes its identity's when the
        requester is this enclave. With one, every share is checked on arrival (module docstring)."""
        self.svc = svc
        self.session_id = new_session_id()
        self._record = keys.record
        self._body = encode(TdecRequest(ciphertext=ciphertext, requester_public_key=requester_public_key))
        self._timeout = timeout
        self._shares: dict[int, bytes] = {}
        self._refused: dict[int, Refusal] = {}
        self._excluded: dict[int, str] = {}  # members whose share provably fails
        self._signal = Signal()
        self._log = _log.bind(session_id=short(self.session_id), member_id=svc.member_id, kind="tdec")
        self._open = opener
        self._ciphertext: Ciphertext | None = None
        if self._open is not None:
            try:
                self._ciphertext = Ciphertext.from_bytes(ciphertext)
            except (FrostError, ValueError):
                self._open = None  # every member refuses such a request (bad_request): nothing to check

    def on_message(self, msg: Received) -> None:
        if msg.sender not in self._record.member_ids:
            return
        try:
            if msg.kind == "tdec.share":
                sealed = decode(TdecShare, msg.payload, kind=msg.kind).sealed
                if msg.sender not in self._shares and msg.sender not in self._excluded:
                    reason = self._check(msg.sender, sealed)
                    if reason is None:
                        self._shares[msg.sender] = sealed
                    else:
                        self._exclude(msg.sender, reason)
            elif msg.kind == "tdec.refuse" and msg.sender not in self._refused:
                r = decode(Refusal, msg.payload, kind=msg.kind)
                self._refused[msg.sender] = r
                self.svc.metrics.refusals.labels("tdec", r.code).inc()
                self._log.warning("member_refused", member=msg.sender, code=r.code, reason=r.reason)
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=msg.sender, error=str(exc))
        self._signal.notify()

    def _check(self, member: int, sealed: bytes) -> str | None:
        """Why `member`'s sealed share is unusable, or None (also None when this leader cannot check: see above)."""
        if self._open is None or self._ciphertext is None:
            return None
        try:
            share = parse_decryption_share(self._open(sealed), self.session_id)
        except (nacl.exceptions.CryptoError, FrostError, ValueError) as exc:
            return f"share does not open: {type(exc).__name__}"
        if share.identifier != member:
            return f"share names member {share.identifier}"
        verifying = self._record.verifying_shares["encryption"].get(member)
        if verifying is None:
            return "no verification share registered"
        try:
            ok = verify_decryption_share(verifying, self._ciphertext, share)
        except (FrostError, ValueError) as exc:
            return f"share does not verify: {type(exc).__name__}"
        return None if ok else "DLEQ proof fails"

    def _exclude(self, member: int, reason: str) -> None:
        self._excluded[member] = reason
        self.svc.metrics.misbehaviour.labels("tdec", "bad_share").inc()
        self._log.warning("decryption_share_rejected", member=member, reason=reason)

    async def run(self) -> DecryptionOutcome:
        loop = asyncio.get_running_loop()
        t, members = self._record.threshold, self._record.member_ids
        ch, epoch = self.svc.channel, self._record.epoch
        ch.open_session(self.session_id)
        outcome = "error"
        try:
            await ch.broadcast(epoch, self.session_id, "tdec.request", self._body)

            def impossible() -> bool:
                return len(set(members) - self._refused.keys() - self._excluded.keys()) < t

            got = await self._signal.wait_until(
                lambda: len(self._shares) >= t or impossible(),
                loop.time() + self._timeout,
                tick=self.svc.settings.retransmit_interval,
                on_tick=self._resend,
            )
            if len(self._shares) < t:
                reasons = {m: f"{r.code}: {r.reason}" for m, r in self._refused.items()}
                reasons.update({m: f"bad_share: {why}" for m, why in self._excluded.items()})
                if impossible():
                    outcome = "refused"
                    raise SessionRefusedError(
                        f"{len(reasons)} of {len(members)} members refused or sent bad shares", reasons
                    )
                outcome = "unavailable"
                raise SessionUnavailableError(f"{len(self._shares)} of {t} members answered in time", reasons)
            assert got
            outcome = "ok"
            chosen = sorted(self._shares)[:t]
            return DecryptionOutcome(self.session_id, {m: self._shares[m] for m in chosen})
        finally:
            self.svc.metrics.sessions.labels("tdec", "leader", outcome).inc()
            with contextlib.suppress(NotAdmittedError):
                await ch.broadcast(epoch, self.session_id, "tdec.done", encode(Done()))
            ch.close_session(self.session_id)

    async def _resend(self) -> None:
        silent = [
            m
            for m in self._record.member_ids
            if m not in self._shares and m not in self._refused and m not in self._excluded
        ]
        if silent:
            self.svc.metrics.retransmissions.labels("tdec.request").inc()
        for m in silent:
            await self.svc.channel.send(self._record.epoch, m, self.session_id, "tdec.request", self._body)


@dataclass
class _Member:
    leader: int
    epoch: int
    body: bytes = field(repr=False)
    expires: float
    reply: Sent | None = None


class TdecParticipant:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._sessions: dict[bytes, _Member] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def holds(self, session_id: bytes) -> bool:
        """Whether this handler keeps the session (the node drops a session no handler took)."""
        return session_id in self._sessions

    async def on_message(self, msg: Received) -> None:
        sid = msg.session_id
        s = self._sessions.get(sid)
        if msg.kind == "tdec.done":
            if s is not None and msg.sender == s.leader:
                del self._sessions[sid]
                if s.leader != self.svc.member_id:
                    self.svc.channel.close_session(sid)
            return
        if msg.kind != "tdec.request":
            return
        if s is not None:
            if msg.sender == s.leader and msg.payload == s.body and s.reply is not None:
                await self.svc.channel.resend(s.reply)
            return
        keys = self.svc.keys
        if keys is None or keys.epoch != msg.epoch or self.svc.member_id not in keys.record.member_ids:
            return
        if msg.sender not in keys.record.member_ids:
            return
        try:
            req = decode(TdecRequest, msg.payload, kind=msg.kind)
        except PayloadError as exc:
            _log.warning("payload_rejected", session_id=short(sid), sender=msg.sender, error=str(exc))
            return
        s = _Member(msg.sender, msg.epoch, msg.payload, asyncio.get_running_loop().time() + 120)
        self._sessions[sid] = s
        task = asyncio.create_task(self._answer(sid, s, req, keys), name=f"tdec-{short(sid)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, sid: bytes, s: _Member, req: TdecRequest, keys: EpochKeys) -> None:
        kind, body = "tdec.share", b""
        try:
            async with asyncio.timeout(self.svc.settings.verify_timeout):
                await self.svc.decryption_verifier.check_decryption(req.ciphertext, req.requester_public_key)
            ct = Ciphertext.from_bytes(req.ciphertext)
            share = decryption_share(keys.share("encryption"), ct)
            body = encode(TdecShare(sealed=seal_decryption_share(share, sid, req.requester_public_key)))
        except SigningRefusal as exc:
            kind, body = "tdec.refuse", encode(Refusal(code=exc.code[:40], reason=exc.reason[:500]))
            _log.warning("refusing_decryption", session_id=short(sid), requester=s.leader, code=exc.code)
            self.svc.distrust.refused(s.leader, exc.code)  # counts only content codes (distrust.py)
        except (FrostError, ValueError, nacl.exceptions.CryptoError, TimeoutError) as exc:
            kind, body = "tdec.refuse", encode(Refusal(code="bad_request", reason=type(exc).__name__))
        self.svc.metrics.sessions.labels("tdec", "member", "ok" if kind == "tdec.share" else "refused").inc()
        if sid in self._sessions:
            s.reply = await self.svc.channel.send(s.epoch, s.leader, sid, kind, body)

    def sweep(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if s.expires <= now]:
            s = self._sessions.pop(sid)
            if s.leader != self.svc.member_id:
                self.svc.channel.close_session(sid)
