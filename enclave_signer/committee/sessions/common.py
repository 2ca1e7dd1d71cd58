"""What every session shares: settings, the suites by key name, typed outcomes, a wake-up signal, the node's
services as a Protocol (sessions never import the node)."""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.enclave_api import ErrorCode, GroupKeyName
from bridge.ports import SigningRefused, SigningUnavailable
from enclave_signer.committee.admission import Admission
from enclave_signer.committee.channel import Channel
from enclave_signer.committee.distrust import DistrustBook
from enclave_signer.committee.heartbeat import Liveness
from enclave_signer.committee.metrics import CommitteeMetrics
from enclave_signer.committee.omission import OmissionWatch
from enclave_signer.committee.replay import SESSION_ID_SIZE
from enclave_signer.committee.verification import BatchVerifier, DecryptionVerifier
from enclave_signer.frost.ciphersuites import ED25519, SECP256K1, Ciphersuite
from enclave_signer.keystore import EpochKeys, Keystore

__all__ = [
    "SUITES",
    "BusyError",
    "CeremonyFailedError",
    "NotReadyError",
    "RequestTooLargeError",
    "ServiceError",
    "Services",
    "SessionRefusedError",
    "SessionSettings",
    "SessionUnavailableError",
    "Signal",
    "new_session_id",
    "short",
]

SUITES: dict[GroupKeyName, Ciphersuite] = {"secp256k1": SECP256K1, "ed25519": ED25519, "encryption": ED25519}


def new_session_id() -> bytes:
    return secrets.token_bytes(SESSION_ID_SIZE)


def short(session_id: bytes) -> str:
    """The session prefix logs carry."""
    return session_id.hex()[:16]


@dataclass(frozen=True)
class SessionSettings:
    session_timeout: float = 10.0  # default for signing / decryption when the caller gives none
    retransmit_interval: float = 0.5  # re-issue unanswered requests this often
    round_timeout: float = 2.0  # a chosen signer silent this long in round 2: try another set
    poke_interval: float = 1.0  # ceremonies: the coordinator asks everyone to send again this often
    verify_timeout: float = 30.0  # a member's independent verification must finish within this
    member_session_ttl: float = 120.0  # member-side state of a session nobody closed
    attest_timeout: float = 10.0  # wait this long for members to be attested before a ceremony
    max_attempts: int = 16  # fresh-commitment rounds per signing session (bounds nonces a leader can ask for)


class ServiceError(Exception):
    """A session outcome the local API reports with `code` (and, for refusals/failures, per-member `reasons`)."""

    code: ErrorCode = "internal"

    def __init__(self, message: str, reasons: Mapping[int, str] | None = None) -> None:
        super().__init__(message)
        self.reasons: dict[int, str] = dict(reasons or {})


class NotReadyError(ServiceError):
    code: ErrorCode = "not_ready"


class RequestTooLargeError(ServiceError):
    code: ErrorCode = "too_large"


class BusyError(ServiceError):
    """Too many sessions are open on this member (the replay guard's bound); retry shortly."""

    code: ErrorCode = "busy"


class CeremonyFailedError(ServiceError):
    code: ErrorCode = "failed"


class SessionRefusedError(ServiceError, SigningRefused):
    """Enough members refused that t can never be reached; `reasons` has each refusing member's reason."""

    code: ErrorCode = "refused"


class SessionUnavailableError(ServiceError, SigningUnavailable):
    """Fewer than t members answered within the timeout."""

    code: ErrorCode = "unavailable"


class Signal:
    """Wakes a session's coroutine when a message arrives; `wait_until` polls a predicate with a deadline and an
    optional periodic action (retransmission)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        deadline: float,
        *,
        tick: float | None = None,
        on_tick: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + tick if tick and on_tick else math.inf
        while not predicate():
            now = loop.time()
            if now >= deadline:
                return predicate()
            if now >= next_tick and on_tick is not None and tick:
                await on_tick()
                next_tick = loop.time() + tick
                continue
            self._event.clear()
            try:
                async with asyncio.timeout(min(deadline, next_tick) - now):
                    await self._event.wait()
            except TimeoutError:
                pass
        return True


def majority_threshold(members: int) -> int:
    """The smallest threshold a committee of `members` may have: a strict majority, so two disjoint groups can
    never both sign, and fewer than half of the members can never sign alone."""
    return members // 2 + 1


DEFAULT_RESHARE_APPROVAL_S = 3600.0  # how long an operator's approval of a resharing stays valid


class Services(Protocol):
    """What sessions need from the node."""

    member_id: int
    committee_id: str
    channel: Channel
    settings: SessionSettings
    metrics: CommitteeMetrics
    admission: Admission
    liveness: Liveness
    distrust: DistrustBook
    omission: OmissionWatch
    keystore: Keystore | None
    verifier: BatchVerifier
    decryption_verifier: DecryptionVerifier

    @property
    def keys(self) -> EpochKeys | None: ...

    @property
    def epoch(self) -> int: ...

    @property
    def committee_members(self) -> tuple[int, ...]: ...

    @property
    def threshold(self) -> int:
        """The committee's threshold: the sealed record's, or the configured one before the first DKG."""
        ...

    def install_keys(self, keys: EpochKeys | None, epoch: int) -> None: ...

    def reshare_approved(self, new_members: Sequence[int], new_threshold: int) -> bool:
        """Whether this member's operator approved resharing to exactly this committee (and it has not expired)."""
        ...
