"""executeBatch: releases, mints and calls execute once; every refusal is a typed, readable error."""

from __future__ import annotations

import pytest

from bridge.evm import HEADER_LENGTH, BatchItem, ContractCall, TokenRelease, encode_batch
from relayers.ethereum import errors
from tests.contracts.conftest import CHAIN_ID, PHA, PHALA, Chain, Committee


def _release(chain: Chain, nonce: int, recipient: str, amount: int = PHA, token: str | None = None) -> TokenRelease:
    return TokenRelease(nonce, token or chain.deployment.pha_token, recipient, amount)


def test_release_transfers_locked_pha_and_marks_the_nonce(chain: Chain) -> None:
    alice = chain.accounts[2]
    before = chain.pha.functions.balanceOf(alice).call()
    bridge_before = chain.pha.functions.balanceOf(chain.deployment.bridge).call()
    receipt = chain.execute([_release(chain, 7, alice, 5 * PHA)])
    assert chain.pha.functions.balanceOf(alice).call() == before + 5 * PHA
    assert chain.pha.functions.balanceOf(chain.deployment.bridge).call() == bridge_before - 5 * PHA
    assert chain.bridge.functions.isNonceUsed(PHALA, 7).call()
    assert not chain.bridge.functions.isNonceUsed(PHALA, 8).call()
    transfers = chain.events(receipt, "Transfer", chain.pha)
    assert transfers == [{"from": chain.deployment.bridge, "to": alice, "value": 5 * PHA}]


def test_release_of_a_wrapped_token_mints(chain: Chain) -> None:
    bob = chain.accounts[3]
    chain.execute([_release(chain, 1, bob, 10**12, chain.deployment.wrapped_token)])
    assert chain.wrapped.functions.balanceOf(bob).call() == 10**12
    assert chain.wrapped.functions.totalSupply().call() == 10**12


def test_mixed_batch_runs_every_item_once(chain: Chain) -> None:
    alice, bob = chain.accounts[2], chain.accounts[3]
    recorder = chain.contracts["recorder"]
    data = recorder.functions.record(b"\x01" * 32, b"hello")._encode_transaction_data()
    items: list[BatchItem] = [
        _release(chain, 100, alice),
        ContractCall(101, chain.deployment.call_recorder, 200_000, bytes.fromhex(data[2:])),
        _release(chain, 102, bob, 2 * 10**12, chain.deployment.wrapped_token),
        _release(chain, 355, bob),  # another bitmap word
    ]
    receipt = chain.execute(items)
    calls = chain.events(receipt, "CallExecuted")
    assert len(calls) == 1 and calls[0]["success"] and calls[0]["nonce"] == 101
    assert int.from_bytes(calls[0]["result"], "big") == 1  # record() returned the new count
    assert recorder.functions.lastCaller().call() == chain.deployment.bridge
    assert recorder.functions.lastTag().call() == b"\x01" * 32
    assert chain.wrapped.functions.balanceOf(bob).call() == 2 * 10**12
    for nonce in (100, 101, 102, 355):
        assert chain.bridge.functions.isNonceUsed(PHALA, nonce).call()


def test_reverting_target_is_recorded_and_the_rest_executes(chain: Chain) -> None:
    alice = chain.accounts[2]
    before = chain.pha.functions.balanceOf(alice).call()
    items: list[BatchItem] = [
        ContractCall(1, chain.deployment.reverting_target, 100_000, b"\xde\xad"),
        _release(chain, 2, alice),
    ]
    receipt = chain.execute(items)
    (call,) = chain.events(receipt, "CallExecuted")
    assert call["success"] is False and call["target"] == chain.deployment.reverting_target
    reason = errors.decode_error(call["result"])
    assert isinstance(reason, errors.AlwaysReverts)
    assert reason.values["data"] == b"\xde\xad" and reason.values["caller"] == chain.deployment.bridge
    assert "reverting example target refused a call" in str(reason)
    assert chain.pha.functions.balanceOf(alice).call() == before + PHA
    assert chain.bridge.functions.isNonceUsed(PHALA, 1).call()  # a failed call is final, not retried


def test_call_gets_exactly_its_gas_limit(chain: Chain) -> None:
    spin = chain.contracts["recorder"].functions.spin(0)._encode_transaction_data()
    receipt = chain.execute([ContractCall(3, chain.deployment.call_recorder, 50_000, bytes.fromhex(spin[2:]))])
    (call,) = chain.events(receipt, "CallExecuted")
    assert call["success"] is False  # ran out of its 50k, the batch did not
    assert receipt["gasUsed"] < 200_000


def test_too_little_gas_for_a_call_reverts_the_batch(chain: Chain) -> None:
    item = ContractCall(4, chain.deployment.call_recorder, 5_000_000, b"")
    with pytest.raises(errors.InsufficientGasForCall) as info:
        chain.execute([item], gas=1_000_000)
    assert info.value.retryable and "send the batch with more gas" in str(info.value)
    assert not chain.bridge.functions.isNonceUsed(PHALA, 4).call()


def test_target_not_allow_listed(chain: Chain) -> None:
    item = ContractCall(5, chain.deployment.pha_token, 100_000, b"")
    with pytest.raises(errors.TargetNotAllowed, match="is not an allow-listed call target"):
        chain.execute([item])


def test_unknown_token(chain: Chain) -> None:
    item = _release(chain, 6, chain.accounts[2], token=chain.deployment.call_recorder)
    with pytest.raises(errors.UnknownToken, match="is not configured on the bridge"):
        chain.execute([item])


# ---- replay ----------------------------------------------------------------------------------------------------


def test_replayed_batch_is_refused(chain: Chain) -> None:
    batch = chain.encode([_release(chain, 9, chain.accounts[2])])
    signature = chain.sign_batch(batch)
    chain.execute(batch, signature=signature)
    with pytest.raises(errors.NonceAlreadyUsed) as info:
        chain.execute(batch, signature=signature)
    assert info.value.values == {"sourceDomain": PHALA, "nonce": 9}
    assert str(info.value) == "NonceAlreadyUsed: nonce 9 from domain 2 was already executed: replay refused"


def test_replayed_nonce_in_a_new_batch_is_refused(chain: Chain) -> None:
    chain.execute([_release(chain, 11, chain.accounts[2])])
    with pytest.raises(errors.NonceAlreadyUsed):
        chain.execute([_release(chain, 12, chain.accounts[3]), _release(chain, 11, chain.accounts[3])])
    assert not chain.bridge.functions.isNonceUsed(PHALA, 12).call()  # nothing of the batch happened


def test_duplicate_nonce_inside_one_batch_is_refused(chain: Chain) -> None:
    item = _release(chain, 13, chain.accounts[2]).encode(0)
    header = encode_batch(chain.epoch, PHALA, [_release(chain, 13, chain.accounts[2])])[: HEADER_LENGTH + 20]
    with pytest.raises(errors.NonceAlreadyUsed):
        chain.execute(header + item + item)


def test_same_nonce_from_another_domain_is_independent(chain: Chain) -> None:
    chain.execute([_release(chain, 14, chain.accounts[2])], domain=PHALA)
    chain.execute([_release(chain, 14, chain.accounts[2])], domain=3)
    assert chain.bridge.functions.isNonceUsed(3, 14).call()


# ---- signatures -------------------------------------------------------------------------------------------------


def test_tampered_signature(chain: Chain) -> None:
    batch = chain.encode([_release(chain, 20, chain.accounts[2])])
    rx, ry, z, pk_x = chain.sign_batch(batch)
    bad_z = ((int.from_bytes(z, "big") + 1) % 2**256).to_bytes(32, "big")
    with pytest.raises(errors.InvalidSignature, match="does not verify"):
        chain.execute(batch, signature=(rx, ry, bad_z, pk_x))


def test_tampered_batch(chain: Chain) -> None:
    batch = chain.encode([_release(chain, 21, chain.accounts[2], PHA)])
    signature = chain.sign_batch(batch)
    tampered = chain.encode([_release(chain, 21, chain.accounts[2], 1000 * PHA)])
    with pytest.raises(errors.InvalidSignature):
        chain.execute(tampered, signature=signature)


def test_signature_for_another_chain_id(chain: Chain) -> None:
    batch = chain.encode([_release(chain, 22, chain.accounts[2])])
    with pytest.raises(errors.InvalidSignature, match="another chain id, bridge address"):
        chain.execute(batch, signature=chain.sign_batch(batch, chain_id=CHAIN_ID + 1))


def test_signature_for_another_bridge(chain: Chain) -> None:
    batch = chain.encode([_release(chain, 23, chain.accounts[2])])
    with pytest.raises(errors.InvalidSignature):
        chain.execute(batch, signature=chain.sign_batch(batch, bridge=chain.deployment.pha_token))


def test_signature_for_another_epoch(chain: Chain) -> None:
    # signed over a batch that names epoch 2; presented with the header of epoch 1
    signed = chain.encode([_release(chain, 24, chain.accounts[2])], epoch=2)
    presented = chain.encode([_release(chain, 24, chain.accounts[2])], epoch=1)
    with pytest.raises(errors.InvalidSignature):
        chain.execute(presented, signature=chain.sign_batch(signed))
    with pytest.raises(errors.UnknownKeyEpoch, match="names key epoch 2; the bridge accepts epoch 1"):
        chain.execute(signed, signature=chain.sign_batch(signed))


def test_signature_by_another_committee(chain: Chain) -> None:
    with pytest.raises(errors.WrongSigningKey, match="other than the one registered"):
        chain.execute([_release(chain, 25, chain.accounts[2])], committee=Committee.new())


def test_key_x_swapped_for_the_registered_one_does_not_verify(chain: Chain) -> None:
    # another committee's signature presented under the registered key's x: the tag matches, the math does not
    other = Committee.new()
    batch = chain.encode([_release(chain, 26, chain.accounts[2])])
    rx, ry, z, _ = chain.sign_batch(batch, committee=other)
    with pytest.raises(errors.InvalidSignature):
        chain.execute(batch, signature=(rx, ry, z, chain.committee.xy[0]))


def test_any_three_of_five_sign(chain: Chain) -> None:
    from bridge.evm import batch_digest

    batch = chain.encode([_release(chain, 27, chain.accounts[2])])
    digest = batch_digest(CHAIN_ID, chain.deployment.bridge, batch)
    chain.execute(batch, signature=chain.committee.sign(digest, signers=(1, 3, 4)))
    assert chain.bridge.functions.isNonceUsed(PHALA, 27).call()


# ---- malformed batches ------------------------------------------------------------------------------------------


def _signed_raw(chain: Chain, raw: bytes) -> None:
    chain.execute(raw, signature=chain.sign_batch(raw))


def test_empty_batch(chain: Chain) -> None:
    raw = bytes([1]) + chain.epoch.to_bytes(4, "big") + PHALA.to_bytes(4, "big") + b"\x00"
    with pytest.raises(errors.EmptyBatch, match="no items"):
        _signed_raw(chain, raw)


def test_truncated_item(chain: Chain) -> None:
    raw = chain.encode([_release(chain, 30, chain.accounts[2])])[:-1]
    with pytest.raises(errors.MalformedBatch) as info:
        _signed_raw(chain, raw)
    assert info.value.values["offset"] == HEADER_LENGTH + 20
    assert "truncated or runs past the end" in str(info.value)


def test_call_data_length_past_the_end(chain: Chain) -> None:
    raw = chain.encode([ContractCall(31, chain.deployment.call_recorder, 1000, b"abc")])[:-1]
    with pytest.raises(errors.MalformedBatch):
        _signed_raw(chain, raw)


def test_unknown_item_kind(chain: Chain) -> None:
    raw = bytearray(chain.encode([_release(chain, 32, chain.accounts[2])]))
    raw[HEADER_LENGTH + 20] = 7
    with pytest.raises(errors.UnknownItemKind, match="unknown item kind 7 at byte 30"):
        _signed_raw(chain, bytes(raw))


def test_token_index_outside_the_table(chain: Chain) -> None:
    raw = bytearray(chain.encode([_release(chain, 33, chain.accounts[2])]))
    raw[HEADER_LENGTH + 20 + 9] = 1
    with pytest.raises(errors.MalformedBatch):
        _signed_raw(chain, bytes(raw))


def test_token_listed_twice_in_the_table(chain: Chain) -> None:
    good = chain.encode([_release(chain, 34, chain.accounts[2])])
    token = good[HEADER_LENGTH : HEADER_LENGTH + 20]
    raw = good[: HEADER_LENGTH - 1] + b"\x02" + token + token + good[HEADER_LENGTH + 20 :]
    with pytest.raises(errors.MalformedBatch) as info:
        _signed_raw(chain, raw)
    assert info.value.values["offset"] == HEADER_LENGTH + 20


def test_unsupported_version(chain: Chain) -> None:
    raw = b"\x02" + chain.encode([_release(chain, 35, chain.accounts[2])])[1:]
    with pytest.raises(errors.UnsupportedBatchVersion, match="version 2 is not supported"):
        _signed_raw(chain, raw)


def test_source_domain_must_be_another_chain(chain: Chain) -> None:
    with pytest.raises(errors.InvalidSourceDomain):
        chain.execute([_release(chain, 36, chain.accounts[2])], domain=1)


def test_header_too_short(chain: Chain) -> None:
    with pytest.raises(errors.MalformedBatch):
        _signed_raw(chain, b"\x01\x00")


def test_too_little_gas_for_a_token_call_reverts_the_batch(chain: Chain) -> None:
    # a relayer cannot make a good release fail (and be queued) by sending too little gas
    with pytest.raises(errors.InsufficientGasForCall) as info:
        chain.execute([_release(chain, 40, chain.accounts[2])], gas=80_000)
    assert info.value.values == {"nonce": 40, "gasLimit": 141_587}
    assert not chain.bridge.functions.isNonceUsed(PHALA, 40).call()
