"""Admission: a member enters this enclave's committee view only with a quote that this enclave verified, over the
member's identity key and a fresh nonce this enclave issued.

No roster exists before admission, so the handshake is not made of envelopes: plain JSON on the `attest` topic.

    challenger A -> all:   AttestChallenge(sender=A, nonce=N, want=[ids A has not admitted])
    candidate  B -> A:     AttestEvidence(sender=B, target=A, quote)   with quote.nonce = H(committee, A, B, N)

The quote is what proves B: the platform root signed (measurement, B's identity key, nonce); the nonce binds the
challenger, the candidate's member id and A's fresh randomness, so a quote cannot be replayed to another challenger,
for another member id, or later. Nothing else in these messages is trusted: a hostile broker can drop them (B is
then not admitted: fail-safe) but cannot get a key admitted. A admits B into its `Directory`, from which the roster
of every epoch is built (`Roster.admit` with a verifier that vouches only for quotes A verified itself).

After a DKG, the committee record pins each member id to its identity key: a restarted member is re-attested with a
fresh quote, and a different key for a pinned id is refused.

Challenges are unauthenticated and each answer costs a quote and a publication, so answers are rationed whoever the
challenge claims to come from: once per `_ANSWER_EVERY` per claimed challenger, and from a token bucket shared by
the challengers this member knows of (expected or admitted) and a small one for those it does not (a member about
to join by resharing). Evidence is admitted only for a member the challenge asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Protocol

import structlog
from pydantic import Field, TypeAdapter, ValidationError

from bridge.enclave_api import CommitteeRecord
from enclave_signer.attestation.errors import AdmissionError, AttestationError, QuoteRejectedError
from enclave_signer.attestation.quote import NONCE_SIZE, Quote
from enclave_signer.attestation.roster import Member, Roster
from enclave_signer.attestation.verifier import QuoteVerifier, VerifiedQuote
from enclave_signer.committee.messages import MAX_MEMBERS, AttestChallenge, AttestEvidence, encode
from enclave_signer.identity import IdentityKey

__all__ = ["ATTEST_TOPIC", "Admission", "Directory", "QuoteSource", "VouchingVerifier", "admission_nonce"]

_log = structlog.get_logger(__name__)

ATTEST_TOPIC = "attest"
MAX_ATTEST_MESSAGE = 160 * 1024
_DOMAIN = b"phala-bridge/committee/admission/v1\x00"
_RECENT_NONCES = 16
_ANSWER_EVERY = 0.2  # seconds: at most one evidence per challenger in this interval
# Evidences answered in all (a quote and a publication each, inline in the transport's read loop): a burst for every
# member of the largest committee challenging at once (a cold start), then a steady rate; challengers repeat every
# attest interval, so one not answered now is answered later.
_ANSWER_BURST = float(MAX_MEMBERS)
_ANSWER_RATE = 8.0  # per second
# Challengers this member does not know of get a bucket of their own: a flood claiming unknown ids cannot use up the
# members', and a member joining by resharing is still answered before the start names it.
_STRANGER_BURST = 4.0
_STRANGER_RATE = 1.0
_DROP_LOG_EVERY = 10.0  # seconds: dropped attest messages are logged as counts, at most this often
_ATTEST_ADAPTER: TypeAdapter[AttestChallenge | AttestEvidence] = TypeAdapter(
    Annotated[AttestChallenge | AttestEvidence, Field(discriminator="type")]  # type: ignore[arg-type,maybe-unrecognized-str-typeform,unused-ignore]
)


class QuoteSource(Protocol):
    """The platform's quoting service (SimulatedPlatform in the devnet; the TEE's quoting enclave for real)."""

    platform_id: str

    def quote(self, *, identity_public_key: bytes, nonce: bytes) -> Quote: ...


def admission_nonce(committee_id: str, challenger: int, candidate: int, nonce: bytes) -> bytes:
    cid = committee_id.encode()
    return hashlib.sha256(
        _DOMAIN + bytes([len(cid)]) + cid + challenger.to_bytes(2, "big") + candidate.to_bytes(2, "big") + nonce
    ).digest()


class VouchingVerifier:
    """A `QuoteVerifier` that accepts exactly the quotes this enclave's real verifier has already verified (by
    digest): how a member admitted once is admitted to the roster of another epoch without a new round trip."""

    def __init__(self, verified: dict[bytes, VerifiedQuote]) -> None:
        self._verified = verified

    def verify(self, quote: Quote, *, expected_nonce: bytes, now_ms: int | None = None) -> VerifiedQuote:
        found = self._verified.get(quote.digest())
        if found is None:
            raise QuoteRejectedError("quote was not verified by this enclave")
        return found


class _TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate, self._burst = rate, burst
        self._tokens, self._at = burst, now

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass(frozen=True)
class _Challenge:
    want: frozenset[int]  # the candidates it asked for
    admitted: set[int]


@dataclass(frozen=True)
class _Admitted:
    member: Member
    quote: Quote


class Directory:
    """The members this enclave has attested (member id -> identity key, quote), and the pins of the record."""

    def __init__(self, committee_id: str, verifier: QuoteVerifier) -> None:
        self.committee_id = committee_id
        self._verifier = verifier
        self._roster = Roster(committee_id, 0)  # uniqueness rules: one key per id, one id per key
        self._admitted: dict[int, _Admitted] = {}
        self._verified: dict[bytes, VerifiedQuote] = {}
        self._pins: dict[int, bytes] = {}
        self.rejections: Counter[str] = Counter()
        self.last_rejection: dict[int, str] = {}
        self.listeners: list[Callable[[Member], None]] = []
        self.changed = asyncio.Event()

    def admit(self, member_id: int, quote: Quote, *, expected_nonce: bytes) -> Member:
        """Verify and admit; raises `QuoteRejectedError` or `AdmissionError` (counted by reason)."""
        try:
            pinned = self._pins.get(member_id)
            if pinned is not None and pinned != quote.identity_public_key:
                raise AdmissionError(f"member {member_id} is pinned to another identity key by the committee record")
            member = self._roster.admit(member_id, quote, self._verifier, expected_nonce=expected_nonce)
        except AttestationError as exc:
            reason = exc.reason if isinstance(exc, QuoteRejectedError) else "admission"
            self.rejections[reason] += 1
            self.last_rejection[member_id] = f"{reason}: {exc}"
            raise
        self._verified[member.quote_digest] = _verified_of(member, quote)
        self._admitted[member_id] = _Admitted(member, quote)
        self.last_rejection.pop(member_id, None)
        for listener in list(self.listeners):
            listener(member)
        self.changed.set()
        return member

    def pin(self, record: CommitteeRecord) -> None:
        """Bind the record's member ids to their identity keys (a later, different key for them is refused)."""
        self._pins.update({m.member_id: m.identity_public_key for m in record.members})

    def get(self, member_id: int) -> Member | None:
        entry = self._admitted.get(member_id)
        return None if entry is None else entry.member

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._admitted

    @property
    def member_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._admitted))

    def admit_into(self, roster: Roster, member_id: int) -> Member:
        entry = self._admitted[member_id]
        return roster.admit(member_id, entry.quote, VouchingVerifier(self._verified), expected_nonce=entry.quote.nonce)

    def roster(self, epoch: int) -> Roster:
        roster = Roster(self.committee_id, epoch)
        for member_id in self._admitted:
            self.admit_into(roster, member_id)
        return roster


def _verified_of(member: Member, quote: Quote) -> VerifiedQuote:
    return VerifiedQuote(
        platform_id=member.platform_id,
        measurement=member.measurement,
        identity_public_key=member.identity_public_key,
        quote_digest=member.quote_digest,
        timestamp_ms=quote.timestamp_ms,
    )


class Admission:
    """Runs the handshake for one enclave: challenges while someone expected is not admitted, answers challenges
    addressed to it, admits candidates whose evidence verifies."""

    def __init__(
        self,
        *,
        committee_id: str,
        member_id: int,
        identity: IdentityKey,
        platform: QuoteSource,
        directory: Directory,
        publish: Callable[[str, bytes], Awaitable[None]],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.committee_id = committee_id
        self.member_id = member_id
        self._identity = identity
        self._platform = platform
        self.directory = directory
        self._publish = publish
        self._interval = interval
        self.expected: set[int] = set()
        self._nonces: OrderedDict[bytes, _Challenge] = OrderedDict()  # our recent challenges, by nonce
        self._answered: dict[int, float] = {}
        self._clock = clock
        now = clock()
        self._members_bucket = _TokenBucket(_ANSWER_RATE, _ANSWER_BURST, now)
        self._strangers_bucket = _TokenBucket(_STRANGER_RATE, _STRANGER_BURST, now)
        self.dropped: Counter[str] = Counter()  # attest messages ignored, by reason
        self._unlogged: Counter[str] = Counter()
        self._logged_at = -1e9
        self._wake = asyncio.Event()

    def expect(self, member_ids: Iterable[int]) -> None:
        new = set(member_ids) - self.expected
        if new:
            self.expected |= new
            self._wake.set()

    def missing(self, member_ids: Iterable[int] | None = None) -> list[int]:
        ids = self.expected if member_ids is None else set(member_ids)
        return sorted(i for i in ids if i not in self.directory)

    def admit_self(self) -> bool:
        """Verify our own quote like anyone else's (our platform must be trusted and our build allowed)."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        bound = admission_nonce(self.committee_id, self.member_id, self.member_id, nonce)
        quote = self._platform.quote(identity_public_key=self._identity.public_key, nonce=bound)
        try:
            self.directory.admit(self.member_id, quote, expected_nonce=bound)
        except AttestationError as exc:
            _log.error("self_attestation_failed", member_id=self.member_id, error=str(exc))
            return False
        return True

    async def wait_admitted(self, member_ids: Iterable[int], within: float) -> list[int]:
        """Expect `member_ids` and wait until all are admitted; returns those still missing at the timeout."""
        ids = set(member_ids)
        self.expect(ids)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while missing := self.missing(ids):
            left = deadline - loop.time()
            if left <= 0:
                return missing
            self.directory.changed.clear()
            try:
                async with asyncio.timeout(left):
                    await self.directory.changed.wait()
            except TimeoutError:
                pass
        return []

    async def run(self) -> None:
        """Challenge every `interval` while an expected member is missing (right away when one becomes expected)."""
        while True:
            want = self.missing()
            if want:
                await self._challenge(want)
            self._wake.clear()
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _challenge(self, want: list[int]) -> None:
        nonce = secrets.token_bytes(NONCE_SIZE)
        self._nonces[nonce] = _Challenge(frozenset(want), set())
        while len(self._nonces) > _RECENT_NONCES:
            self._nonces.popitem(last=False)
        msg = AttestChallenge(committee_id=self.committee_id, sender=self.member_id, nonce=nonce, want=tuple(want))
        await self._publish(ATTEST_TOPIC, encode(msg))

    async def on_message(self, raw: bytes) -> None:
        if len(raw) > MAX_ATTEST_MESSAGE:
            self.directory.rejections["malformed"] += 1
            return
        try:
            msg = _ATTEST_ADAPTER.validate_json(raw)
        except ValidationError:
            self.directory.rejections["malformed"] += 1
            _log.warning("attest_message_rejected", reason="malformed", size=len(raw))
            return
        if isinstance(msg, AttestChallenge):
            await self._on_challenge(msg)
        else:
            self._on_evidence(msg)

    async def _on_challenge(self, msg: AttestChallenge) -> None:
        if msg.committee_id != self.committee_id or msg.sender == self.member_id or self.member_id not in msg.want:
            return
        now = self._clock()
        if now - self._answered.get(msg.sender, -1e9) < _ANSWER_EVERY:
            self.dropped["challenger_rate"] += 1  # also a repeat right after a wake-up: not logged
            return
        # The claimed sender is not authenticated: it only picks the bucket, never lifts the bound.
        if msg.sender in self.expected or msg.sender in self.directory:
            bucket, reason = self._members_bucket, "answer_rate"
        else:
            bucket, reason = self._strangers_bucket, "stranger_rate"
        if not bucket.take(now):
            self._drop(reason, now, sender=msg.sender)
            return
        self._answered[msg.sender] = now
        if len(self._answered) > 4 * MAX_MEMBERS:
            self._answered = {m: t for m, t in self._answered.items() if now - t < _ANSWER_EVERY}
        # No quote is cached: its nonce binds the challenger's one-time nonce, so it answers that challenge only.
        bound = admission_nonce(self.committee_id, msg.sender, self.member_id, msg.nonce)
        quote = self._platform.quote(identity_public_key=self._identity.public_key, nonce=bound)
        evidence = AttestEvidence(committee_id=self.committee_id, sender=self.member_id, target=msg.sender, quote=quote)
        await self._publish(ATTEST_TOPIC, encode(evidence))

    def _on_evidence(self, msg: AttestEvidence) -> None:
        if msg.committee_id != self.committee_id or msg.target != self.member_id or msg.sender == self.member_id:
            return
        if msg.sender in self.directory:
            return  # an answer to an older challenge
        for nonce, challenge in reversed(self._nonces.items()):
            bound = admission_nonce(self.committee_id, self.member_id, msg.sender, nonce)
            if bound != msg.quote.nonce:
                continue
            if msg.sender in challenge.admitted:
                return
            if msg.sender not in challenge.want:
                # A genuine enclave answering for an id we did not ask for (e.g. to a forged copy of our challenge):
                # only members we expect enter the directory, and so the rosters.
                self.directory.rejections["unrequested"] += 1
                self._drop("unrequested", self._clock(), sender=msg.sender)
                return
            try:
                self.directory.admit(msg.sender, msg.quote, expected_nonce=bound)
            except AttestationError as exc:
                _log.warning("member_refused", member_id=msg.sender, error=str(exc))
                return
            challenge.admitted.add(msg.sender)
            _log.info("member_attested", member_id=msg.sender, quote_digest=msg.quote.digest().hex())
            return
        # Not one of our recent nonces: an answer to a challenge we no longer hold, or a replayed quote.
        self.directory.rejections["nonce"] += 1
        self.directory.last_rejection[msg.sender] = "nonce: evidence does not answer a recent challenge"

    def _drop(self, reason: str, now: float, *, sender: int) -> None:
        """Count an ignored attest message; log the counts at most every `_DROP_LOG_EVERY` (a flood is one line per
        period, not one per message)."""
        self.dropped[reason] += 1
        self._unlogged[reason] += 1
        if now - self._logged_at >= _DROP_LOG_EVERY:
            _log.warning(
                "attest_messages_dropped", member_id=self.member_id, counts=dict(self._unlogged), last_sender=sender
            )
            self._unlogged.clear()
            self._logged_at = now
