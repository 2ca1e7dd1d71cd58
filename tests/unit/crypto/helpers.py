"""Helpers for the threshold-crypto tests: vector loading, a deterministic RNG, an independent secp256k1 verifier."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coincurve

from enclave_signer.frost import ED25519, SECP256K1

VECTORS = Path(__file__).parent / "vectors"
SUITES = {"ed25519": ED25519, "secp256k1": SECP256K1}
VECTOR_FILES = {"ed25519": "frost-ed25519-sha512.json", "secp256k1": "frost-secp256k1-sha256.json"}


def load_vector(key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / VECTOR_FILES[key]).read_text())
    return data


def det_rng(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic byte stream (SHA-256 counter mode) so property-test failures replay."""
    counter = 0

    def draw(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return draw


SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _independent_h2(msg: bytes) -> int:
    """RFC 9591 6.5 H2 written out again here (RFC 9380 expand_message_xmd, SHA-256, L = 48), not the library's."""
    dst = b"FROST-secp256k1-SHA256-v1chal"
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(bytes(64) + msg + (48).to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    b1 = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    b2 = hashlib.sha256(bytes(a ^ b for a, b in zip(b0, b1, strict=True)) + b"\x02" + dst_prime).digest()
    return int.from_bytes((b1 + b2)[:48], "big") % SECP_N


def independent_secp256k1_verify(pk: bytes, msg: bytes, sig: bytes) -> bool:
    """z*G == R + c*PK with coincurve only."""
    r_enc, z = sig[:33], int.from_bytes(sig[33:], "big")
    if not 0 < z < SECP_N:
        return False
    c = _independent_h2(r_enc + pk + msg)
    lhs = coincurve.PublicKey.from_valid_secret(z.to_bytes(32, "big"))
    rhs = coincurve.PublicKey.combine_keys(
        [coincurve.PublicKey(r_enc), coincurve.PublicKey(pk).multiply(c.to_bytes(32, "big"))]
    )
    return lhs.format() == rhs.format()
