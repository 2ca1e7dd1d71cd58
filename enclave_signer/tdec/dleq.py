"""Chaum-Pedersen DLEQ proof over edwards25519: log_G(Y) == log_U(D), made non-interactive with a domain-separated
SHA-512 challenge (the FROST(Ed25519) suite's hash_to_scalar with tag "tdec-dleq")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.groups import RandomBytes

__all__ = ["DleqProof", "dleq_prove", "dleq_verify"]

_G = ED25519.group


@dataclass(frozen=True)
class DleqProof:
    c: int
    z: int


def _challenge(y: bytes, u: bytes, d: bytes, a1: bytes, a2: bytes, context: bytes) -> int:
    return ED25519.hash_to_scalar(b"tdec-dleq", _G.base_mult(1) + y + u + d + a1 + a2 + context)


def dleq_prove(secret: int, u: bytes, context: bytes = b"", rng: RandomBytes | None = None) -> DleqProof:
    """Prove D = secret*U and Y = secret*G share the exponent. k is hedged with the secret like RFC 9591 nonces."""
    k = ED25519.hash_to_scalar(b"tdec-dleq-nonce", (rng or secrets.token_bytes)(32) + _G.serialize_scalar(secret))
    y, d = _G.base_mult(secret), _G.mult(u, secret)
    c = _challenge(y, u, d, _G.base_mult(k), _G.mult(u, k), context)
    return DleqProof(c, (k + c * secret) % _G.order)


def dleq_verify(y: bytes, u: bytes, d: bytes, proof: DleqProof, context: bytes = b"") -> bool:
    """A1 = z*G - c*Y, A2 = z*U - c*D; accept iff c == H(G, Y, U, D, A1, A2). Points must be validated already."""
    if not (0 <= proof.c < _G.order and 0 <= proof.z < _G.order):
        return False
    neg_c = _G.order - proof.c
    a1 = _G.add(_G.base_mult(proof.z), _G.mult(y, neg_c))
    a2 = _G.add(_G.mult(u, proof.z), _G.mult(d, neg_c))
    return _challenge(y, u, d, a1, a2, context) == proof.c
