"""Quote verification: the `QuoteVerifier` port, and the devnet's implementation for `SimulatedPlatform` quotes.

A real verifier (SGX/TDX via DCAP) implements the same `verify`: check the evidence in `quote.signature` chains to
the vendor root (with collateral: TCB info, revocation), that its report data equals SHA-256(quote.signed_bytes()),
and that MRENCLAVE/MRTD equals `quote.measurement`; then apply the same allow-list and freshness rules.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import structlog

from enclave_signer.attestation.errors import (
    BadQuoteSignatureError,
    MalformedQuoteError,
    MeasurementNotAllowedError,
    NonceMismatchError,
    QuoteRejectedError,
    StaleQuoteError,
    UnknownPlatformRootError,
)
from enclave_signer.attestation.quote import SIMULATED_FORMAT, Quote
from enclave_signer.identity import InvalidIdentityKeyError, validate_public_key, verify_signature
from enclave_signer.measurement import Measurement

__all__ = ["QuoteVerifier", "SimulatedQuoteVerifier", "VerifiedQuote"]

_log = structlog.get_logger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class VerifiedQuote:
    """What a verified quote establishes: this identity key is held by this build on this platform."""

    platform_id: str
    measurement: Measurement
    identity_public_key: bytes
    quote_digest: bytes
    timestamp_ms: int


@runtime_checkable
class QuoteVerifier(Protocol):
    def verify(self, quote: Quote, *, expected_nonce: bytes, now_ms: int | None = None) -> VerifiedQuote:
        """Return what the quote proves, or raise a `QuoteRejectedError` subclass naming the reason."""
        ...


class SimulatedQuoteVerifier:
    """Trusts the given platform roots (platform id -> Ed25519 root public key) and measurements."""

    def __init__(
        self,
        *,
        trusted_roots: Mapping[str, bytes],
        allowed_measurements: Iterable[Measurement],
        max_age_ms: int = 300_000,
        max_skew_ms: int = 30_000,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._roots = dict(trusted_roots)
        self._allowed = frozenset(allowed_measurements)
        if not self._allowed:
            raise ValueError("an empty measurement allow-list would admit nobody")
        self._max_age_ms = max_age_ms
        self._max_skew_ms = max_skew_ms
        self._clock = clock

    def verify(self, quote: Quote, *, expected_nonce: bytes, now_ms: int | None = None) -> VerifiedQuote:
        try:
            result = self._verify(quote, expected_nonce, self._clock() if now_ms is None else now_ms)
        except QuoteRejectedError as exc:
            _log.warning(
                "quote_rejected",
                reason=exc.reason,
                platform_id=quote.platform_id,
                measurement=quote.measurement.hex()[:16],
                identity_public_key=quote.identity_public_key.hex(),
            )
            raise
        _log.info(
            "quote_verified",
            platform_id=result.platform_id,
            measurement=result.measurement.short(),
            identity_public_key=result.identity_public_key.hex(),
            quote_digest=result.quote_digest.hex(),
        )
        return result

    def _verify(self, quote: Quote, expected_nonce: bytes, now_ms: int) -> VerifiedQuote:
        if quote.format != SIMULATED_FORMAT:
            raise MalformedQuoteError(f"unsupported quote format {quote.format!r} (this verifier: {SIMULATED_FORMAT})")
        root = self._roots.get(quote.platform_id)
        if root is None:
            raise UnknownPlatformRootError(f"no trusted root for platform {quote.platform_id!r}")
        if not verify_signature(root, quote.signed_bytes(), quote.signature):
            raise BadQuoteSignatureError(f"quote is not signed by the root of platform {quote.platform_id!r}")
        measurement = Measurement(quote.measurement)
        if measurement not in self._allowed:
            raise MeasurementNotAllowedError(f"enclave build {measurement.short()} is not on the allow-list")
        if not hmac.compare_digest(quote.nonce, expected_nonce):
            raise NonceMismatchError("quote carries another freshness nonce than the one issued")
        age = now_ms - quote.timestamp_ms
        if age > self._max_age_ms:
            raise StaleQuoteError(f"quote is {age} ms old (max {self._max_age_ms} ms)")
        if -age > self._max_skew_ms:
            raise StaleQuoteError(f"quote is dated {-age} ms in the future (max skew {self._max_skew_ms} ms)")
        try:
            validate_public_key(quote.identity_public_key)
        except InvalidIdentityKeyError as exc:
            raise MalformedQuoteError(f"quote names an unusable identity key: {exc}") from None
        return VerifiedQuote(
            platform_id=quote.platform_id,
            measurement=measurement,
            identity_public_key=quote.identity_public_key,
            quote_digest=quote.digest(),
            timestamp_ms=quote.timestamp_ms,
        )
