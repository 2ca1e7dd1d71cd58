"""Outside truth for FROST(Ed25519): the real runtime accepts an extrinsic signed by a 3-of-5 group key's account,
and rejects one whose group signature was made over a different payload."""

from __future__ import annotations

import pytest
from nacl.signing import VerifyKey
from substrateinterface import Keypair, KeypairType, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException

from bridge.devnet import DevnetState
from enclave_signer.frost import ED25519, sign_with_shares, trusted_dealer_keygen


@pytest.fixture(scope="module")
def phala(devnet: DevnetState) -> SubstrateInterface:
    return SubstrateInterface(url=devnet.phala.ws_url)


def _fund(chain: SubstrateInterface, account: str, amount: int) -> None:
    alice = Keypair.create_from_uri("//Alice")
    call = chain.compose_call("Balances", "transfer_keep_alive", {"dest": account, "value": amount})
    receipt = chain.submit_extrinsic(chain.create_signed_extrinsic(call, alice), wait_for_inclusion=True)
    assert receipt.is_success, receipt.error_message


def test_group_key_account_signs_an_accepted_extrinsic(phala: SubstrateInterface) -> None:
    group_pk, shares = trusted_dealer_keygen(ED25519, n=5, t=3)
    group = Keypair(public_key=group_pk, ss58_format=phala.ss58_format or 42, crypto_type=KeypairType.ED25519)
    _fund(phala, group.ss58_address, 10**15)

    bob = Keypair.create_from_uri("//Bob")
    call = phala.compose_call("Balances", "transfer_keep_alive", {"dest": bob.ss58_address, "value": 12345})
    nonce = phala.get_account_nonce(group.ss58_address)
    payload = bytes(phala.generate_signature_payload(call, nonce=nonce).data)
    # Members 2, 4 and 5 sign: any 3 of the 5 will do.
    sig = sign_with_shares(ED25519, [shares[1], shares[3], shares[4]], payload).to_bytes()
    VerifyKey(group_pk).verify(payload, sig)  # a standard verifier agrees before the chain does

    extrinsic = phala.create_signed_extrinsic(call, group, nonce=nonce, signature=sig)
    receipt = phala.submit_extrinsic(extrinsic, wait_for_inclusion=True)
    assert receipt.is_success, receipt.error_message
    transfers = [e.value for e in receipt.triggered_events if e.value["event_id"] == "Transfer"]
    assert len(transfers) == 1
    attrs = transfers[0]["attributes"]
    assert bytes.fromhex(phala.ss58_decode(attrs["from"])) == group_pk
    assert bytes.fromhex(phala.ss58_decode(attrs["to"])) == bob.public_key
    assert attrs["amount"] == 12345
    assert phala.get_account_nonce(group.ss58_address) == nonce + 1


def test_group_signature_over_another_payload_is_rejected(phala: SubstrateInterface) -> None:
    group_pk, shares = trusted_dealer_keygen(ED25519, n=5, t=3)
    group = Keypair(public_key=group_pk, ss58_format=phala.ss58_format or 42, crypto_type=KeypairType.ED25519)
    _fund(phala, group.ss58_address, 10**15)
    call = phala.compose_call("Balances", "transfer_keep_alive", {"dest": group.ss58_address, "value": 1})
    nonce = phala.get_account_nonce(group.ss58_address)
    wrong = sign_with_shares(ED25519, shares[:3], b"not the signing payload").to_bytes()
    extrinsic = phala.create_signed_extrinsic(call, group, nonce=nonce, signature=wrong)
    # 1010 = invalid transaction; badProof = the signature does not verify
    with pytest.raises(SubstrateRequestException, match=r"badProof"):
        phala.submit_extrinsic(extrinsic, wait_for_inclusion=True)
    assert phala.get_account_nonce(group.ss58_address) == nonce
