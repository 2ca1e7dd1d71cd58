"""A committee member's identity key (Ed25519): generated inside the enclave, sealed at rest, only the public key
leaves. It signs committee envelopes; its X25519 form (RFC 7748 birational map) receives encrypted payloads.
"""

from __future__ import annotations

from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing
import structlog

from enclave_signer.sealing import Sealer

__all__ = [
    "IDENTITY_PURPOSE",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "IdentityKey",
    "InvalidIdentityKeyError",
    "ed25519_to_x25519_public",
    "validate_public_key",
    "verify_signature",
]

_log = structlog.get_logger(__name__)

IDENTITY_PURPOSE = "identity-key"
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class InvalidIdentityKeyError(ValueError):
    """A public key that is not a usable Ed25519 point (wrong length, off-curve, small order)."""


class IdentityKey:
    """The private half stays in this object: no accessor returns it, repr shows the public key, pickling fails."""

    __slots__ = ("_signing", "_x25519_secret", "public_key", "x25519_public_key")

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing = signing_key
        self.public_key: bytes = bytes(signing_key.verify_key)
        self._x25519_secret = bytes(signing_key.to_curve25519_private_key())
        self.x25519_public_key: bytes = ed25519_to_x25519_public(self.public_key)

    @classmethod
    def generate(cls) -> IdentityKey:
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def unseal(cls, sealer: Sealer, blob: bytes) -> IdentityKey:
        return cls(nacl.signing.SigningKey(sealer.unseal(blob, purpose=IDENTITY_PURPOSE)))

    @classmethod
    def load(cls, sealer: Sealer, path: Path) -> IdentityKey:
        key = cls(nacl.signing.SigningKey(sealer.unseal_file(path, purpose=IDENTITY_PURPOSE)))
        _log.info("identity_loaded", public_key=key.public_key.hex())
        return key

    @classmethod
    def load_or_generate(cls, sealer: Sealer, path: Path) -> IdentityKey:
        """The enclave's start-up path: the sealed identity if there is one, else a new one, sealed at once."""
        if path.exists():
            return cls.load(sealer, path)
        key = cls.generate()
        key.save(sealer, path)
        _log.info("identity_generated", public_key=key.public_key.hex())
        return key

    def seal(self, sealer: Sealer) -> bytes:
        return sealer.seal(bytes(self._signing), purpose=IDENTITY_PURPOSE)

    def save(self, sealer: Sealer, path: Path) -> None:
        sealer.seal_to_file(path, bytes(self._signing), purpose=IDENTITY_PURPOSE)

    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message).signature

    def key_agreement(self, peer_x25519_public: bytes) -> bytes:
        """X25519(our secret, peer public); raises InvalidIdentityKeyError on a low-order peer key (all-zero output)."""
        # Check the length here: the binding hands the buffer to C unchecked.
        if not isinstance(peer_x25519_public, bytes) or len(peer_x25519_public) != PUBLIC_KEY_SIZE:
            raise InvalidIdentityKeyError(f"an X25519 public key is {PUBLIC_KEY_SIZE} bytes")
        try:
            return nacl.bindings.crypto_scalarmult(self._x25519_secret, peer_x25519_public)
        except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, ValueError, TypeError):
            raise InvalidIdentityKeyError("peer X25519 key is invalid or of low order") from None

    def open_sealed_box(self, sealed: bytes) -> bytes:
        """Open a libsodium sealed box addressed to our X25519 key (e.g. a decryption share); raises
        nacl.exceptions.CryptoError when it is not for us. The secret never leaves this object."""
        return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(self._x25519_secret)).decrypt(sealed))

    def __repr__(self) -> str:
        return f"IdentityKey(public_key={self.public_key.hex()}, private=<sealed>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an IdentityKey cannot be pickled: seal it instead")


def validate_public_key(public_key: bytes) -> bytes:
    """Check an Ed25519 public key: 32 bytes, a valid point of the main subgroup, not of small order."""
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
        raise InvalidIdentityKeyError(f"an identity public key is {PUBLIC_KEY_SIZE} bytes")
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
        raise InvalidIdentityKeyError("identity public key is not a valid Ed25519 point (or is of small order)")
    return public_key


def ed25519_to_x25519_public(public_key: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(validate_public_key(public_key))
    except nacl.exceptions.RuntimeError:
        raise InvalidIdentityKeyError("identity public key has no X25519 form") from None


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification (libsodium's: canonical encodings, no small-order keys)."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True
