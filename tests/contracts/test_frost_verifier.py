"""The on-chain FROST(secp256k1, SHA-256) verifier is RFC 9591-exact: the RFC's own test vector verifies, the
challenge equals the reference implementation's H2 bit for bit, and every malformed or wrong signature fails."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from web3.contract import Contract

from bridge.evm import decompress_point
from enclave_signer.frost import SECP256K1, evm_challenge, sign_with_shares
from relayers.ethereum.contracts import contract_at
from relayers.ethereum.deploy import deploy_contract
from tests.contracts.conftest import Chain, Committee

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
VECTORS = Path(__file__).resolve().parents[1] / "unit" / "crypto" / "vectors" / "frost-secp256k1-sha256.json"


@pytest.fixture(scope="module")
def harness(chain: Chain) -> Contract:
    return contract_at(chain.w3, "FrostVerifierHarness", deploy_contract(chain.w3, chain.admin, "FrostVerifierHarness"))


def test_rfc9591_test_vector_verifies_on_chain(harness: Contract) -> None:
    vector = json.loads(VECTORS.read_text())
    pk = bytes.fromhex(vector["inputs"]["group_public_key"])
    message = bytes.fromhex(vector["inputs"]["message"])
    sig = bytes.fromhex(vector["final_output"]["sig"])
    rx, ry = decompress_point(sig[:33])
    z = int.from_bytes(sig[33:], "big")
    pk_x, pk_y = decompress_point(pk)
    assert harness.functions.verify(message, pk_x, pk_y & 1, rx, ry, z).call()
    assert not harness.functions.verify(message + b"!", pk_x, pk_y & 1, rx, ry, z).call()
    assert not harness.functions.verify(message, pk_x, pk_y & 1, rx, ry, (z + 1) % N).call()


def test_challenge_matches_the_reference_h2(harness: Contract) -> None:
    committee = Committee.new()
    pk_x, pk_y = committee.xy
    for length in (0, 1, 32, 33, 100):
        message = secrets.token_bytes(length)
        sig = sign_with_shares(SECP256K1, committee.shares[:3], message)
        rx, ry = decompress_point(sig.R)
        expected = evm_challenge(committee.group_pk, message, sig)
        assert harness.functions.challenge(rx, ry, pk_x, pk_y & 1, message).call() == expected
        if length == 32:
            assert harness.functions.challenge32(rx, ry, pk_x, pk_y & 1, message).call() == expected
            assert harness.functions.verify32(message, pk_x, pk_y & 1, rx, ry, sig.z).call()
        assert harness.functions.verify(message, pk_x, pk_y & 1, rx, ry, sig.z).call()


def test_malformed_signatures_fail(harness: Contract) -> None:
    committee = Committee.new()
    pk_x, pk_y = committee.xy
    message = secrets.token_bytes(32)
    sig = sign_with_shares(SECP256K1, committee.shares[1:4], message)
    rx, ry = decompress_point(sig.R)
    verify = harness.functions.verify32
    assert verify(message, pk_x, pk_y & 1, rx, ry, sig.z).call()
    assert not verify(message, pk_x, 1 - (pk_y & 1), rx, ry, sig.z).call()  # the key's mirror image
    assert not verify(message, pk_x, pk_y & 1, rx, P - ry, sig.z).call()  # -R
    assert not verify(message, pk_x, pk_y & 1, rx, (ry + 1) % P, sig.z).call()  # R off the curve
    assert not verify(message, pk_x, pk_y & 1, rx, ry, N).call()  # z not reduced
    assert not verify(message, pk_x, pk_y & 1, rx, ry, 2**256 - 1).call()
    assert not verify(message, pk_x, pk_y & 1, 0, 0, sig.z).call()
    assert not verify(message, pk_x, 2, rx, ry, sig.z).call()


def test_usable_key_checks(harness: Contract) -> None:
    x, y = Committee.new().xy
    assert harness.functions.isUsableKey(x, y).call()
    assert not harness.functions.isUsableKey(x, (y + 1) % P).call()
    assert not harness.functions.isUsableKey(0, y).call()
    assert not harness.functions.isUsableKey(P, y).call()
    assert not harness.functions.isUsableKey(N, y).call()
