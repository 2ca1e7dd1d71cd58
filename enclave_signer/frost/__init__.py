"""FROST threshold Schnorr signatures, RFC 9591, for FROST(Ed25519, SHA-512) and FROST(secp256k1, SHA-256).

Quick use (in-process, e.g. tests and drills):

    from enclave_signer.frost import SECP256K1, trusted_dealer_keygen, sign_with_shares, verify
    group_pk, shares = trusted_dealer_keygen(SECP256K1, n=5, t=3)
    sig = sign_with_shares(SECP256K1, shares[:3], b"message")
    assert verify(SECP256K1, group_pk, b"message", sig)

Point arithmetic is done by libsodium / libsecp256k1; scalar arithmetic uses Python ints (not constant-time).
"""

from enclave_signer.frost.ciphersuites import ED25519, SECP256K1, Ciphersuite
from enclave_signer.frost.errors import (
    DecryptionError,
    DkgAbortedError,
    DkgComplaintError,
    FrostError,
    IdentityPointError,
    InputError,
    InvalidDecryptionShareError,
    InvalidIdentifierError,
    InvalidLengthError,
    InvalidParametersError,
    InvalidPointError,
    InvalidScalarError,
    InvalidSignatureError,
    InvalidSignatureShareError,
    MisbehaviourError,
    NonceReuseError,
    SmallOrderPointError,
)
from enclave_signer.frost.evm import evm_challenge, evm_key_supported, point_xy, signature_r_xy
from enclave_signer.frost.keys import (
    KeyShare,
    derive_group_info,
    derive_interpolating_value,
    secret_share_combine,
    split_secret,
    trusted_dealer_keygen,
    vss_commit,
    vss_verify,
)
from enclave_signer.frost.signing import (
    aggregate,
    commit,
    compute_binding_factors,
    compute_challenge,
    compute_group_commitment,
    sign,
    sign_with_shares,
    verify,
    verify_signature_share,
)
from enclave_signer.frost.types import Signature, SigningCommitment, SigningNonces

__all__ = [
    "ED25519",
    "SECP256K1",
    "Ciphersuite",
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
    "KeyShare",
    "MisbehaviourError",
    "NonceReuseError",
    "Signature",
    "SigningCommitment",
    "SigningNonces",
    "SmallOrderPointError",
    "aggregate",
    "commit",
    "compute_binding_factors",
    "compute_challenge",
    "compute_group_commitment",
    "derive_group_info",
    "derive_interpolating_value",
    "evm_challenge",
    "evm_key_supported",
    "point_xy",
    "secret_share_combine",
    "sign",
    "sign_with_shares",
    "signature_r_xy",
    "split_secret",
    "trusted_dealer_keygen",
    "verify",
    "verify_signature_share",
    "vss_commit",
    "vss_verify",
]
