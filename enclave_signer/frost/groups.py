"""Prime-order groups of RFC 9591 section 3.1: edwards25519 (libsodium) and secp256k1 (libsecp256k1).

Elements are plain `bytes` in one canonical form per group, so equality of points is equality of bytes:
- edwards25519: the 32-byte RFC 8032 encoding; the identity is `01 00..00` (encodable, but never serialized).
- secp256k1: the 33-byte SEC1 compressed encoding; the identity (the point at infinity, which coincurve cannot
  represent) is the sentinel `IDENTITY_SECP256K1 = b"\\x00"` and is handled before any library call.

Scalars are Python ints in [0, order). All point arithmetic is done by libsodium / libsecp256k1, which are
constant-time for secret scalars. Python int arithmetic on scalars (mod order, Lagrange, polynomial evaluation) and
the `k == 0` shortcuts below are *not* constant-time: they leak timing about secret scalars to a local observer.
This is accepted for the enclave model (no co-tenant timing oracle over the committee API) and noted in docs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Protocol

import coincurve
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from enclave_signer.frost.errors import (
    IdentityPointError,
    InvalidLengthError,
    InvalidPointError,
    InvalidScalarError,
    SmallOrderPointError,
)

__all__ = [
    "ED25519_GROUP",
    "IDENTITY_ED25519",
    "IDENTITY_SECP256K1",
    "SECP256K1_GROUP",
    "Ed25519Group",
    "Group",
    "RandomBytes",
    "Secp256k1Group",
]

RandomBytes = Callable[[int], bytes]
"""Source of randomness: n -> n bytes. Defaults to `secrets.token_bytes`; tests inject deterministic ones."""

L_ED25519 = 2**252 + 27742317777372353535851937790883648493
N_SECP256K1 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
IDENTITY_ED25519 = b"\x01" + bytes(31)
IDENTITY_SECP256K1 = b"\x00"


class Group(Protocol):
    """The group interface FROST needs (RFC 9591 section 3.1), with elements as canonical bytes."""

    name: str
    order: int
    element_length: int  # Ne
    scalar_length: int  # Ns
    identity: bytes

    def base_mult(self, k: int) -> bytes: ...
    def mult(self, element: bytes, k: int) -> bytes: ...
    def add(self, a: bytes, b: bytes) -> bytes: ...
    def sum(self, elements: Iterable[bytes]) -> bytes: ...
    def serialize_element(self, element: bytes) -> bytes: ...
    def deserialize_element(self, data: bytes) -> bytes: ...
    def serialize_scalar(self, k: int) -> bytes: ...
    def deserialize_scalar(self, data: bytes) -> int: ...
    def random_scalar(self, rng: RandomBytes | None = None) -> int: ...


class _ScalarMixin:
    """Scalar encoding shared by both groups (they differ only in byte order) and wide-reduction sampling."""

    name: str
    order: int
    scalar_length: int = 32
    _byteorder: str

    def serialize_scalar(self, k: int) -> bytes:
        if not 0 <= k < self.order:
            raise InvalidScalarError(f"{self.name}: scalar out of range")
        return k.to_bytes(32, self._byteorder)  # type: ignore[arg-type]

    def deserialize_scalar(self, data: bytes) -> int:
        if len(data) != 32:
            raise InvalidLengthError(f"{self.name}: scalar must be 32 bytes, got {len(data)}")
        k = int.from_bytes(data, self._byteorder)  # type: ignore[arg-type]
        if k >= self.order:
            raise InvalidScalarError(f"{self.name}: scalar is not reduced (>= group order)")
        return k

    def random_scalar(self, rng: RandomBytes | None = None) -> int:
        # RFC 9591 appendix D.2, wide reduction: 64 bytes >> 1.5 * 256 bits, bias < 2^-250.
        return int.from_bytes((rng or secrets.token_bytes)(64), "big") % self.order


class Ed25519Group(_ScalarMixin):
    """edwards25519 prime-order subgroup through libsodium's crypto_core_ed25519 / scalarmult_ed25519 (noclamp)."""

    name = "edwards25519"
    order = L_ED25519
    element_length = 32
    identity = IDENTITY_ED25519
    _byteorder = "little"

    def base_mult(self, k: int) -> bytes:
        k %= self.order
        if k == 0:  # libsodium refuses a zero scalar (its result would be the identity)
            return IDENTITY_ED25519
        return sodium.crypto_scalarmult_ed25519_base_noclamp(k.to_bytes(32, "little"))

    def mult(self, element: bytes, k: int) -> bytes:
        k %= self.order
        if k == 0 or element == IDENTITY_ED25519:
            return IDENTITY_ED25519
        # libsodium rejects non-canonical, small-order and non-subgroup inputs here: a second line of defence.
        return sodium.crypto_scalarmult_ed25519_noclamp(k.to_bytes(32, "little"), element)

    def add(self, a: bytes, b: bytes) -> bytes:
        return sodium.crypto_core_ed25519_add(a, b)

    def sum(self, elements: Iterable[bytes]) -> bytes:
        acc = IDENTITY_ED25519
        for e in elements:
            acc = sodium.crypto_core_ed25519_add(acc, e)
        return acc

    def serialize_element(self, element: bytes) -> bytes:
        if element == IDENTITY_ED25519:
            raise IdentityPointError("edwards25519: the identity element cannot be serialized")
        return element

    def deserialize_element(self, data: bytes) -> bytes:
        if len(data) != 32:
            raise InvalidLengthError(f"edwards25519: element must be 32 bytes, got {len(data)}")
        if data == IDENTITY_ED25519:
            raise IdentityPointError("edwards25519: identity element")
        # is_valid_point: canonical encoding, on the curve, not of small order, in the prime-order subgroup.
        if sodium.crypto_core_ed25519_is_valid_point(data):
            return bytes(data)
        raise self._classify_invalid(data)

    def _classify_invalid(self, data: bytes) -> InvalidPointError:
        """Say why libsodium refused a point: small order (torsion) or simply invalid / non-canonical."""
        try:
            # [L]P is the identity for a subgroup point; for a torsion point [8]P is. Add P to itself 3 times
            # (the add primitive only checks "on curve"), so off-curve or non-canonical data raises instead.
            p2 = sodium.crypto_core_ed25519_add(data, data)
            p4 = sodium.crypto_core_ed25519_add(p2, p2)
            p8 = sodium.crypto_core_ed25519_add(p4, p4)
        except (CryptoError, RuntimeError, ValueError):
            return InvalidPointError("edwards25519: not a valid point encoding")
        if p8 == IDENTITY_ED25519:
            return SmallOrderPointError("edwards25519: point of small order")
        return InvalidPointError("edwards25519: point is non-canonical or outside the prime-order subgroup")


class Secp256k1Group(_ScalarMixin):
    """secp256k1 through libsecp256k1 (coincurve); the point at infinity is the sentinel b"\\x00"."""

    name = "secp256k1"
    order = N_SECP256K1
    element_length = 33
    identity = IDENTITY_SECP256K1
    _byteorder = "big"

    def base_mult(self, k: int) -> bytes:
        k %= self.order
        if k == 0:
            return IDENTITY_SECP256K1
        return coincurve.PublicKey.from_valid_secret(k.to_bytes(32, "big")).format(compressed=True)

    def mult(self, element: bytes, k: int) -> bytes:
        k %= self.order
        if k == 0 or element == IDENTITY_SECP256K1:
            return IDENTITY_SECP256K1
        return coincurve.PublicKey(element).multiply(k.to_bytes(32, "big")).format(compressed=True)

    def add(self, a: bytes, b: bytes) -> bytes:
        return self.sum((a, b))

    def sum(self, elements: Iterable[bytes]) -> bytes:
        keys = [coincurve.PublicKey(e) for e in elements if e != IDENTITY_SECP256K1]
        if not keys:
            return IDENTITY_SECP256K1
        if len(keys) == 1:
            return keys[0].format(compressed=True)
        try:
            return coincurve.PublicKey.combine_keys(keys).format(compressed=True)
        except ValueError:  # libsecp256k1 refuses a sum at infinity: that sum is the identity
            return IDENTITY_SECP256K1

    def serialize_element(self, element: bytes) -> bytes:
        if element == IDENTITY_SECP256K1:
            raise IdentityPointError("secp256k1: the point at infinity cannot be serialized")
        return element

    def deserialize_element(self, data: bytes) -> bytes:
        if len(data) != 33:
            raise InvalidLengthError(f"secp256k1: element must be 33 bytes (compressed), got {len(data)}")
        if data[0] == 0 and not any(data[1:]):
            raise IdentityPointError("secp256k1: point at infinity")
        if data[0] not in (2, 3):
            raise InvalidPointError("secp256k1: not a compressed point encoding")
        try:
            # SEC1 3.2.2.1 validation: x < p and on the curve (libsecp256k1 parse); cofactor 1, no order check.
            point = coincurve.PublicKey(bytes(data))
        except (ValueError, TypeError) as exc:
            raise InvalidPointError("secp256k1: not a point on the curve") from exc
        if point.format(compressed=True) != data:
            raise InvalidPointError("secp256k1: non-canonical point encoding")
        return bytes(data)

    def to_xy(self, element: bytes) -> tuple[int, int]:
        """Affine (x, y) of a non-identity point (what the EVM verifier takes)."""
        x, y = coincurve.PublicKey(self.serialize_element(element)).point()
        return int(x), int(y)


ED25519_GROUP = Ed25519Group()
SECP256K1_GROUP = Secp256k1Group()
