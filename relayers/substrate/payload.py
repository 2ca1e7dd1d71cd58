"""The signing payload and the signed extrinsic of a v4 transaction, built by hand from the runtime's facts (pure).

payload = call ‖ extra ‖ additional, each signed extension contributing to `extra` (carried in the extrinsic) and to
`additional` (implied, checked by the runtime), in the runtime's extension order; hashed with blake2-256 when it is
longer than 256 bytes (what the runtime verifies). The bridge always signs immortal (era 0x00, additional = genesis
hash), with no tip and fees paid in the native token. Extensions this module does not know are accepted only when
the metadata says they carry no data at all; any other is refused (`UnsupportedExtension`), never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.errors import InputError
from relayers.substrate.bridge_calls import CallIndices
from relayers.substrate.scale import blake2_256, byte_vec, compact

IMMORTAL_ERA = b"\x00"
ED25519_SIGNATURE = 0x00  # MultiSignature::Ed25519
ID_ADDRESS = 0x00  # MultiAddress::Id
SIGNED_V4 = 0x84
_U32 = 2**32 - 1


class UnsupportedExtension(InputError):
    """A signed extension whose encoding this module does not know; signing anything would be guessing."""


@dataclass(frozen=True)
class SignedExtension:
    name: str
    extra_empty: bool  # the metadata's `ty` is an empty tuple or struct
    additional_empty: bool  # the metadata's `additional_signed` is empty


@dataclass(frozen=True)
class RuntimeFacts:
    """What a transaction's encoding depends on, read from a chain at one block (or configured in an enclave)."""

    genesis_hash: bytes
    spec_version: int
    transaction_version: int
    indices: CallIndices
    extensions: tuple[SignedExtension, ...]

    def __post_init__(self) -> None:
        # Read from a node (or a config): checked here so a hostile value is refused, never signed or overflowed.
        for what, value in (("spec version", self.spec_version), ("transaction version", self.transaction_version)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32:
                raise InputError(f"a runtime's {what} is a u32, got {value!r:.80}")
        if not isinstance(self.genesis_hash, bytes) or len(self.genesis_hash) != 32:
            raise InputError(f"a genesis hash is 32 bytes, got {self.genesis_hash!r:.80}")


def _extra(ext: SignedExtension, nonce: int) -> bytes:
    match ext.name:
        case "CheckMortality" | "CheckEra":
            return IMMORTAL_ERA
        case "CheckNonce":
            return compact(nonce)
        case "ChargeTransactionPayment":
            return compact(0)  # tip
        case "ChargeAssetTxPayment":
            return compact(0) + b"\x00"  # tip, asset id None: fees in the native token
        case "CheckMetadataHash":
            return b"\x00"  # mode: disabled
    if ext.extra_empty:
        return b""
    raise UnsupportedExtension(f"signed extension {ext.name} carries data this signer does not know how to encode")


def _additional(ext: SignedExtension, facts: RuntimeFacts) -> bytes:
    match ext.name:
        case "CheckSpecVersion":
            return facts.spec_version.to_bytes(4, "little")
        case "CheckTxVersion":
            return facts.transaction_version.to_bytes(4, "little")
        case "CheckGenesis" | "CheckMortality" | "CheckEra":
            return facts.genesis_hash  # immortal: the era's block is the genesis block
        case "CheckMetadataHash":
            return b"\x00"  # no metadata hash
    if ext.additional_empty:
        return b""
    raise UnsupportedExtension(f"signed extension {ext.name} signs data this signer does not know how to encode")


def extra_bytes(facts: RuntimeFacts, nonce: int) -> bytes:
    return b"".join(_extra(e, nonce) for e in facts.extensions)


def signing_payload(facts: RuntimeFacts, call: bytes, nonce: int) -> bytes:
    """The exact bytes an ed25519 key signs for `call` at account nonce `nonce` (immortal, no tip)."""
    additional = b"".join(_additional(e, facts) for e in facts.extensions)
    raw = call + extra_bytes(facts, nonce) + additional
    return blake2_256(raw) if len(raw) > 256 else raw


def signed_extrinsic(facts: RuntimeFacts, call: bytes, nonce: int, signer: bytes, signature: bytes) -> bytes:
    """The v4 extrinsic carrying `call` signed by ed25519 account `signer`, length-prefixed as submitted."""
    if len(signer) != 32 or len(signature) != 64:
        raise InputError("an ed25519 signer is 32 bytes and its signature 64")
    body = bytes([SIGNED_V4, ID_ADDRESS]) + signer + bytes([ED25519_SIGNATURE]) + signature
    return byte_vec(body + extra_bytes(facts, nonce) + call)


def extensions_from(names_and_emptiness: Sequence[tuple[str, bool, bool]]) -> tuple[SignedExtension, ...]:
    return tuple(SignedExtension(n, extra, add) for n, extra, add in names_and_emptiness)


__all__ = [
    "RuntimeFacts",
    "SignedExtension",
    "UnsupportedExtension",
    "extensions_from",
    "extra_bytes",
    "signed_extrinsic",
    "signing_payload",
]
