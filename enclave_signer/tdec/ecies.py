"""ECIES to an edwards25519 group key: U = r*G, S = r*PK, key = HKDF-SHA256(S || U; info = PK || context),
XChaCha20-Poly1305 with caller's associated data (e.g. the confidential contract id).

Any t committee members can recompute S = sk*U without the whole key (see threshold.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import DecryptionError, InvalidLengthError
from enclave_signer.frost.groups import RandomBytes

__all__ = ["Ciphertext", "decrypt_with_shared_point", "derive_key", "encrypt"]

_G = ED25519.group
_SALT = b"phala-bridge/tdec/v1"
_NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
_TAG = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16


@dataclass(frozen=True)
class Ciphertext:
    """U (32 bytes) || nonce (24) || AEAD output (plaintext length + 16)."""

    u: bytes
    nonce: bytes
    body: bytes

    def to_bytes(self) -> bytes:
        return self.u + self.nonce + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> Ciphertext:
        if len(data) < 32 + _NONCE + _TAG:
            raise InvalidLengthError("ciphertext too short")
        return cls(_G.deserialize_element(data[:32]), data[32 : 32 + _NONCE], data[32 + _NONCE :])


def derive_key(shared: bytes, u: bytes, group_public_key: bytes, context: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), one 32-byte block: extract(salt, S || U), expand(info = PK || context)."""
    prk = hmac.new(_SALT, shared + u, hashlib.sha256).digest()
    return hmac.new(prk, group_public_key + context + b"\x01", hashlib.sha256).digest()


def encrypt(
    group_public_key: bytes, plaintext: bytes, aad: bytes = b"", context: bytes = b"", *, rng: RandomBytes | None = None
) -> Ciphertext:
    pk = _G.deserialize_element(group_public_key)  # rejects small-order / identity keys (would fix S)
    r = 0
    while r == 0:
        r = _G.random_scalar(rng)
    u = _G.base_mult(r)
    key = derive_key(_G.mult(pk, r), u, pk, context)
    nonce = (rng or secrets.token_bytes)(_NONCE)
    return Ciphertext(u, nonce, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key))


def decrypt_with_shared_point(
    shared: bytes, ciphertext: Ciphertext, group_public_key: bytes, aad: bytes = b"", context: bytes = b""
) -> bytes:
    """Decrypt once S is known; raises DecryptionError on a wrong key, aad or context, or tampering."""
    if len(ciphertext.nonce) != _NONCE:
        raise InvalidLengthError("nonce must be 24 bytes")
    key = derive_key(shared, ciphertext.u, group_public_key, context)
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext.body, aad, ciphertext.nonce, key)
    except CryptoError as exc:
        raise DecryptionError("ciphertext does not authenticate (wrong key, associated data or tampered)") from exc
