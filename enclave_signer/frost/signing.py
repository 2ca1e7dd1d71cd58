"""Two-round FROST signing, RFC 9591 sections 4 and 5: nonces, binding factors, shares, aggregation, verification.

Every Element that enters from outside (commitments, verification shares, group key, R) goes through
DeserializeElement; every Scalar through a range check. Nonces are hedged (fresh randomness || secret share).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.errors import (
    InvalidIdentifierError,
    InvalidLengthError,
    InvalidParametersError,
    InvalidScalarError,
    InvalidSignatureError,
    InvalidSignatureShareError,
)
from enclave_signer.frost.groups import RandomBytes
from enclave_signer.frost.keys import KeyShare, check_identifiers, derive_interpolating_value
from enclave_signer.frost.types import Signature, SigningCommitment, SigningNonces

__all__ = [
    "aggregate",
    "commit",
    "compute_binding_factors",
    "compute_challenge",
    "compute_group_commitment",
    "encode_group_commitment_list",
    "nonce_generate",
    "sign",
    "sign_with_shares",
    "verify",
    "verify_signature_share",
]


def nonce_generate(suite: Ciphersuite, secret: int, random_bytes: bytes | None = None) -> int:
    """RFC 9591 4.1: H3(random_bytes(32) || SerializeScalar(secret)); `random_bytes` only for test vectors."""
    rb = secrets.token_bytes(32) if random_bytes is None else random_bytes
    if len(rb) != 32:
        raise InvalidLengthError("nonce randomness must be 32 bytes")
    return suite.H3(rb + suite.group.serialize_scalar(secret))


def commit(
    suite: Ciphersuite,
    share: KeyShare,
    *,
    rng: RandomBytes | None = None,
    randomness: tuple[bytes, bytes] | None = None,
) -> tuple[SigningNonces, SigningCommitment]:
    """Round one (RFC 9591 5.1). `randomness` = (hiding, binding) 32-byte strings, only to replay test vectors."""
    _check_suite(suite, share)
    if randomness is None:
        draw = rng or secrets.token_bytes
        randomness = (draw(32), draw(32))
    hiding = nonce_generate(suite, share.secret, randomness[0])
    binding = nonce_generate(suite, share.secret, randomness[1])
    g = suite.group
    comm = SigningCommitment(
        share.identifier, g.serialize_element(g.base_mult(hiding)), g.serialize_element(g.base_mult(binding))
    )
    return SigningNonces(hiding, binding, comm), comm


def _validated_list(suite: Ciphersuite, commitment_list: Iterable[SigningCommitment]) -> list[SigningCommitment]:
    """Deserialize every commitment (raises on bad points), reject bad/duplicate ids, sort by identifier."""
    items = list(commitment_list)
    if not items:
        raise InvalidParametersError("empty commitment list")
    check_identifiers(suite, (c.identifier for c in items))
    g = suite.group
    for c in items:
        g.deserialize_element(c.hiding)
        g.deserialize_element(c.binding)
    return sorted(items, key=lambda c: c.identifier)


def encode_group_commitment_list(suite: Ciphersuite, commitment_list: Sequence[SigningCommitment]) -> bytes:
    """RFC 9591 4.3: SerializeScalar(i) || D_i || E_i for each participant, ascending by identifier."""
    g = suite.group
    return b"".join(g.serialize_scalar(c.identifier) + c.hiding + c.binding for c in commitment_list)


def compute_binding_factors(
    suite: Ciphersuite, group_public_key: bytes, commitment_list: Sequence[SigningCommitment], msg: bytes
) -> dict[int, int]:
    """RFC 9591 4.4: rho_i = H1(PK || H4(msg) || H5(encoded commitments) || SerializeScalar(i))."""
    prefix = group_public_key + suite.H4(msg) + suite.H5(encode_group_commitment_list(suite, commitment_list))
    return {c.identifier: suite.H1(prefix + suite.group.serialize_scalar(c.identifier)) for c in commitment_list}


def compute_group_commitment(
    suite: Ciphersuite, commitment_list: Sequence[SigningCommitment], binding_factors: Mapping[int, int]
) -> bytes:
    """RFC 9591 4.5: R = sum(D_i + rho_i * E_i). May be the identity; serializing it then raises."""
    g = suite.group
    terms: list[bytes] = []
    for c in commitment_list:
        terms += [c.hiding, g.mult(c.binding, binding_factors[c.identifier])]
    return g.sum(terms)


def compute_challenge(suite: Ciphersuite, group_commitment: bytes, group_public_key: bytes, msg: bytes) -> int:
    """RFC 9591 4.6: c = H2(SerializeElement(R) || SerializeElement(PK) || msg)."""
    g = suite.group
    return suite.H2(g.serialize_element(group_commitment) + g.serialize_element(group_public_key) + msg)


@dataclass(frozen=True)
class _Session:
    """What every participant and the coordinator derive from (PK, commitment list, msg)."""

    commitments: list[SigningCommitment]
    rho: dict[int, int]
    R: bytes
    c: int
    ids: list[int]


def _session(
    suite: Ciphersuite, group_public_key: bytes, commitment_list: Iterable[SigningCommitment], msg: bytes
) -> _Session:
    pk = suite.group.deserialize_element(group_public_key)
    comms = _validated_list(suite, commitment_list)
    rho = compute_binding_factors(suite, pk, comms, msg)
    r = compute_group_commitment(suite, comms, rho)
    return _Session(comms, rho, r, compute_challenge(suite, r, pk, msg), [x.identifier for x in comms])


def sign(
    suite: Ciphersuite, share: KeyShare, nonces: SigningNonces, msg: bytes, commitment_list: Iterable[SigningCommitment]
) -> int:
    """Round two (RFC 9591 5.2): z_i = d_i + e_i * rho_i + lambda_i * s_i * c. Consumes `nonces`."""
    _check_suite(suite, share)
    s = _session(suite, share.group_public_key, commitment_list, msg)
    mine = next((c for c in s.commitments if c.identifier == share.identifier), None)
    if mine is None:
        raise InvalidIdentifierError(f"participant {share.identifier} is not in the commitment list")
    if mine != nonces.commitment:
        raise InvalidParametersError(f"commitment list carries a different commitment for {share.identifier}")
    hiding, binding = nonces.consume()
    lam = derive_interpolating_value(suite, s.ids, share.identifier)
    return (hiding + binding * s.rho[share.identifier] + lam * share.secret * s.c) % suite.group.order


def _share_ok(suite: Ciphersuite, s: _Session, identifier: int, public_key_i: bytes, z_i: int) -> bool:
    g = suite.group
    comm = next(c for c in s.commitments if c.identifier == identifier)
    lam = derive_interpolating_value(suite, s.ids, identifier)
    rhs = g.sum((comm.hiding, g.mult(comm.binding, s.rho[identifier]), g.mult(public_key_i, s.c * lam)))
    return g.base_mult(z_i) == rhs


def verify_signature_share(
    suite: Ciphersuite,
    identifier: int,
    public_key_i: bytes,
    sig_share: int,
    commitment_list: Iterable[SigningCommitment],
    group_public_key: bytes,
    msg: bytes,
) -> bool:
    """RFC 9591 5.4: z_i * G == D_i + rho_i * E_i + (c * lambda_i) * Y_i."""
    _check_scalar(suite, sig_share)
    y_i = suite.group.deserialize_element(public_key_i)
    s = _session(suite, group_public_key, commitment_list, msg)
    if identifier not in s.ids:
        raise InvalidIdentifierError(f"participant {identifier} is not in the commitment list")
    return _share_ok(suite, s, identifier, y_i, sig_share)


def aggregate(
    suite: Ciphersuite,
    commitment_list: Iterable[SigningCommitment],
    msg: bytes,
    group_public_key: bytes,
    sig_shares: Mapping[int, int],
    verifying_shares: Mapping[int, bytes] | None = None,
) -> Signature:
    """RFC 9591 5.3: (R, sum z_i). A z_i that is not a scalar below the group order names its signer
    (InvalidSignatureShareError.identifiers). With `verifying_shares`, the result is verified and, if invalid, every
    share is checked so the culprits are named the same way."""
    s = _session(suite, group_public_key, commitment_list, msg)
    if sorted(sig_shares) != s.ids:
        raise InvalidIdentifierError("signature shares do not match the commitment list")
    # A z_i that is not a canonical scalar is as much that signer's fault as one that fails the share equation:
    # name it (identifiable abort, RFC 9591 5.3) rather than fail the whole aggregation with an input error.
    out_of_range = [i for i in s.ids if not _is_scalar(suite, sig_shares[i])]
    if out_of_range:
        raise InvalidSignatureShareError("signature shares out of range", out_of_range)
    sig = Signature(s.R, sum(sig_shares.values()) % suite.group.order, suite)
    if verifying_shares is None or verify(suite, group_public_key, msg, sig):
        return sig
    bad = [
        i
        for i in s.ids
        if not _share_ok(suite, s, i, suite.group.deserialize_element(verifying_shares[i]), sig_shares[i])
    ]
    if bad:
        raise InvalidSignatureShareError("invalid signature shares", bad)
    raise InvalidSignatureError("aggregate signature does not verify though every share does (inconsistent key shares)")


def verify(suite: Ciphersuite, group_public_key: bytes, msg: bytes, sig: Signature | bytes) -> bool:
    """Schnorr verification (RFC 9591 6.1 / appendix B): z*G == R + c*PK.

    Malformed inputs (bad encodings, off-curve or small-order points, z >= order) raise a typed InputError; a
    well-formed signature that does not verify returns False. R and PK are prime-order subgroup points after
    deserialization, so the cofactored Ed25519 equation [8]zB = [8]R + [8]cA reduces to the plain one.
    """
    g = suite.group
    if isinstance(sig, bytes | bytearray):
        sig = Signature.from_bytes(suite, bytes(sig))
    if sig.suite.name != suite.name:
        raise InvalidParametersError("signature belongs to another ciphersuite")
    pk = g.deserialize_element(group_public_key)
    r = g.deserialize_element(sig.R)
    _check_scalar(suite, sig.z)
    c = compute_challenge(suite, r, pk, msg)
    return g.base_mult(sig.z) == g.add(r, g.mult(pk, c))


def sign_with_shares(
    suite: Ciphersuite, shares: Sequence[KeyShare], msg: bytes, *, rng: RandomBytes | None = None
) -> Signature:
    """Run both rounds in process with the given shares (at least the threshold) and return a verified signature."""
    if not shares:
        raise InvalidParametersError("no key shares given")
    first = shares[0]
    if any(sh.group_public_key != first.group_public_key or sh.suite != first.suite for sh in shares):
        raise InvalidParametersError("key shares belong to different groups")
    if len(shares) < first.threshold:
        raise InvalidParametersError(f"need at least {first.threshold} shares, got {len(shares)}")
    check_identifiers(suite, (sh.identifier for sh in shares))
    rounds = [commit(suite, sh, rng=rng) for sh in shares]
    comms = [c for _, c in rounds]
    z = {sh.identifier: sign(suite, sh, nonces, msg, comms) for sh, (nonces, _) in zip(shares, rounds, strict=True)}
    return aggregate(suite, comms, msg, first.group_public_key, z, {sh.identifier: sh.public for sh in shares})


def _check_suite(suite: Ciphersuite, share: KeyShare) -> None:
    if share.suite != suite.name:
        raise InvalidParametersError(f"key share is for {share.suite}, not {suite.name}")


def _is_scalar(suite: Ciphersuite, k: object) -> bool:
    return isinstance(k, int) and not isinstance(k, bool) and 0 <= k < suite.group.order


def _check_scalar(suite: Ciphersuite, k: int) -> None:
    if not _is_scalar(suite, k):
        raise InvalidScalarError(f"{suite.name}: scalar out of range")
