"""The devnet's simulated TEE platform: a root key that signs quotes, and the platform secret sealing is bound to.

It stands in for the hardware: in SGX/TDX the root is the vendor's certificate chain and the secret is the CPU's
sealing key, neither reachable by software. Here both live in the process, so the simulation proves the protocol,
not isolation. `from_seed` makes a node's platform stable across restarts, so what it sealed stays unsealable.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

import nacl.signing

from enclave_signer.attestation.quote import NONCE_SIZE, SIMULATED_FORMAT, Quote, signed_bytes
from enclave_signer.identity import validate_public_key
from enclave_signer.measurement import Measurement, current_measurement
from enclave_signer.sealing import Sealer, hkdf_sha256

__all__ = ["SimulatedPlatform"]

_SEED_SALT = b"phala-bridge/simulated-platform/v1"
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SimulatedPlatform:
    def __init__(
        self,
        platform_id: str,
        root_key: nacl.signing.SigningKey,
        platform_secret: bytes,
        *,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        if not _PLATFORM_ID.fullmatch(platform_id):
            raise ValueError(f"bad platform id {platform_id!r}")
        if len(platform_secret) < 32:
            raise ValueError("the platform secret must be at least 32 bytes")
        self.platform_id = platform_id
        self._root = root_key
        self._secret = platform_secret
        self._clock = clock
        self.root_public_key: bytes = bytes(root_key.verify_key)

    @classmethod
    def generate(cls, platform_id: str, *, clock: Callable[[], int] = _now_ms) -> SimulatedPlatform:
        return cls(platform_id, nacl.signing.SigningKey.generate(), secrets.token_bytes(32), clock=clock)

    @classmethod
    def from_seed(cls, platform_id: str, seed: bytes, *, clock: Callable[[], int] = _now_ms) -> SimulatedPlatform:
        if len(seed) < 32:
            raise ValueError("a platform seed must be at least 32 bytes")
        ident = platform_id.encode()
        root = hkdf_sha256(seed, salt=_SEED_SALT, info=b"root-key|" + ident)
        secret = hkdf_sha256(seed, salt=_SEED_SALT, info=b"platform-secret|" + ident)
        return cls(platform_id, nacl.signing.SigningKey(root), secret, clock=clock)

    def platform_secret(self) -> bytes:
        return self._secret

    def sealer(self, measurement: Measurement | None = None) -> Sealer:
        return Sealer(self._secret, measurement)

    def quote(self, *, identity_public_key: bytes, nonce: bytes, measurement: Measurement | None = None) -> Quote:
        """Sign a quote for an enclave (the measurement defaults to this process's build)."""
        validate_public_key(identity_public_key)
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"a freshness nonce is {NONCE_SIZE} bytes")
        m = (measurement or current_measurement()).value
        ts = self._clock()
        body = signed_bytes(
            format=SIMULATED_FORMAT,
            platform_id=self.platform_id,
            measurement=m,
            identity_public_key=identity_public_key,
            nonce=nonce,
            timestamp_ms=ts,
        )
        return Quote(
            format=SIMULATED_FORMAT,
            platform_id=self.platform_id,
            measurement=m,
            identity_public_key=identity_public_key,
            nonce=nonce,
            timestamp_ms=ts,
            signature=self._root.sign(body).signature,
        )

    def __repr__(self) -> str:
        root = self.root_public_key.hex()
        return f"SimulatedPlatform(platform_id={self.platform_id!r}, root={root}, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SimulatedPlatform holds secrets and cannot be pickled")
