"""The two RFC 9591 ciphersuites we use (section 6.1 Ed25519/SHA-512, section 6.5 secp256k1/SHA-256).

A ciphersuite is a group plus the domain-separated hashes H1..H5. `hash_to_scalar(tag, m)` generalises H1/H3 so
other protocols in this package (DKG proofs of knowledge, DLEQ proofs, resharing) get their own domain-separated
hashes with the suite's own construction, e.g. tag b"dkg-pok".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from enclave_signer.frost.groups import ED25519_GROUP, SECP256K1_GROUP, Ed25519Group, Group, Secp256k1Group

__all__ = ["ED25519", "SECP256K1", "Ciphersuite", "Ed25519Sha512", "Secp256k1Sha256", "expand_message_xmd"]


@dataclass(frozen=True)
class Ciphersuite:
    """Base: a name, a context string and a group; subclasses define the hash constructions."""

    name: str
    context: bytes
    group: Group = field(repr=False)

    def hash_to_scalar(self, tag: bytes, msg: bytes) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def H1(self, msg: bytes) -> int:
        return self.hash_to_scalar(b"rho", msg)

    def H2(self, msg: bytes) -> int:
        return self.hash_to_scalar(b"chal", msg)

    def H3(self, msg: bytes) -> int:
        return self.hash_to_scalar(b"nonce", msg)

    def H4(self, msg: bytes) -> bytes:
        return self._hash(self.context + b"msg" + msg)

    def H5(self, msg: bytes) -> bytes:
        return self._hash(self.context + b"com" + msg)

    def _hash(self, data: bytes) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Ed25519Sha512(Ciphersuite):
    """FROST(Ed25519, SHA-512): H(x) = SHA-512(context || tag || x) read little-endian, mod L."""

    name: str = "FROST-ED25519-SHA512-v1"
    context: bytes = b"FROST-ED25519-SHA512-v1"
    group: Ed25519Group = field(default=ED25519_GROUP, repr=False)

    def hash_to_scalar(self, tag: bytes, msg: bytes) -> int:
        return int.from_bytes(hashlib.sha512(self.context + tag + msg).digest(), "little") % self.group.order

    def H2(self, msg: bytes) -> int:
        # RFC 9591 6.1: no context prefix, so the result is the RFC 8032 challenge and Ed25519 verifiers accept it.
        return int.from_bytes(hashlib.sha512(msg).digest(), "little") % self.group.order

    def _hash(self, data: bytes) -> bytes:
        return hashlib.sha512(data).digest()


@dataclass(frozen=True)
class Secp256k1Sha256(Ciphersuite):
    """FROST(secp256k1, SHA-256): H1/H2/H3 = hash_to_field (RFC 9380 5.2) with expand_message_xmd, L = 48."""

    name: str = "FROST-secp256k1-SHA256-v1"
    context: bytes = b"FROST-secp256k1-SHA256-v1"
    group: Secp256k1Group = field(default=SECP256K1_GROUP, repr=False)

    def hash_to_scalar(self, tag: bytes, msg: bytes) -> int:
        return int.from_bytes(expand_message_xmd(msg, self.context + tag, 48), "big") % self.group.order

    def _hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-256 (b_in_bytes = 32, s_in_bytes = 64)."""
    if len(dst) > 255:
        dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
    ell = -(-len_in_bytes // 32)
    if ell > 255 or len_in_bytes > 65535:
        raise ValueError("expand_message_xmd: requested length too large")
    dst_prime = dst + bytes([len(dst)])
    msg_prime = bytes(64) + msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.sha256(msg_prime).digest()
    b_prev = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    out = bytearray(b_prev)
    for i in range(2, ell + 1):
        b_prev = hashlib.sha256(bytes(x ^ y for x, y in zip(b0, b_prev, strict=True)) + bytes([i]) + dst_prime).digest()
        out += b_prev
    return bytes(out[:len_in_bytes])


ED25519 = Ed25519Sha512()
SECP256K1 = Secp256k1Sha256()
