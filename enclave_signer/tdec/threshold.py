"""Threshold decryption: member i returns D_i = s_i * U with a DLEQ proof against its verification share Y_i;
anyone combines t valid shares, S = sum lambda_i * D_i (Lagrange in the exponent), and decrypts.

A share whose proof fails names its member (InvalidDecryptionShareError.identifiers); the combiner then asks
other members. Point work is libsodium's; the Lagrange coefficients are public, so no secret-dependent Python math
happens here except s_i * c in the proof (see groups.py on timing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import InvalidDecryptionShareError, InvalidParametersError
from enclave_signer.frost.groups import RandomBytes
from enclave_signer.frost.keys import KeyShare, check_identifiers, derive_interpolating_value
from enclave_signer.tdec.dleq import DleqProof, dleq_prove, dleq_verify
from enclave_signer.tdec.ecies import Ciphertext, decrypt_with_shared_point

__all__ = ["DecryptionShare", "combine_shares", "decryption_share", "threshold_decrypt", "verify_decryption_share"]

_G = ED25519.group


@dataclass(frozen=True)
class DecryptionShare:
    identifier: int
    d: bytes
    proof: DleqProof


def _context(identifier: int) -> bytes:
    return b"tdec-share" + _G.serialize_scalar(identifier)


def decryption_share(share: KeyShare, ciphertext: Ciphertext, *, rng: RandomBytes | None = None) -> DecryptionShare:
    """Member side: D_i = s_i * U and a proof that log_G(Y_i) == log_U(D_i)."""
    if share.suite != ED25519.name:
        raise InvalidParametersError("threshold decryption uses the edwards25519 (FROST Ed25519) key")
    u = _G.deserialize_element(ciphertext.u)  # never multiply a secret share by an attacker's torsion point
    d = _G.mult(u, share.secret)
    return DecryptionShare(share.identifier, d, dleq_prove(share.secret, u, _context(share.identifier), rng))


def verify_decryption_share(verifying_share: bytes, ciphertext: Ciphertext, share: DecryptionShare) -> bool:
    y = _G.deserialize_element(verifying_share)
    u = _G.deserialize_element(ciphertext.u)
    try:
        d = _G.deserialize_element(share.d)
    except ValueError:
        return False
    return dleq_verify(y, u, d, share.proof, _context(share.identifier))


def combine_shares(
    ciphertext: Ciphertext,
    shares: Sequence[DecryptionShare],
    verifying_shares: Mapping[int, bytes],
    threshold: int,
) -> bytes:
    """S = sum lambda_i D_i over the given shares after checking every proof."""
    ids = check_identifiers(ED25519, [s.identifier for s in shares])
    if len(ids) < threshold:
        raise InvalidParametersError(f"need at least {threshold} decryption shares, got {len(ids)}")
    unknown = [i for i in ids if i not in verifying_shares]
    if unknown:
        raise InvalidParametersError(f"no verification share registered for {unknown}")
    bad = [s.identifier for s in shares if not verify_decryption_share(verifying_shares[s.identifier], ciphertext, s)]
    if bad:
        raise InvalidDecryptionShareError("invalid decryption shares", bad)
    return _G.sum(_G.mult(s.d, derive_interpolating_value(ED25519, ids, s.identifier)) for s in shares)


def threshold_decrypt(
    group_public_key: bytes,
    ciphertext: Ciphertext,
    shares: Sequence[DecryptionShare],
    verifying_shares: Mapping[int, bytes],
    threshold: int,
    aad: bytes = b"",
    context: bytes = b"",
) -> bytes:
    """Verify, combine and decrypt. Raises InvalidDecryptionShareError naming bad members, DecryptionError if the
    ciphertext does not authenticate under (aad, context)."""
    shared = combine_shares(ciphertext, shares, verifying_shares, threshold)
    return decrypt_with_shared_point(shared, ciphertext, _G.deserialize_element(group_public_key), aad, context)
