"""The attestation quote: a platform's signed statement that an enclave build holds an identity key.

What the platform signs (`signed_bytes`) is a domain-separated, length-prefixed encoding of every field but the
signature. For the simulated platform `signature` is an Ed25519 signature by the platform root; a real TEE puts its
evidence there (an SGX/TDX DCAP quote whose report data is SHA-256 of `signed_bytes`), with its own `format`.
The digest covers the signature too: it names exactly this quote (the committee record on Phala stores it).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from enclave_signer.attestation.errors import MalformedQuoteError

__all__ = ["NONCE_SIZE", "SIMULATED_FORMAT", "Quote", "new_nonce"]

SIMULATED_FORMAT = "sim-ed25519-v1"
NONCE_SIZE = 32
_SIGNED_DOMAIN = b"phala-bridge/attestation/quote/v1\x00"
_DIGEST_DOMAIN = b"phala-bridge/attestation/quote-digest/v1\x00"


def _from_hex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise ValueError("expected hex") from None
    return value


HexBytes = Annotated[
    bytes, BeforeValidator(_from_hex), PlainSerializer(lambda b: b.hex(), return_type=str, when_used="json")
]
Bytes32 = Annotated[HexBytes, Field(min_length=32, max_length=32)]
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def new_nonce() -> bytes:
    """A fresh freshness nonce: the verifier issues one per admission and uses it once."""
    return secrets.token_bytes(NONCE_SIZE)


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Label = SIMULATED_FORMAT
    platform_id: Label
    measurement: Bytes32
    identity_public_key: Bytes32
    nonce: Bytes32
    timestamp_ms: Annotated[int, Field(ge=0, lt=2**63)]
    # Room for a real TEE's evidence (DCAP quotes are a few KiB with their certificate chain).
    signature: Annotated[HexBytes, Field(min_length=1, max_length=65_536)]

    def signed_bytes(self) -> bytes:
        return signed_bytes(
            format=self.format,
            platform_id=self.platform_id,
            measurement=self.measurement,
            identity_public_key=self.identity_public_key,
            nonce=self.nonce,
            timestamp_ms=self.timestamp_ms,
        )

    def digest(self) -> bytes:
        """SHA-256 naming this exact quote, signature included."""
        sig = self.signature
        return hashlib.sha256(_DIGEST_DOMAIN + self.signed_bytes() + len(sig).to_bytes(4, "big") + sig).digest()

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Quote:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            # Field names and error kinds only: the input itself is untrusted and may be large.
            fields = sorted({".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()})
            raise MalformedQuoteError(f"malformed quote: bad fields {fields}") from None


def signed_bytes(
    *, format: str, platform_id: str, measurement: bytes, identity_public_key: bytes, nonce: bytes, timestamp_ms: int
) -> bytes:
    out = bytearray(_SIGNED_DOMAIN)
    for label in (format, platform_id):
        raw = label.encode("ascii")
        out += len(raw).to_bytes(1, "big") + raw
    out += measurement + identity_public_key + nonce + timestamp_ms.to_bytes(8, "big")
    return bytes(out)
