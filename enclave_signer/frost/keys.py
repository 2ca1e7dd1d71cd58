"""Key material: polynomials, Shamir sharing, Feldman VSS, Lagrange coefficients, trusted dealer (RFC 9591 app. C).

Secret scalars are Python ints: arithmetic on them is not constant-time (see groups.py); point work is in C.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.errors import InvalidIdentifierError, InvalidParametersError, InvalidScalarError
from enclave_signer.frost.groups import RandomBytes

__all__ = [
    "KeyShare",
    "check_identifiers",
    "derive_group_info",
    "derive_interpolating_value",
    "polynomial_evaluate",
    "secret_share_combine",
    "secret_share_shard",
    "split_secret",
    "trusted_dealer_keygen",
    "vss_commit",
    "vss_evaluate",
    "vss_verify",
]


@dataclass(frozen=True)
class KeyShare:
    """One participant's signing share. `secret` never appears in repr/str (project rule: no secrets in logs).

    identifier: the participant's NonZeroScalar id; secret: s_i; public: Y_i = s_i*G serialized (verification
    share); group_public_key: serialized; threshold: MIN_PARTICIPANTS; suite: ciphersuite name it belongs to.
    """

    identifier: int
    secret: int = field(repr=False)
    public: bytes
    group_public_key: bytes
    threshold: int
    suite: str

    def __repr__(self) -> str:
        return (
            f"KeyShare(suite={self.suite!r}, identifier={self.identifier}, threshold={self.threshold}, "
            f"public={self.public.hex()}, group_public_key={self.group_public_key.hex()}, secret=<redacted>)"
        )

    __str__ = __repr__


def check_identifiers(suite: Ciphersuite, identifiers: Iterable[int]) -> list[int]:
    """Return the ids sorted; raise on zero, out of range (>= order) or duplicated identifiers."""
    ids = list(identifiers)
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 < i < suite.group.order:
            raise InvalidIdentifierError(f"identifier {i!r} is not a NonZeroScalar")
    if len(set(ids)) != len(ids):
        raise InvalidIdentifierError("duplicate participant identifiers")
    return sorted(ids)


def polynomial_evaluate(suite: Ciphersuite, x: int, coeffs: Sequence[int]) -> int:
    """Horner's rule, constant term first (RFC 9591 appendix C.1)."""
    value = 0
    for c in reversed(coeffs):
        value = (value * x + c) % suite.group.order
    return value


def derive_interpolating_value(suite: Ciphersuite, xs: Sequence[int], x_i: int) -> int:
    """Lagrange coefficient at 0 for x_i over the set xs (RFC 9591 section 4.2)."""
    p = suite.group.order
    check_identifiers(suite, xs)
    if x_i not in xs:
        raise InvalidIdentifierError(f"identifier {x_i} is not in the participant list")
    num, den = 1, 1
    for x_j in xs:
        if x_j != x_i:
            num = num * x_j % p
            den = den * (x_j - x_i) % p
    return num * pow(den, -1, p) % p


def secret_share_shard(suite: Ciphersuite, s: int, coefficients: Sequence[int], n: int) -> list[tuple[int, int]]:
    """Shares (i, f(i)) for i = 1..n of f = s + c1 x + ... (RFC 9591 appendix C.1)."""
    coeffs = [s, *coefficients]
    return [(i, polynomial_evaluate(suite, i, coeffs)) for i in range(1, n + 1)]


def secret_share_combine(suite: Ciphersuite, shares: Sequence[tuple[int, int]], threshold: int) -> int:
    """Interpolate f(0) from at least `threshold` shares. Only for tests and recovery drills."""
    if len(shares) < threshold:
        raise InvalidParametersError(f"need at least {threshold} shares, got {len(shares)}")
    xs = [x for x, _ in shares]
    return sum(y * derive_interpolating_value(suite, xs, x) for x, y in shares) % suite.group.order


def vss_commit(suite: Ciphersuite, coeffs: Sequence[int]) -> list[bytes]:
    """Feldman commitment [a_k * G] to each coefficient."""
    return [suite.group.base_mult(c) for c in coeffs]


def vss_evaluate(suite: Ciphersuite, commitment: Sequence[bytes], x: int) -> bytes:
    """sum_k C_k * x^k: the public image f(x)*G of a committed polynomial."""
    p = suite.group.order
    return suite.group.sum(suite.group.mult(c, pow(x, k, p)) for k, c in enumerate(commitment))


def vss_verify(suite: Ciphersuite, identifier: int, share: int, commitment: Sequence[bytes]) -> bool:
    """share*G == sum_k C_k * i^k (RFC 9591 appendix C.2)."""
    return suite.group.base_mult(share) == vss_evaluate(suite, commitment, identifier)


def derive_group_info(suite: Ciphersuite, n: int, commitment: Sequence[bytes]) -> tuple[bytes, dict[int, bytes]]:
    """Group public key and the verification share Y_i of each of the n participants."""
    return commitment[0], {i: vss_evaluate(suite, commitment, i) for i in range(1, n + 1)}


def split_secret(
    suite: Ciphersuite,
    secret: int,
    n: int,
    t: int,
    *,
    coefficients: Sequence[int] | None = None,
    rng: RandomBytes | None = None,
) -> tuple[list[tuple[int, int]], list[bytes]]:
    """Shamir-split `secret` into n shares with threshold t; returns (shares, VSS commitment)."""
    _check_t_n(t, n, suite)
    if not 0 < secret < suite.group.order:
        raise InvalidScalarError("the group secret must be a non-zero reduced scalar")
    if coefficients is None:
        coefficients = [suite.group.random_scalar(rng) for _ in range(t - 1)]
    if len(coefficients) != t - 1 or any(not 0 <= c < suite.group.order for c in coefficients):
        raise InvalidParametersError("need t-1 reduced polynomial coefficients")
    return secret_share_shard(suite, secret, coefficients, n), vss_commit(suite, [secret, *coefficients])


def trusted_dealer_keygen(
    suite: Ciphersuite,
    n: int,
    t: int,
    secret: int | None = None,
    *,
    coefficients: Sequence[int] | None = None,
    rng: RandomBytes | None = None,
) -> tuple[bytes, list[KeyShare]]:
    """RFC 9591 appendix C: deal a fresh (or given) group secret to n participants, threshold t.

    For tests and recovery drills only: the dealer holds the whole key. Each share is checked against the VSS
    commitment before it is returned. Returns (serialized group public key, shares ordered by identifier).
    """
    if secret is None:
        secret = 0
        while secret == 0:
            secret = suite.group.random_scalar(rng)
    shares, commitment = split_secret(suite, secret, n, t, coefficients=coefficients, rng=rng)
    group_pk, publics = derive_group_info(suite, n, commitment)
    out = []
    for i, s_i in shares:
        if not vss_verify(suite, i, s_i, commitment):  # pragma: no cover - would be a bug in this module
            raise InvalidParametersError("dealer produced a share that fails VSS")
        out.append(KeyShare(i, s_i, publics[i], group_pk, t, suite.name))
    return group_pk, out


def _check_t_n(t: int, n: int, suite: Ciphersuite) -> None:
    if not 1 <= t <= n < suite.group.order:
        raise InvalidParametersError(f"need 1 <= t <= n, got t={t}, n={n}")
