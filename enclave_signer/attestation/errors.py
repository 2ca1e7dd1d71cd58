"""Typed attestation errors. `reason` is a stable short code for metrics and logs.

AttestationError
├── QuoteRejectedError (ValueError)          .reason
│   ├── MalformedQuoteError                  "malformed": unknown format, bad field, invalid identity key
│   ├── UnknownPlatformRootError             "unknown_root": no trusted root for the quote's platform
│   ├── BadQuoteSignatureError               "bad_signature": the platform root did not sign this quote
│   ├── MeasurementNotAllowedError           "measurement": the enclave build is not on the allow-list
│   ├── StaleQuoteError                      "stale": older than the max age (or from the future)
│   └── NonceMismatchError                   "nonce": not the freshness nonce the verifier issued
└── AdmissionError (ValueError)              a verified quote that still cannot join the roster
"""

from __future__ import annotations

__all__ = [
    "AdmissionError",
    "AttestationError",
    "BadQuoteSignatureError",
    "MalformedQuoteError",
    "MeasurementNotAllowedError",
    "NonceMismatchError",
    "QuoteRejectedError",
    "StaleQuoteError",
    "UnknownPlatformRootError",
]


class AttestationError(Exception):
    """Base of attestation errors."""


class QuoteRejectedError(AttestationError, ValueError):
    reason = "rejected"


class MalformedQuoteError(QuoteRejectedError):
    reason = "malformed"


class UnknownPlatformRootError(QuoteRejectedError):
    reason = "unknown_root"


class BadQuoteSignatureError(QuoteRejectedError):
    reason = "bad_signature"


class MeasurementNotAllowedError(QuoteRejectedError):
    reason = "measurement"


class StaleQuoteError(QuoteRejectedError):
    reason = "stale"


class NonceMismatchError(QuoteRejectedError):
    reason = "nonce"


class AdmissionError(AttestationError, ValueError):
    """Duplicate member id, an identity key already used by another member, or a bad member id."""
