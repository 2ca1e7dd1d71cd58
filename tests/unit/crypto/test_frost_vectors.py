"""RFC 9591 appendix E test vectors, every intermediate value, for FROST(Ed25519, SHA-512) and (secp256k1, SHA-256)."""

from __future__ import annotations

from typing import Any

import nacl.signing
import pytest

from enclave_signer.frost import (
    KeyShare,
    SigningCommitment,
    aggregate,
    commit,
    compute_binding_factors,
    sign,
    split_secret,
    trusted_dealer_keygen,
    verify,
    verify_signature_share,
)
from enclave_signer.frost.ciphersuites import expand_message_xmd
from enclave_signer.frost.signing import encode_group_commitment_list, nonce_generate
from tests.unit.crypto.helpers import SUITES, independent_secp256k1_verify, load_vector


def _scalar(key: str, hexstr: str) -> int:
    return SUITES[key].group.deserialize_scalar(bytes.fromhex(hexstr))


def _replay(key: str) -> dict[str, Any]:
    """Run the whole protocol on the vector's inputs; return every intermediate value for the assertions (of mixed
    types, read by name: Any, like the vector JSON they are checked against)."""
    v = load_vector(key)
    suite = SUITES[key]
    g = suite.group
    inp = v["inputs"]
    n, t = int(v["config"]["MAX_PARTICIPANTS"]), int(v["config"]["MIN_PARTICIPANTS"])
    secret = _scalar(key, inp["group_secret_key"])
    coeffs = [_scalar(key, c) for c in inp["share_polynomial_coefficients"]]
    group_pk, shares = trusted_dealer_keygen(suite, n, t, secret, coefficients=coeffs)
    by_id = {s.identifier: s for s in shares}
    msg = bytes.fromhex(inp["message"])
    rounds = {}
    for out in v["round_one_outputs"]["outputs"]:
        rand = (bytes.fromhex(out["hiding_nonce_randomness"]), bytes.fromhex(out["binding_nonce_randomness"]))
        rounds[out["identifier"]] = commit(suite, by_id[out["identifier"]], randomness=rand)
    comms = [c for _, c in rounds.values()]
    shares_z = {i: sign(suite, by_id[i], nonces, msg, comms) for i, (nonces, _) in rounds.items()}
    sig = aggregate(suite, comms, msg, group_pk, shares_z, {i: by_id[i].public for i in rounds})
    return {
        "v": v,
        "g": g,
        "suite": suite,
        "pk": group_pk,
        "shares": shares,
        "comms": comms,
        "z": shares_z,
        "sig": sig,
        "msg": msg,
        "secret": secret,
        "coeffs": coeffs,
        "n": n,
        "t": t,
    }


@pytest.fixture(params=sorted(SUITES), scope="module")
def run(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"key": request.param, **_replay(request.param)}


def test_group_key_and_shares(run: dict[str, Any]) -> None:
    v, g, inp = run["v"], run["g"], run["v"]["inputs"]
    assert g.base_mult(run["secret"]).hex() == inp["group_public_key"]
    assert run["pk"].hex() == inp["group_public_key"]
    expected = {p["identifier"]: p["participant_share"] for p in inp["participant_shares"]}
    assert {s.identifier: g.serialize_scalar(s.secret).hex() for s in run["shares"]} == expected
    raw, _ = split_secret(run["suite"], run["secret"], run["n"], run["t"], coefficients=run["coeffs"])
    assert {i: g.serialize_scalar(s).hex() for i, s in raw} == expected
    assert v["inputs"]["participant_list"] == sorted(run["z"])


def test_round_one_nonces_commitments_binding_factors(run: dict[str, Any]) -> None:
    suite, g = run["suite"], run["g"]
    by_id = {s.identifier: s for s in run["shares"]}
    comms = {c.identifier: c for c in run["comms"]}
    rho = compute_binding_factors(suite, run["pk"], sorted(run["comms"], key=lambda c: c.identifier), run["msg"])
    prefix = run["pk"] + suite.H4(run["msg"]) + suite.H5(encode_group_commitment_list(suite, run["comms"]))
    for out in run["v"]["round_one_outputs"]["outputs"]:
        i, secret = out["identifier"], by_id[out["identifier"]].secret
        hiding = nonce_generate(suite, secret, bytes.fromhex(out["hiding_nonce_randomness"]))
        binding = nonce_generate(suite, secret, bytes.fromhex(out["binding_nonce_randomness"]))
        assert g.serialize_scalar(hiding).hex() == out["hiding_nonce"]
        assert g.serialize_scalar(binding).hex() == out["binding_nonce"]
        assert comms[i].hiding.hex() == out["hiding_nonce_commitment"]
        assert comms[i].binding.hex() == out["binding_nonce_commitment"]
        assert (prefix + g.serialize_scalar(i)).hex() == out["binding_factor_input"]
        assert g.serialize_scalar(rho[i]).hex() == out["binding_factor"]


def test_round_two_signature_shares(run: dict[str, Any]) -> None:
    suite, g = run["suite"], run["g"]
    by_id = {s.identifier: s for s in run["shares"]}
    for out in run["v"]["round_two_outputs"]["outputs"]:
        i = out["identifier"]
        assert g.serialize_scalar(run["z"][i]).hex() == out["sig_share"]
        assert verify_signature_share(suite, i, by_id[i].public, run["z"][i], run["comms"], run["pk"], run["msg"])
        # the same share claimed by the other signer must not verify
        other = next(j for j in run["z"] if j != i)
        assert not verify_signature_share(
            suite, other, by_id[other].public, run["z"][i], run["comms"], run["pk"], run["msg"]
        )


def test_final_signature(run: dict[str, Any]) -> None:
    suite = run["suite"]
    assert run["sig"].to_bytes().hex() == run["v"]["final_output"]["sig"]
    assert verify(suite, run["pk"], run["msg"], run["sig"])
    assert verify(suite, run["pk"], run["msg"], bytes.fromhex(run["v"]["final_output"]["sig"]))
    assert not verify(suite, run["pk"], run["msg"] + b"!", run["sig"])


def test_ed25519_vector_signature_passes_standard_verifier() -> None:
    v = load_vector("ed25519")
    vk = nacl.signing.VerifyKey(bytes.fromhex(v["inputs"]["group_public_key"]))
    msg = bytes.fromhex(v["inputs"]["message"])
    assert vk.verify(msg, bytes.fromhex(v["final_output"]["sig"])) == msg


def test_secp256k1_vector_signature_passes_independent_verifier() -> None:
    v = load_vector("secp256k1")
    pk, msg = bytes.fromhex(v["inputs"]["group_public_key"]), bytes.fromhex(v["inputs"]["message"])
    sig = bytes.fromhex(v["final_output"]["sig"])
    assert independent_secp256k1_verify(pk, msg, sig)
    assert not independent_secp256k1_verify(pk, msg + b"x", sig)


@pytest.mark.parametrize(
    ("msg", "length", "expected"),
    [
        (b"", 32, "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"),
        (b"abc", 32, "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615"),
        (
            b"",
            128,
            "af84c27ccfd45d41914fdff5df25293e221afc53d8ad2ac06d5e3e29485dadbee0d121587713a3e0dd4d5e69e93eb7cd"
            "4f5df4cd103e188cf60cb02edc3edf18eda8576c412b18ffb658e3dd6ec849469b979d444cf7b26911a08e63cf31f9dc"
            "c541708d3491184472c2c29bb749d4286b004ceb5ee6b9a7fa5b646c993f0ced",
        ),
        (
            b"abc",
            128,
            "abba86a6129e366fc877aab32fc4ffc70120d8996c88aee2fe4b32d6c7b6437a647e6c3163d40b76a73cf6a5674ef1d8"
            "90f95b664ee0afa5359a5c4e07985635bbecbac65d747d3d2da7ec2b8221b17b0ca9dc8a1ac1c07ea6a1e60583e2cb"
            "00058e77b7b72a298425cd1b941ad4ec65e8afc50303a22c0f99b0509b4c895f40",
        ),
    ],
)
def test_expand_message_xmd_rfc9380_vectors(msg: bytes, length: int, expected: str) -> None:
    assert expand_message_xmd(msg, b"QUUX-V01-CS02-with-expander-SHA256-128", length).hex() == expected


def test_vector_commitments_reject_tampered_list(run: dict[str, Any]) -> None:
    """Round two refuses a commitment list that carries another commitment for the signer (RFC 9591 5.2)."""
    suite = run["suite"]
    share: KeyShare = run["shares"][0]
    nonces, mine = commit(suite, share)
    _, other = commit(suite, run["shares"][1])
    forged = SigningCommitment(mine.identifier, other.hiding, other.binding)
    with pytest.raises(ValueError, match="different commitment"):
        sign(suite, share, nonces, run["msg"], [forged, other])
