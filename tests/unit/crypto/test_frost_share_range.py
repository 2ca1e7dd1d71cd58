"""A signature share that is not a scalar below the group order names its signer (RFC 9591 5.3 identifiable abort)
instead of failing the whole aggregation with an input error; the honest shares still aggregate without it."""

from __future__ import annotations

import pytest

from enclave_signer.frost import (
    Ciphersuite,
    InvalidSignatureShareError,
    aggregate,
    commit,
    sign,
    trusted_dealer_keygen,
    verify,
)


def _round(suite: Ciphersuite, shares: list, msg: bytes) -> tuple[list, dict[int, int]]:  # type: ignore[type-arg]
    rounds = [commit(suite, s) for s in shares]
    comms = [c for _, c in rounds]
    z = {s.identifier: sign(suite, s, n, msg, comms) for s, (n, _) in zip(shares, rounds, strict=True)}
    return comms, z


@pytest.mark.parametrize("with_verifying", [True, False])
def test_an_unreduced_share_names_its_signer(suite: Ciphersuite, with_verifying: bool) -> None:
    pk, shares = trusted_dealer_keygen(suite, 5, 3)
    comms, z = _round(suite, shares[:3], b"m")
    verifying = {s.identifier: s.public for s in shares} if with_verifying else None
    n = suite.group.order
    for bad in ({2: z[2] + n}, {1: -1, 3: n}, {2: True}):
        with pytest.raises(InvalidSignatureShareError) as info:
            aggregate(suite, comms, b"m", pk, {**z, **bad}, verifying)
        assert info.value.identifiers == tuple(sorted(bad))
    # the same members, honest, aggregate; the rogue one's replacement signs with the others
    assert verify(suite, pk, b"m", aggregate(suite, comms, b"m", pk, z, verifying))
    comms2, z2 = _round(suite, [shares[0], shares[2], shares[3]], b"m")
    assert verify(suite, pk, b"m", aggregate(suite, comms2, b"m", pk, z2, verifying))
