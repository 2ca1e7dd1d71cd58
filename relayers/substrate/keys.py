"""Keypairs for signing extrinsics: sr25519 from a derivation URI, ed25519 from a 32-byte seed.

substrate-interface derives `//Alice`-style URIs for sr25519 only, so ed25519 keys (like the committee's bridge
account) come from a seed.
"""

from __future__ import annotations

from substrateinterface import Keypair, KeypairType


def keypair_from_uri(uri: str, ss58_format: int = 42) -> Keypair:
    return Keypair.create_from_uri(uri, ss58_format=ss58_format, crypto_type=KeypairType.SR25519)


def keypair_from_ed25519_seed(seed: bytes | str, ss58_format: int = 42) -> Keypair:
    seed_hex = seed if isinstance(seed, str) else "0x" + seed.hex()
    return Keypair.create_from_seed(seed_hex, ss58_format=ss58_format, crypto_type=KeypairType.ED25519)
