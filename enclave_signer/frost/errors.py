"""Typed errors of the threshold cryptography (FROST, DKG, resharing, threshold decryption).

Every error subclasses `FrostError` and the matching builtin, so callers can catch either. Messages never carry
secret values (scalars that are key shares or nonces); errors that blame participants carry their identifiers.

    FrostError
    ├── InputError (ValueError)                     malformed input: reject, never retry
    │   ├── InvalidLengthError                      wrong byte length
    │   ├── InvalidScalarError                      not canonical, >= group order, or zero where forbidden
    │   ├── InvalidPointError                       not a valid encoding of a point of the prime-order group
    │   │   ├── IdentityPointError                  the identity element where it is forbidden
    │   │   └── SmallOrderPointError                a point of small order (edwards25519 torsion)
    │   ├── InvalidIdentifierError                  zero, duplicate, out of range or unknown participant id
    │   └── InvalidParametersError                  threshold/size/set inconsistencies (t > n, too few shares ...)
    ├── NonceReuseError (RuntimeError)              a signing nonce pair used twice
    ├── MisbehaviourError (ValueError)              a named participant sent a provably bad value; .identifiers
    │   ├── InvalidSignatureShareError              a FROST signature share fails verify_signature_share
    │   ├── InvalidDecryptionShareError             a decryption share's DLEQ proof fails
    │   └── DkgComplaintError                       DKG / resharing dealers misbehaved; .complaints
    ├── InvalidSignatureError (ValueError)          an aggregate signature does not verify (no share to blame)
    ├── DkgAbortedError (RuntimeError)              too few honest participants left to finish
    └── DecryptionError (ValueError)                the AEAD rejected the ciphertext (wrong key, aad or tampering)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from enclave_signer.dkg.complaints import Complaint

__all__ = [
    "DecryptionError",
    "DkgAbortedError",
    "DkgComplaintError",
    "FrostError",
    "IdentityPointError",
    "InputError",
    "InvalidDecryptionShareError",
    "InvalidIdentifierError",
    "InvalidLengthError",
    "InvalidParametersError",
    "InvalidPointError",
    "InvalidScalarError",
    "InvalidSignatureError",
    "InvalidSignatureShareError",
    "MisbehaviourError",
    "NonceReuseError",
    "SmallOrderPointError",
]


class FrostError(Exception):
    """Base of every error raised by enclave_signer's threshold cryptography."""


class InputError(FrostError, ValueError):
    """Malformed input (encoding, range, parameters). Permanent: the same input fails the same way."""


class InvalidLengthError(InputError):
    """A byte string has the wrong length for its type."""


class InvalidScalarError(InputError):
    """A scalar is not canonical (>= group order) or is zero where a NonZeroScalar is required."""


class InvalidPointError(InputError):
    """Bytes that do not decode to a point of the prime-order group (off-curve, non-canonical, wrong subgroup)."""


class IdentityPointError(InvalidPointError):
    """The identity element, which RFC 9591 forbids in every serialized Element."""


class SmallOrderPointError(InvalidPointError):
    """An edwards25519 point of small order (torsion), which would let an attacker leak or cancel terms."""


class InvalidIdentifierError(InputError):
    """A participant identifier that is zero, >= group order, duplicated or not part of the session."""


class InvalidParametersError(InputError):
    """Inconsistent protocol parameters: threshold above size, too few shares, mismatched suites..."""


class NonceReuseError(FrostError, RuntimeError):
    """A SigningNonces object was used a second time; reusing a nonce pair leaks the key share."""


class MisbehaviourError(FrostError, ValueError):
    """One or more named participants sent values that provably do not match their public commitments."""

    def __init__(self, message: str, identifiers: Iterable[int]) -> None:
        self.identifiers: tuple[int, ...] = tuple(sorted(set(identifiers)))
        super().__init__(f"{message}: participants {list(self.identifiers)}")


class InvalidSignatureShareError(MisbehaviourError):
    """Signature shares that fail RFC 9591 verify_signature_share; `.identifiers` names their signers."""


class InvalidDecryptionShareError(MisbehaviourError):
    """Decryption shares whose DLEQ proof fails; `.identifiers` names the members who sent them."""


class DkgComplaintError(MisbehaviourError):
    """Dealers (DKG or resharing) whose proof or shares are invalid; `.complaints` holds the evidence."""

    def __init__(self, message: str, complaints: Sequence[Complaint]) -> None:
        self.complaints: tuple[Complaint, ...] = tuple(complaints)
        super().__init__(message, (c.accused for c in complaints))


class InvalidSignatureError(FrostError, ValueError):
    """An aggregate signature failed verification although no single share could be blamed."""


class DkgAbortedError(FrostError, RuntimeError):
    """Exclusions left fewer qualified participants than the threshold: the ceremony cannot finish."""


class DecryptionError(FrostError, ValueError):
    """Authenticated decryption failed: wrong key, wrong associated data, or a tampered ciphertext."""
