"""The state key: a secret every enclave of the committee recovers, and nobody else can.

    P      = from_uniform(h[:32]) + from_uniform(h[32:]),  h = SHA-512("phala-bridge/confidential/state-key/v" | v)
    S      = sk * P          (sk: the committee's threshold encryption key; nobody holds it whole)
    master = HKDF-SHA256(salt "phala-bridge/confidential/state-master/v1", S | P, info = PK | v)

P is a fixed point of the prime-order subgroup with unknown discrete logarithm (libsodium's Elligator 2 map, twice,
summed). Recovering S is a threshold decryption of the constant "ciphertext" `state_key_request()` (U = P): t
members each return s_i * P with a DLEQ proof (`enclave_signer.tdec.decryption_share`, the same code and committee
session as any decryption), and the enclave combines them (`StateKeyring.recover`). Nothing is generated, stored or
published: the key is a function of the group secret, which resharing keeps, so a new committee recovers the same
key and replays the old events. `version` allows a later rotation (re-encrypting the log under v+1).

Per contract, the master key expands to an event key and a nonce key. Events are sealed deterministically
(XChaCha20-Poly1305, nonce = HMAC(nonce key, aad | plaintext)[:24], aad = contract | call id | seq | version): every
honest enclave produces the same bytes, so the record and its digest can be compared across enclaves. The aad is
unique per event, so a repeated nonce never meets a different message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import DecryptionError
from enclave_signer.tdec.ecies import Ciphertext
from enclave_signer.tdec.threshold import DecryptionShare, combine_shares

__all__ = ["STATE_KEY_VERSION", "StateKeyring", "state_key_point", "state_key_request"]

STATE_KEY_VERSION = 1
_G = ED25519.group
_POINT_DOMAIN = b"phala-bridge/confidential/state-key/v"
_MASTER_SALT = b"phala-bridge/confidential/state-master/v1"
_EVENT_DOMAIN = b"phala-bridge/confidential-event/v1\x00"
_NONCE = 24


def state_key_point(version: int = STATE_KEY_VERSION) -> bytes:
    h = hashlib.sha512(_POINT_DOMAIN + bytes([version])).digest()
    a = sodium.crypto_core_ed25519_from_uniform(h[:32])
    b = sodium.crypto_core_ed25519_from_uniform(h[32:])
    return _G.deserialize_element(sodium.crypto_core_ed25519_add(a, b))


def state_key_request(version: int = STATE_KEY_VERSION) -> Ciphertext:
    """What a recovering enclave asks t members to "decrypt" (the tdec session's ciphertext, 72 bytes)."""
    return Ciphertext(state_key_point(version), bytes(_NONCE), bytes(16))


def _hkdf(salt: bytes, ikm: bytes, info: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


class StateKeyring:
    """The master state key of one version. Never printed, never pickled; only sealed events leave it."""

    __slots__ = ("_master", "version")

    def __init__(self, master: bytes, version: int = STATE_KEY_VERSION) -> None:
        if not isinstance(master, bytes) or len(master) != 32:
            raise ValueError("a master state key is 32 bytes")
        if not 1 <= version <= 255:
            raise ValueError("a state key version is 1..255")
        self._master = master
        self.version = version

    @classmethod
    def recover(
        cls,
        shares: Sequence[DecryptionShare],
        verifying_shares: Mapping[int, bytes],
        threshold: int,
        group_public_key: bytes,
        version: int = STATE_KEY_VERSION,
    ) -> StateKeyring:
        """From t decryption shares of `state_key_request(version)`. A share whose proof fails raises
        `InvalidDecryptionShareError` naming its member (ask another member)."""
        request = state_key_request(version)
        shared = combine_shares(request, shares, verifying_shares, threshold)
        pk = _G.deserialize_element(group_public_key)
        return cls(_hkdf(_MASTER_SALT, shared + request.u, pk + bytes([version])), version)

    def key_id(self) -> bytes:
        """A public 8-byte fingerprint (a PRF output): enclaves and operators compare it, it reveals nothing."""
        return hmac.new(self._master, b"key-id", hashlib.sha256).digest()[:8]

    def _keys(self, contract_id: bytes) -> tuple[bytes, bytes]:
        enc = hmac.new(self._master, b"event-key\x00" + contract_id, hashlib.sha256).digest()
        nonce = hmac.new(self._master, b"event-nonce\x00" + contract_id, hashlib.sha256).digest()
        return enc, nonce

    def _aad(self, contract_id: bytes, call_id: bytes, seq: int) -> bytes:
        return _EVENT_DOMAIN + contract_id + call_id + seq.to_bytes(8, "big") + bytes([self.version])

    def seal_event(self, contract_id: bytes, call_id: bytes, seq: int, plaintext: bytes) -> bytes:
        enc, nonce_key = self._keys(contract_id)
        aad = self._aad(contract_id, call_id, seq)
        nonce = hmac.new(nonce_key, len(aad).to_bytes(2, "big") + aad + plaintext, hashlib.sha256).digest()[:_NONCE]
        return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, enc)

    def open_event(self, contract_id: bytes, call_id: bytes, seq: int, sealed: bytes) -> bytes:
        """Raises DecryptionError for a wrong key, position or contract, or tampering."""
        enc, _ = self._keys(contract_id)
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed[_NONCE:], self._aad(contract_id, call_id, seq), sealed[:_NONCE], enc
            )
        except (CryptoError, ValueError, TypeError) as exc:
            raise DecryptionError("a sealed event does not authenticate at this position") from exc

    def __repr__(self) -> str:
        return f"StateKeyring(version={self.version}, key_id={self.key_id().hex()}, master=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a StateKeyring is not serializable")
