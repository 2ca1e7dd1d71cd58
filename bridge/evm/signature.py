"""The signature executeBatch and the governance functions take, and secp256k1 point encoding (pure Python).

    Signature = (R.x, R.y, SerializeScalar(z), PK.x)   (the contract's `Signature` struct: 128 bytes of calldata)

R travels uncompressed because the contract needs R.y for the address it compares with ecrecover's output, and
decompressing on chain (a modexp) would cost more than the 32 bytes of calldata. PK.x travels too: the contract
keeps only a 24-byte tag of it (keccak256(PK.x)[:24]) and PK.y's parity in the storage word that also holds the epoch
and the pause flag, which saves a cold storage read (2.1k gas) on every batch for ~0.5k gas of calldata.
"""

from __future__ import annotations

from typing import Protocol

from eth_hash.auto import keccak

from bridge.evm.batch import BatchEncodingError

__all__ = [
    "SIGNATURE_LENGTH",
    "EvmSignature",
    "SchnorrSignature",
    "compress_point",
    "decompress_point",
    "encode_signature",
    "key_tag",
    "signature_bytes",
]

SIGNATURE_LENGTH = 128
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class SchnorrSignature(Protocol):
    """What a FROST signature provides (enclave_signer.frost.Signature fits): R compressed, z an int."""

    @property
    def R(self) -> bytes: ...  # the RFC name

    @property
    def z(self) -> int: ...


def decompress_point(point: bytes) -> tuple[int, int]:
    """Affine (x, y) of a 33-byte compressed secp256k1 point; raises BatchEncodingError if it is not one."""
    if len(point) != 33 or point[0] not in (2, 3):
        raise BatchEncodingError("a compressed secp256k1 point is 33 bytes starting with 02 or 03")
    x = int.from_bytes(point[1:], "big")
    if x >= P:
        raise BatchEncodingError("point x is not a field element")
    rhs = (pow(x, 3, P) + 7) % P
    y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
    if y * y % P != rhs:
        raise BatchEncodingError("x is not the x-coordinate of a secp256k1 point")
    if y & 1 != point[0] & 1:
        y = P - y
    return x, y


def compress_point(x: int, y: int) -> bytes:
    """33-byte compressed SEC1 encoding of (x, y) (checked to be on the curve)."""
    if not (0 <= x < P and 0 <= y < P) or (y * y - x * x * x - 7) % P:
        raise BatchEncodingError("(x, y) is not a secp256k1 point")
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def key_tag(group_public_key: bytes) -> bytes:
    """The 24-byte tag the contract stores for a key: keccak256(PK.x as 32 bytes)[:24] (parity is kept apart)."""
    x, _ = decompress_point(group_public_key)
    return bytes(keccak(x.to_bytes(32, "big")))[:24]


EvmSignature = tuple[int, int, bytes, int]
"""The contract's Signature struct as web3 takes it: (R.x, R.y, z as 32 bytes big-endian, PK.x)."""


def encode_signature(signature: SchnorrSignature, group_public_key: bytes) -> EvmSignature:
    """The contract's Signature struct (R.x, R.y, z, PK.x) for executeBatch and the governance functions."""
    rx, ry = decompress_point(bytes(signature.R))
    z = signature.z
    if isinstance(z, bool) or not isinstance(z, int) or not 0 <= z < N:
        raise BatchEncodingError("z must be a scalar in [0, n)")
    pk_x, _ = decompress_point(group_public_key)
    return rx, ry, z.to_bytes(32, "big"), pk_x


def signature_bytes(signature: EvmSignature) -> bytes:
    """The 128 bytes the Signature struct occupies in calldata (R.x | R.y | z | PK.x)."""
    rx, ry, z, pk_x = signature
    return rx.to_bytes(32, "big") + ry.to_bytes(32, "big") + bytes(z) + pk_x.to_bytes(32, "big")
