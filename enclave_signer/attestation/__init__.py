"""Attestation: quotes, the simulated platform, the verifier port, and the roster that only admits attested keys."""

from enclave_signer.attestation.errors import (
    AdmissionError,
    AttestationError,
    BadQuoteSignatureError,
    MalformedQuoteError,
    MeasurementNotAllowedError,
    NonceMismatchError,
    QuoteRejectedError,
    StaleQuoteError,
    UnknownPlatformRootError,
)
from enclave_signer.attestation.platform import SimulatedPlatform
from enclave_signer.attestation.quote import NONCE_SIZE, SIMULATED_FORMAT, Quote, new_nonce
from enclave_signer.attestation.roster import Member, Roster, check_committee_id, check_member_id
from enclave_signer.attestation.verifier import QuoteVerifier, SimulatedQuoteVerifier, VerifiedQuote

__all__ = [
    "NONCE_SIZE",
    "SIMULATED_FORMAT",
    "AdmissionError",
    "AttestationError",
    "BadQuoteSignatureError",
    "MalformedQuoteError",
    "MeasurementNotAllowedError",
    "Member",
    "NonceMismatchError",
    "Quote",
    "QuoteRejectedError",
    "QuoteVerifier",
    "Roster",
    "SimulatedPlatform",
    "SimulatedQuoteVerifier",
    "StaleQuoteError",
    "UnknownPlatformRootError",
    "VerifiedQuote",
    "check_committee_id",
    "check_member_id",
    "new_nonce",
]
