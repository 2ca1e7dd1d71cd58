"""The state key: recovered by any t members, the same after resharing, bad shares named, never printed; and the
decryption policy that serves it only to enclaves of the committee."""

from __future__ import annotations

import asyncio
import pickle

import nacl.signing
import pytest

from bridge.confidential import decode_record
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts import (
    ConfidentialDecryptionPolicy,
    Registry,
    StateKeyring,
    replay,
    state_key_point,
    state_key_request,
)
from enclave_signer.contracts.auction_codec import Open, PlaceBid, encode_input
from enclave_signer.dkg import run_dkg, run_reshare
from enclave_signer.frost import ED25519, InvalidDecryptionShareError
from enclave_signer.identity import ed25519_to_x25519_public
from enclave_signer.tdec import Ciphertext, DecryptionShare, decryption_share
from tests.unit.confidential.helpers import Enclave, EncryptionCommittee, SourceChain, address

G = ED25519.group


def test_any_t_members_recover_the_same_key(committee: EncryptionCommittee) -> None:
    ids = {committee.keyring(m).key_id() for m in [(1, 2, 3), (2, 4, 5), (1, 3, 4, 5), (5, 4, 3)]}
    assert len(ids) == 1


def test_the_point_is_fixed_valid_and_versioned() -> None:
    p = state_key_point()
    assert G.deserialize_element(p) == p == state_key_point(1)
    assert state_key_point(2) != p and p != G.base_mult(1)
    request = state_key_request()
    assert Ciphertext.from_bytes(request.to_bytes()) == request and len(request.to_bytes()) == 72


def test_the_key_survives_resharing_and_the_new_committee_replays_the_log(registry: Registry) -> None:
    outs = run_dkg(ED25519, 5, 3, session_id=b"confidential-state-key")
    old = EncryptionCommittee(outs[0].group_public_key, [o.key_share for o in outs], 3)
    auction = next(iter(registry))
    chain = SourceChain(old, auction.contract_id)
    enclave = Enclave(old, old.keyring(), registry, auction.contract_id)
    opened = enclave.run(chain.call(address(0), encode_input(Open(500)), block=100))
    enclave.run(
        chain.call(address(1), encode_input(PlaceBid(int.from_bytes(opened.record.call_id, "big"), 77)), block=101)
    )

    new_shares, _ = run_reshare(ED25519, old.shares[1:4], old.verifying, [1, 2, 3, 4, 5, 6, 7], 4)
    new = EncryptionCommittee(old.public_key, new_shares, 4)
    keyring = new.keyring((7, 6, 2, 1))
    assert keyring.key_id() == enclave.keyring.key_id()
    rebuilt = replay(auction.contract_id, [decode_record(r) for r in enclave.log], keyring, registry=registry)
    assert rebuilt == enclave.state


def test_a_bad_share_names_its_member(committee: EncryptionCommittee) -> None:
    request = state_key_request()
    shares = committee.decryption_shares(request, (1, 2, 3))
    other = decryption_share(committee.shares[3], Ciphertext(G.base_mult(5), bytes(24), bytes(16)))
    forged = [shares[0], DecryptionShare(2, other.d, other.proof), shares[2]]
    with pytest.raises(InvalidDecryptionShareError) as info:
        StateKeyring.recover(forged, committee.verifying, 3, committee.public_key)
    assert tuple(info.value.identifiers) == (2,)


def test_the_keyring_is_never_printed_or_pickled(keyring: StateKeyring) -> None:
    text = repr(keyring) + str(keyring)
    assert "redacted" in text and keyring._master.hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(keyring)
    with pytest.raises(ValueError):
        StateKeyring(b"short")


def test_sealing_is_deterministic_and_bound_to_its_position(keyring: StateKeyring) -> None:
    cid, call = b"\x01" * 32, b"\x02" * 32
    sealed = keyring.seal_event(cid, call, 3, b"event")
    assert sealed == keyring.seal_event(cid, call, 3, b"event") != keyring.seal_event(cid, call, 4, b"event")
    assert keyring.open_event(cid, call, 3, sealed) == b"event"
    for args in ((cid, call, 4), (b"\x09" * 32, call, 3), (cid, b"\x09" * 32, 3)):
        with pytest.raises(ValueError):
            keyring.open_event(*args, sealed)
    with pytest.raises(ValueError):
        keyring.open_event(cid, call, 3, sealed[:10])


# ---- the decryption policy -------------------------------------------------------------------------------------


def test_policy_serves_only_enclaves_of_the_committee() -> None:
    members = [nacl.signing.SigningKey.generate() for _ in range(3)]
    keys = [bytes(m.verify_key) for m in members]
    known: set[bytes] = {b"\x05" * 80}

    async def known_call(ct: bytes) -> bool:
        return ct in known

    policy = ConfidentialDecryptionPolicy(lambda: [*keys, b"\x00" * 32], known_call)
    enclave_key = ed25519_to_x25519_public(keys[1])
    outsider = ed25519_to_x25519_public(bytes(nacl.signing.SigningKey.generate().verify_key))
    request = state_key_request().to_bytes()

    def check(ct: bytes, requester: bytes, p: ConfidentialDecryptionPolicy = policy) -> str:
        try:
            asyncio.run(p.check_decryption(ct, requester))
        except SigningRefusal as exc:
            return exc.code
        return "ok"

    assert check(request, enclave_key) == "ok"
    assert check(request, outsider) == "not_an_enclave"
    assert check(b"\x05" * 80, enclave_key) == "ok"
    assert check(b"\x06" * 80, enclave_key) == "unknown_ciphertext"
    assert check(b"\x05" * 80, outsider) == "not_an_enclave"
    assert check(b"\x05" * 80, enclave_key, ConfidentialDecryptionPolicy(lambda: keys)) == "unknown_ciphertext"

    async def down(ct: bytes) -> bool:
        raise OSError("rpc down")

    assert check(b"\x05" * 80, enclave_key, ConfidentialDecryptionPolicy(lambda: keys, down)) == "chain_unavailable"
