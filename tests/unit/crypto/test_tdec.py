"""Threshold ECIES over the DKG's edwards25519 key: round trips, forged shares named, bad input refused."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave_signer.dkg import run_dkg
from enclave_signer.frost import (
    ED25519,
    SECP256K1,
    DecryptionError,
    FrostError,
    IdentityPointError,
    InvalidDecryptionShareError,
    InvalidIdentifierError,
    InvalidLengthError,
    InvalidParametersError,
    KeyShare,
    SmallOrderPointError,
    secret_share_combine,
    trusted_dealer_keygen,
)
from enclave_signer.tdec import (
    Ciphertext,
    DleqProof,
    combine_shares,
    decryption_share,
    encrypt,
    threshold_decrypt,
    verify_decryption_share,
)

G = ED25519.group
CONTRACT = b"contract:0x" + bytes(20)

Committee = tuple[bytes, list[KeyShare], dict[int, bytes]]  # group key, key shares, verifying shares


@pytest.fixture(scope="module")
def committee() -> Committee:
    outs = run_dkg(ED25519, 5, 3, session_id=b"tdec-tests")
    return outs[0].group_public_key, [o.key_share for o in outs], outs[0].verifying_shares


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300), st.data())
def test_any_t_members_decrypt(committee: Committee, plaintext: bytes, data: st.DataObject) -> None:
    pk, shares, verifying = committee
    ct = encrypt(pk, plaintext, aad=CONTRACT)
    ct = Ciphertext.from_bytes(ct.to_bytes())  # survives the wire
    chosen = data.draw(st.permutations(shares))[: data.draw(st.integers(3, 5))]
    dshares = [decryption_share(s, ct) for s in chosen]
    assert threshold_decrypt(pk, ct, dshares, verifying, 3, aad=CONTRACT) == plaintext


def test_combined_point_equals_single_key_decryption(committee: Committee) -> None:
    pk, shares, verifying = committee
    ct = encrypt(pk, b"x")
    sk = secret_share_combine(ED25519, [(s.identifier, s.secret) for s in shares[:3]], 3)
    assert G.base_mult(sk) == pk
    s_point = combine_shares(ct, [decryption_share(s, ct) for s in shares[2:]], verifying, 3)
    assert s_point == G.mult(ct.u, sk)


@pytest.mark.parametrize("forgery", ["random_point", "proof_z", "proof_c", "replayed_from_other_ciphertext", "swap_id"])
def test_forged_share_names_the_forger(committee: Committee, forgery: str) -> None:
    pk, shares, verifying = committee
    ct = encrypt(pk, b"secret payload", aad=CONTRACT)
    good = [decryption_share(s, ct) for s in shares[:3]]
    bad = good[1]
    if forgery == "random_point":
        bad = dataclasses.replace(bad, d=G.base_mult(12345))
    elif forgery == "proof_z":
        bad = dataclasses.replace(bad, proof=DleqProof(bad.proof.c, (bad.proof.z + 1) % G.order))
    elif forgery == "proof_c":
        bad = dataclasses.replace(bad, proof=DleqProof((bad.proof.c + 1) % G.order, bad.proof.z))
    elif forgery == "replayed_from_other_ciphertext":
        bad = decryption_share(shares[1], encrypt(pk, b"other"))  # valid proof, but for another U
    elif forgery == "swap_id":  # member 2 submits member 3's (valid) share under its own name
        bad = dataclasses.replace(good[2], identifier=2)
        good = [good[0], bad, decryption_share(shares[3], ct)]
    forged = [good[0], bad, *good[2:]]
    assert not verify_decryption_share(verifying[2], ct, bad)
    with pytest.raises(InvalidDecryptionShareError) as exc:
        threshold_decrypt(pk, ct, forged, verifying, 3, aad=CONTRACT)
    assert exc.value.identifiers == (2,)
    assert isinstance(exc.value, FrostError)
    retry = [good[0], *(decryption_share(s, ct) for s in shares[2:4])]  # another set of t without member 2
    assert threshold_decrypt(pk, ct, retry, verifying, 3, aad=CONTRACT) == b"secret payload"


def test_wrong_aad_context_or_tampering_fail(committee: Committee) -> None:
    pk, shares, verifying = committee
    ct = encrypt(pk, b"payload", aad=CONTRACT, context=b"ctx")
    ds = [decryption_share(s, ct) for s in shares[:3]]
    assert threshold_decrypt(pk, ct, ds, verifying, 3, aad=CONTRACT, context=b"ctx") == b"payload"
    with pytest.raises(DecryptionError):
        threshold_decrypt(pk, ct, ds, verifying, 3, aad=b"contract:another", context=b"ctx")
    with pytest.raises(DecryptionError):
        threshold_decrypt(pk, ct, ds, verifying, 3, aad=CONTRACT, context=b"other")
    flipped = dataclasses.replace(ct, body=bytes([ct.body[0] ^ 1]) + ct.body[1:])
    with pytest.raises(DecryptionError):
        threshold_decrypt(pk, flipped, ds, verifying, 3, aad=CONTRACT, context=b"ctx")


def test_too_few_shares(committee: Committee) -> None:
    pk, shares, verifying = committee
    ct = encrypt(pk, b"payload")
    ds = [decryption_share(s, ct) for s in shares[:2]]
    with pytest.raises(InvalidParametersError):
        threshold_decrypt(pk, ct, ds, verifying, 3)
    with pytest.raises(DecryptionError):  # lying about the threshold does not help: the point is wrong
        threshold_decrypt(pk, ct, ds, verifying, 2)
    with pytest.raises(InvalidIdentifierError):
        threshold_decrypt(pk, ct, [ds[0], ds[0], ds[1]], verifying, 3)


def test_bad_points_and_lengths(committee: Committee) -> None:
    pk, shares, _ = committee
    small = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
    with pytest.raises(SmallOrderPointError):
        encrypt(small, b"x")
    ct = encrypt(pk, b"x")
    with pytest.raises(SmallOrderPointError):
        decryption_share(shares[0], dataclasses.replace(ct, u=small))
    with pytest.raises(IdentityPointError):
        Ciphertext.from_bytes(b"\x01" + bytes(31) + ct.to_bytes()[32:])
    with pytest.raises(InvalidLengthError):
        Ciphertext.from_bytes(ct.to_bytes()[:60])
    _, secp_shares = trusted_dealer_keygen(SECP256K1, 3, 2)
    with pytest.raises(InvalidParametersError):
        decryption_share(secp_shares[0], ct)


def test_ciphertexts_are_randomised(committee: Committee) -> None:
    pk, _, _ = committee
    a, b = encrypt(pk, b"same"), encrypt(pk, b"same")
    assert a.u != b.u and a.body != b.body
