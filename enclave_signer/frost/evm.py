"""Helpers for the Ethereum verifier of FROST(secp256k1, SHA-256) signatures (contracts take R uncompressed)."""

from __future__ import annotations

from enclave_signer.frost.ciphersuites import SECP256K1
from enclave_signer.frost.signing import compute_challenge
from enclave_signer.frost.types import Signature

__all__ = ["evm_challenge", "evm_key_supported", "point_xy", "signature_r_xy"]


def point_xy(element: bytes) -> tuple[int, int]:
    """Affine (x, y) of a 33-byte compressed secp256k1 point (validated first)."""
    return SECP256K1.group.to_xy(SECP256K1.group.deserialize_element(element))


def signature_r_xy(sig: Signature) -> tuple[int, int]:
    """R of a secp256k1 signature as uncompressed (x, y) ints."""
    return sig.r_xy()


def evm_challenge(group_public_key: bytes, msg: bytes, sig: Signature) -> int:
    """The RFC 9591 challenge c = H2(R || PK || msg) the contract recomputes (expand_message_xmd, DST ...chal)."""
    g = SECP256K1.group
    return compute_challenge(SECP256K1, g.deserialize_element(sig.R), g.deserialize_element(group_public_key), msg)


def evm_key_supported(group_public_key: bytes) -> bool:
    """The ecrecover trick needs PK.x < n (true except with probability ~2^-128); check when registering a key."""
    x, _ = point_xy(group_public_key)
    return x < SECP256K1.group.order
