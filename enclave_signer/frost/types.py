"""Values exchanged in FROST signing: nonce commitments, secret nonces, signatures (RFC 9591 sections 5, app. A)."""

from __future__ import annotations

from dataclasses import dataclass, field

from enclave_signer.frost.ciphersuites import SECP256K1, Ciphersuite
from enclave_signer.frost.errors import InvalidLengthError, InvalidParametersError, NonceReuseError

__all__ = ["Signature", "SigningCommitment", "SigningNonces"]


@dataclass(frozen=True)
class SigningCommitment:
    """Round-one public output of participant `identifier`: (hiding, binding) nonce commitments, serialized."""

    identifier: int
    hiding: bytes
    binding: bytes

    def __repr__(self) -> str:
        return (
            f"SigningCommitment(identifier={self.identifier}, hiding={self.hiding.hex()}, binding={self.binding.hex()})"
        )


class SigningNonces:
    """Round-one secret output: (hiding, binding) nonces, usable for exactly one `sign` call.

    `consume()` hands the nonces out once and then forgets them, so an accidental second use raises
    NonceReuseError instead of leaking the key share (two shares over one nonce pair reveal s_i). Python cannot
    truly wipe ints from memory; dropping the references is the best it can do.
    """

    __slots__ = ("_binding", "_hiding", "commitment")

    def __init__(self, hiding: int, binding: int, commitment: SigningCommitment) -> None:
        self._hiding: int | None = hiding
        self._binding: int | None = binding
        self.commitment = commitment

    @property
    def used(self) -> bool:
        return self._hiding is None

    def consume(self) -> tuple[int, int]:
        if self._hiding is None or self._binding is None:
            raise NonceReuseError(f"nonces of participant {self.commitment.identifier} were already used")
        pair = (self._hiding, self._binding)
        self._hiding = self._binding = None
        return pair

    def __repr__(self) -> str:
        state = "used" if self.used else "fresh"
        return f"SigningNonces(identifier={self.commitment.identifier}, {state}, secret=<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Signature:
    """A Schnorr signature (R, z): R serialized (33-byte compressed / 32-byte Ed25519), z an int in [0, order)."""

    R: bytes
    z: int
    suite: Ciphersuite = field(repr=False, compare=False)

    def to_bytes(self) -> bytes:
        """RFC 9591 appendix A encoding: SerializeElement(R) || SerializeScalar(z)."""
        g = self.suite.group
        return g.serialize_element(self.R) + g.serialize_scalar(self.z)

    @classmethod
    def from_bytes(cls, suite: Ciphersuite, data: bytes) -> Signature:
        """Parse and validate (R must be a valid non-identity element, z a reduced scalar)."""
        g = suite.group
        if len(data) != g.element_length + g.scalar_length:
            raise InvalidLengthError(f"{suite.name}: signature must be {g.element_length + g.scalar_length} bytes")
        r = g.deserialize_element(data[: g.element_length])
        return cls(r, g.deserialize_scalar(data[g.element_length :]), suite)

    def r_xy(self) -> tuple[int, int]:
        """R as affine (x, y) ints, what the Ethereum verifier takes (secp256k1 only)."""
        if self.suite.name != SECP256K1.name:
            raise InvalidParametersError("r_xy is defined for FROST(secp256k1, SHA-256) signatures only")
        return SECP256K1.group.to_xy(self.R)
