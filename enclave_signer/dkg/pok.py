"""Schnorr proof of knowledge of a DKG constant term (FROST paper, KeyGen round 1 step 2), domain-separated and
bound to the ceremony's session id and the prover's identifier so a proof cannot be replayed elsewhere."""

from __future__ import annotations

import secrets

from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.groups import RandomBytes

__all__ = ["pok_challenge", "prove_knowledge", "verify_knowledge"]


def pok_challenge(suite: Ciphersuite, session_id: bytes, identifier: int, c0: bytes, r: bytes) -> int:
    g = suite.group
    data = len(session_id).to_bytes(4, "big") + session_id + g.serialize_scalar(identifier) + c0 + r
    return suite.hash_to_scalar(b"dkg-pok", data)


def prove_knowledge(
    suite: Ciphersuite, session_id: bytes, identifier: int, secret: int, rng: RandomBytes | None = None
) -> tuple[bytes, int]:
    """Return (R, mu) with R = k*G, mu = k + a0*c. k is hedged: H(random || a0), like RFC 9591 nonces."""
    g = suite.group
    k = suite.hash_to_scalar(b"dkg-pok-nonce", (rng or secrets.token_bytes)(32) + g.serialize_scalar(secret))
    r = g.serialize_element(g.base_mult(k))
    c = pok_challenge(suite, session_id, identifier, g.serialize_element(g.base_mult(secret)), r)
    return r, (k + secret * c) % g.order


def verify_knowledge(suite: Ciphersuite, session_id: bytes, identifier: int, c0: bytes, r: bytes, mu: int) -> bool:
    """mu*G == R + c*C0, with C0 and R already deserialized (validated) by the caller."""
    g = suite.group
    if not 0 <= mu < g.order:
        return False
    c = pok_challenge(suite, session_id, identifier, c0, r)
    return g.base_mult(mu) == g.add(r, g.mult(c0, c))
