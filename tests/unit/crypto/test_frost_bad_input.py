"""Bad input: every malformed point, scalar, length or identifier is a typed error, never a wrong result."""

from __future__ import annotations

import pytest
from nacl import bindings as sodium

from enclave_signer.frost import (
    ED25519,
    SECP256K1,
    Ciphersuite,
    FrostError,
    IdentityPointError,
    InvalidIdentifierError,
    InvalidLengthError,
    InvalidParametersError,
    InvalidPointError,
    InvalidScalarError,
    InvalidSignatureShareError,
    Signature,
    SigningCommitment,
    SmallOrderPointError,
    aggregate,
    commit,
    derive_interpolating_value,
    sign,
    sign_with_shares,
    split_secret,
    trusted_dealer_keygen,
    verify,
    verify_signature_share,
)
from enclave_signer.frost.keys import check_identifiers
from enclave_signer.frost.signing import nonce_generate

P25519 = 2**255 - 19
# The eight edwards25519 torsion points other than the identity's canonical encoding (RFC 8032 encodings).
SMALL_ORDER_ED25519 = [
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4 (sign bit)
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
]


def _is_small_order(p: bytes) -> bool:
    p2 = sodium.crypto_core_ed25519_add(p, p)
    p4 = sodium.crypto_core_ed25519_add(p2, p2)
    return sodium.crypto_core_ed25519_add(p4, p4) == b"\x01" + bytes(31)


def _off_curve_ed25519() -> bytes:
    for y in range(2, 100):
        enc = y.to_bytes(32, "little")
        try:
            sodium.crypto_core_ed25519_add(enc, enc)
        except Exception:
            return enc
    raise AssertionError("no off-curve y found")


def _off_curve_secp256k1() -> bytes:
    import coincurve

    for x in range(1, 100):
        enc = b"\x02" + x.to_bytes(32, "big")
        try:
            coincurve.PublicKey(enc)
        except ValueError:
            return enc
    raise AssertionError("no off-curve x found")


@pytest.mark.parametrize("hexpt", SMALL_ORDER_ED25519)
def test_ed25519_small_order_points_rejected(hexpt: str) -> None:
    pt = bytes.fromhex(hexpt)
    if hexpt.endswith("80") and hexpt.startswith("00000000"):
        # x = 0 with the sign bit set is not a valid RFC 8032 encoding at all
        with pytest.raises(InvalidPointError):
            ED25519.group.deserialize_element(pt)
        return
    assert _is_small_order(pt)  # the list above really is torsion
    with pytest.raises(SmallOrderPointError):
        ED25519.group.deserialize_element(pt)


def test_ed25519_identity_and_mixed_order_and_noncanonical() -> None:
    g = ED25519.group
    with pytest.raises(IdentityPointError):
        g.deserialize_element(b"\x01" + bytes(31))
    valid = g.base_mult(12345)
    torsion = bytes.fromhex(SMALL_ORDER_ED25519[3])
    mixed = sodium.crypto_core_ed25519_add(valid, torsion)  # on the curve, not in the prime-order subgroup
    with pytest.raises(InvalidPointError) as exc:
        g.deserialize_element(mixed)
    assert not isinstance(exc.value, SmallOrderPointError)
    # y = p + 1 encodes y = 1 non-canonically (and y = p + 2 ... are all non-canonical)
    for y in (P25519 + 1, P25519 + 3, 2**255 - 1):
        with pytest.raises(InvalidPointError):
            g.deserialize_element(y.to_bytes(32, "little"))
    with pytest.raises(InvalidPointError):
        g.deserialize_element(_off_curve_ed25519())


def test_secp256k1_bad_points() -> None:
    g = SECP256K1.group
    good = g.base_mult(7)
    with pytest.raises(IdentityPointError):
        g.deserialize_element(bytes(33))
    with pytest.raises(InvalidPointError):
        g.deserialize_element(b"\x04" + good[1:])  # not a compressed prefix
    with pytest.raises(InvalidPointError):
        g.deserialize_element(b"\x02" + b"\xff" * 32)  # x >= p
    with pytest.raises(InvalidPointError):
        g.deserialize_element(_off_curve_secp256k1())
    with pytest.raises(InvalidLengthError):
        g.deserialize_element(b"\x04" + bytes(64))  # uncompressed form is not the RFC encoding
    assert g.deserialize_element(good) == good


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_lengths(suite: Ciphersuite, length: int) -> None:
    g = suite.group
    with pytest.raises(InvalidLengthError):
        g.deserialize_scalar(bytes(length))
    if length != g.element_length:
        with pytest.raises(InvalidLengthError):
            g.deserialize_element(b"\x02" * length)
    if length != g.element_length + g.scalar_length:
        with pytest.raises(InvalidLengthError):
            Signature.from_bytes(suite, bytes(length))
    with pytest.raises(InvalidLengthError):
        nonce_generate(suite, 1, bytes(length))


def test_scalars_out_of_range(suite: Ciphersuite) -> None:
    g = suite.group
    order_enc = (g.order).to_bytes(32, "little" if suite is ED25519 else "big")
    for bad in (order_enc, b"\xff" * 32):
        with pytest.raises(InvalidScalarError):
            g.deserialize_scalar(bad)
    with pytest.raises(InvalidScalarError):
        g.serialize_scalar(g.order)
    with pytest.raises(InvalidScalarError):
        g.serialize_scalar(-1)


def test_signature_with_unreduced_z_or_bad_r(suite: Ciphersuite) -> None:
    g = suite.group
    pk, shares = trusted_dealer_keygen(suite, 3, 2)
    sig = sign_with_shares(suite, shares[:2], b"m")
    raw = sig.to_bytes()
    z_big = (
        (sig.z + g.order).to_bytes(32, "little" if suite is ED25519 else "big") if sig.z + g.order < 2**256 else None
    )
    if z_big is not None:  # z + order still fits 32 bytes: the malleable encoding must be refused
        with pytest.raises(InvalidScalarError):
            verify(suite, pk, b"m", raw[: g.element_length] + z_big)
    with pytest.raises(InvalidScalarError):
        verify(suite, pk, b"m", Signature(sig.R, g.order, suite))
    bad_r = bytes(g.element_length) if suite is SECP256K1 else b"\x01" + bytes(31)
    with pytest.raises(IdentityPointError):
        verify(suite, pk, b"m", bad_r + raw[g.element_length :])
    with pytest.raises(InvalidPointError):
        verify(suite, b"\x05" * g.element_length, b"m", sig)


def test_ed25519_torsioned_r_rejected() -> None:
    pk, shares = trusted_dealer_keygen(ED25519, 3, 2)
    sig = sign_with_shares(ED25519, shares[:2], b"m")
    r_mixed = sodium.crypto_core_ed25519_add(sig.R, bytes.fromhex(SMALL_ORDER_ED25519[3]))
    with pytest.raises(InvalidPointError):
        verify(ED25519, pk, b"m", r_mixed + sig.to_bytes()[32:])


@pytest.mark.parametrize("ids", [[0, 1], [1, 1], [-1, 2], [True, 2]])
def test_bad_identifiers(suite: Ciphersuite, ids: list[int]) -> None:
    with pytest.raises(InvalidIdentifierError):
        check_identifiers(suite, ids)


def test_identifier_at_order_and_unknown(suite: Ciphersuite) -> None:
    with pytest.raises(InvalidIdentifierError):
        check_identifiers(suite, [suite.group.order])
    with pytest.raises(InvalidIdentifierError):
        derive_interpolating_value(suite, [1, 2, 3], 4)
    with pytest.raises(InvalidIdentifierError):
        derive_interpolating_value(suite, [1, 2, 2], 1)


def test_commitment_lists_validated(suite: Ciphersuite) -> None:
    _pk, shares = trusted_dealer_keygen(suite, 3, 2)
    (n1, c1), (_n2, c2) = commit(suite, shares[0]), commit(suite, shares[1])
    dup = SigningCommitment(1, c2.hiding, c2.binding)
    with pytest.raises(InvalidIdentifierError):
        sign(suite, shares[0], n1, b"m", [c1, dup])
    zero = SigningCommitment(0, c2.hiding, c2.binding)
    with pytest.raises(InvalidIdentifierError):
        sign(suite, shares[0], n1, b"m", [c1, zero])
    ident = SigningCommitment(2, suite.group.identity if suite is ED25519 else bytes(33), c2.binding)
    with pytest.raises(IdentityPointError):
        sign(suite, shares[0], n1, b"m", [c1, ident])
    with pytest.raises(InvalidParametersError):
        sign(suite, shares[0], n1, b"m", [])
    with pytest.raises(InvalidIdentifierError):  # the signer itself is missing from the list
        sign(suite, shares[0], n1, b"m", [c2])
    assert not n1.used  # a refused request does not burn the nonces


def test_aggregate_validates_shares(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 3, 2)
    rounds = [commit(suite, s) for s in shares[:2]]
    comms = [c for _, c in rounds]
    with pytest.raises(InvalidSignatureShareError) as info:  # names its signer (identifiable abort)
        aggregate(suite, comms, b"m", pk, {1: suite.group.order, 2: 1})
    assert info.value.identifiers == (1,)
    with pytest.raises(InvalidIdentifierError):
        aggregate(suite, comms, b"m", pk, {1: 1})
    with pytest.raises(InvalidScalarError):
        verify_signature_share(suite, 1, shares[0].public, -1, comms, pk, b"m")


def test_bad_parameters(suite: Ciphersuite) -> None:
    for n, t in ((3, 4), (3, 0), (0, 0)):
        with pytest.raises(InvalidParametersError):
            trusted_dealer_keygen(suite, n, t)
    for secret in (0, suite.group.order):
        with pytest.raises(InvalidScalarError):
            split_secret(suite, secret, 3, 2)
    with pytest.raises(InvalidParametersError):
        split_secret(suite, 5, 3, 2, coefficients=[1, 2])
    _, shares = trusted_dealer_keygen(suite, 3, 2)
    with pytest.raises(InvalidIdentifierError):
        sign_with_shares(suite, [shares[0], shares[0]], b"m")
    _, other = trusted_dealer_keygen(suite, 3, 2)
    with pytest.raises(InvalidParametersError):
        sign_with_shares(suite, [shares[0], other[1]], b"m")


def test_every_error_is_frost_error_and_builtin() -> None:
    for cls in (
        InvalidPointError,
        InvalidScalarError,
        InvalidLengthError,
        InvalidIdentifierError,
        InvalidParametersError,
    ):
        assert issubclass(cls, FrostError) and issubclass(cls, ValueError)
