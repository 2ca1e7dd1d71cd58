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
from enclave_signer.committee.messages import AttestChallenge, AttestEvidence, encode
from enclave_signer.identity import IdentityKey

__all__ = ["ATTEST_TOPIC", "Admission", "Directory", "QuoteSource", "VouchingVerifier", "admission_nonce"]

_log = structlog.get_logger(__name__)

ATTEST_TOPIC = "attest"
MAX_ATTEST_MESSAGE = 160 * 1024
_DOMAIN = b"phala-bridge/committee/admission/v1\x00"
_RECENT_NONCES = 16
_ANSWER_EVERY = 0.2  # seconds: at most one evidence per challenger in this interval
_ATTEST_ADAPTER: TypeAdapter[AttestChallenge | AttestEvidence] = TypeAdapter(
    Annotated[AttestChallenge | AttestEvidence, Field(discriminator="type")]  # type: ignore[arg-type,maybe-unrecognized-str-typeform]
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
    ) -> None:
        self.committee_id = committee_id
        self.member_id = member_id
        self._identity = identity
        self._platform = platform
        self.directory = directory
        self._publish = publish
        self._interval = interval
        self.expected: set[int] = set()
        self._nonces: OrderedDict[bytes, set[int]] = OrderedDict()  # recent challenge nonces -> candidates admitted
        self._answered: dict[int, float] = {}
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
        self._nonces[nonce] = set()
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
        now = time.monotonic()
        if now - self._answered.get(msg.sender, -1e9) < _ANSWER_EVERY:
            return
        self._answered[msg.sender] = now
        bound = admission_nonce(self.committee_id, msg.sender, self.member_id, msg.nonce)
        quote = self._platform.quote(identity_public_key=self._identity.public_key, nonce=bound)
        evidence = AttestEvidence(committee_id=self.committee_id, sender=self.member_id, target=msg.sender, quote=quote)
        await self._publish(ATTEST_TOPIC, encode(evidence))

    def _on_evidence(self, msg: AttestEvidence) -> None:
        if msg.committee_id != self.committee_id or msg.target != self.member_id or msg.sender == self.member_id:
            return
        if msg.sender in self.directory:
            return  # an answer to an older challenge
        for nonce, used in reversed(self._nonces.items()):
            bound = admission_nonce(self.committee_id, self.member_id, msg.sender, nonce)
            if bound != msg.quote.nonce:
                continue
            if msg.sender in used:
                return
            try:
                self.directory.admit(msg.sender, msg.quote, expected_nonce=bound)
            except AttestationError as exc:
                _log.warning("member_refused", member_id=msg.sender, error=str(exc))
                return
            used.add(msg.sender)
            _log.info("member_attested", member_id=msg.sender, quote_digest=msg.quote.digest().hex())
            return
        # Not one of our recent nonces: an answer to a challenge we no longer hold, or a replayed quote.
        self.directory.rejections["nonce"] += 1
        self.directory.last_rejection[msg.sender] = "nonce: evidence does not answer a recent challenge"
