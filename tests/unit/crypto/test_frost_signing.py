"""FROST signing properties: any t of n sign, t-1 cannot, standard verifiers accept, misbehaviour is attributed."""

from __future__ import annotations

from collections.abc import Sequence

import coincurve
import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave_signer.frost import (
    ED25519,
    SECP256K1,
    Ciphersuite,
    FrostError,
    InvalidParametersError,
    InvalidSignatureError,
    InvalidSignatureShareError,
    KeyShare,
    NonceReuseError,
    Signature,
    SigningCommitment,
    aggregate,
    commit,
    evm_challenge,
    evm_key_supported,
    secret_share_combine,
    sign,
    sign_with_shares,
    signature_r_xy,
    trusted_dealer_keygen,
    verify,
    verify_signature_share,
)
from tests.unit.crypto.helpers import SUITES, det_rng, independent_secp256k1_verify

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def committees(draw: st.DrawFn) -> tuple[str, int, int, list[int], bytes]:
    key = draw(st.sampled_from(sorted(SUITES)))
    n = draw(st.integers(2, 6))
    t = draw(st.integers(1, n))
    signers = draw(st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True))
    return key, n, t, signers, draw(st.binary(max_size=64))


def _rounds(
    suite: Ciphersuite, shares: Sequence[KeyShare], msg: bytes
) -> tuple[list[SigningCommitment], dict[int, int]]:
    """Both rounds without the library's threshold or share checks, to show what the math alone yields."""
    rounds = [commit(suite, sh) for sh in shares]
    comms = [c for _, c in rounds]
    z = {sh.identifier: sign(suite, sh, nonces, msg, comms) for sh, (nonces, _) in zip(shares, rounds, strict=True)}
    return comms, z


@FAST
@given(committees())
def test_any_t_of_n_signs_and_verifies(case: tuple[str, int, int, list[int], bytes]) -> None:
    key, n, t, signers, msg = case
    suite = SUITES[key]
    pk, shares = trusted_dealer_keygen(suite, n, t, rng=det_rng(bytes([n, t]) + msg))
    sig = sign_with_shares(suite, [shares[i - 1] for i in signers], msg)
    assert verify(suite, pk, msg, sig)
    assert verify(suite, pk, msg, sig.to_bytes())
    assert not verify(suite, pk, msg + b"\x00", sig)
    if key == "ed25519":  # the group signature is a plain Ed25519 signature
        assert nacl.signing.VerifyKey(pk).verify(msg, sig.to_bytes()) == msg
    else:
        assert independent_secp256k1_verify(pk, msg, sig.to_bytes())


@FAST
@given(st.sampled_from(sorted(SUITES)), st.integers(2, 5), st.data())
def test_t_minus_one_shares_cannot_sign(key: str, t: int, data: st.DataObject) -> None:
    suite = SUITES[key]
    n = data.draw(st.integers(t, 6))
    pk, shares = trusted_dealer_keygen(suite, n, t)
    few = data.draw(st.permutations(shares))[: t - 1]
    with pytest.raises(InvalidParametersError):
        sign_with_shares(suite, few, b"m")
    comms, z = _rounds(suite, few, b"m")  # run the rounds anyway: the aggregate must not verify
    sig = aggregate(suite, comms, b"m", pk, z)
    assert not verify(suite, pk, b"m", sig)
    with pytest.raises(InvalidSignatureError):
        aggregate(suite, comms, b"m", pk, z, {s.identifier: s.public for s in few})


def test_invalid_share_is_attributed_and_another_set_completes(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 5, 3)
    signers = shares[:3]
    comms, z = _rounds(suite, signers, b"batch")
    z[2] = (z[2] + 1) % suite.group.order
    verifying = {s.identifier: s.public for s in shares}
    with pytest.raises(InvalidSignatureShareError) as exc:
        aggregate(suite, comms, b"batch", pk, z, verifying)
    assert exc.value.identifiers == (2,)
    assert isinstance(exc.value, FrostError) and isinstance(exc.value, ValueError)
    retry = [s for s in shares if s.identifier != 2][:3]
    assert verify(suite, pk, b"batch", sign_with_shares(suite, retry, b"batch"))


def test_two_cheaters_are_both_named(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 5, 4)
    comms, z = _rounds(suite, shares[:4], b"m")
    z[1] = 0
    z[4] = (z[4] * 2) % suite.group.order
    with pytest.raises(InvalidSignatureShareError) as exc:
        aggregate(suite, comms, b"m", pk, z, {s.identifier: s.public for s in shares})
    assert exc.value.identifiers == (1, 4)


def test_share_checked_against_another_members_key_fails(suite: Ciphersuite) -> None:
    """verify_signature_share binds a share to the member's own verification share Y_i."""
    pk, shares = trusted_dealer_keygen(suite, 4, 2)
    comms, z = _rounds(suite, shares[:2], b"m")
    assert verify_signature_share(suite, 1, shares[0].public, z[1], comms, pk, b"m")
    assert not verify_signature_share(suite, 1, shares[1].public, z[1], comms, pk, b"m")
    assert not verify_signature_share(suite, 1, shares[0].public, z[1], comms, pk, b"other message")


def test_nonces_are_single_use(suite: Ciphersuite) -> None:
    _pk, shares = trusted_dealer_keygen(suite, 3, 2)
    (n1, c1), (n2, c2) = commit(suite, shares[0]), commit(suite, shares[1])
    sign(suite, shares[0], n1, b"a", [c1, c2])
    assert n1.used and not n2.used
    with pytest.raises(NonceReuseError):
        sign(suite, shares[0], n1, b"b", [c1, c2])


def test_reconstructed_secret_matches_group_key(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 5, 3)
    s = secret_share_combine(suite, [(sh.identifier, sh.secret) for sh in shares[2:]], 3)
    assert suite.group.base_mult(s) == pk
    wrong = secret_share_combine(suite, [(sh.identifier, sh.secret) for sh in shares[3:]], 2)
    assert suite.group.base_mult(wrong) != pk


def test_secrets_never_in_repr(suite: Ciphersuite) -> None:
    _pk, shares = trusted_dealer_keygen(suite, 3, 2)
    sh = shares[0]
    text = repr(sh) + str(sh) + f"{sh}" + repr(shares)
    secret_forms = [str(sh.secret), hex(sh.secret)[2:], suite.group.serialize_scalar(sh.secret).hex()]
    assert not any(form in text for form in secret_forms)
    assert sh.public.hex() in text and "redacted" in text
    nonces, _ = commit(suite, sh)
    hidden = nonces.consume()
    assert not any(str(x) in repr(nonces) for x in hidden)


def test_secp256k1_evm_helpers() -> None:
    pk, shares = trusted_dealer_keygen(SECP256K1, 5, 3)
    msg = b"executeBatch"
    sig = sign_with_shares(SECP256K1, shares[2:], msg)
    x, y = signature_r_xy(sig)
    assert coincurve.PublicKey(sig.R).format(compressed=False) == b"\x04" + x.to_bytes(32, "big") + y.to_bytes(
        32, "big"
    )
    c = evm_challenge(pk, msg, sig)
    # z*G - c*PK == R, the relation the contract checks through ecrecover
    lhs = coincurve.PublicKey.from_valid_secret(sig.z.to_bytes(32, "big"))
    neg_c = (SECP256K1.group.order - c).to_bytes(32, "big")
    r = coincurve.PublicKey.combine_keys([lhs, coincurve.PublicKey(pk).multiply(neg_c)])
    assert r.format() == sig.R
    assert isinstance(evm_key_supported(pk), bool) and evm_key_supported(pk)
    with pytest.raises(InvalidParametersError):
        sign_with_shares(ED25519, trusted_dealer_keygen(ED25519, 2, 2)[1], b"m").r_xy()


def test_signature_roundtrip(suite: Ciphersuite) -> None:
    _pk, shares = trusted_dealer_keygen(suite, 3, 2)
    sig = sign_with_shares(suite, shares[1:], b"x")
    again = Signature.from_bytes(suite, sig.to_bytes())
    assert again == sig and len(sig.to_bytes()) == suite.group.element_length + 32


def test_shares_of_other_suite_refused() -> None:
    _, shares = trusted_dealer_keygen(ED25519, 3, 2)
    with pytest.raises(InvalidParametersError):
        sign_with_shares(SECP256K1, shares[:2], b"m")
