"""messageOrigin(): a call item with origin (kind 3) shows its target the signed (source domain, sender, nonce) during
the call and at no other time: not outside executeBatch, not during a call without origin, not after a target that
reverted or ran out of gas, and a target re-entering executeBatch neither sees nor clobbers the outer origin."""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract import Contract

from bridge.evm import (
    HEADER_LENGTH,
    BatchEncodingError,
    BatchItem,
    ContractCall,
    TokenRelease,
    decode_batch,
    encode_batch,
    execute_batch_calldata,
)
from relayers.ethereum import errors
from relayers.ethereum.contracts import call, contract_at, send
from relayers.ethereum.deploy import deploy_contract
from tests.contracts.conftest import PHA, PHALA, Chain

ALICE = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")  # //Alice's AccountId32
AUCTION_ID = b"\xac" * 32
MALLORY = b"\x66" * 32


def _deploy(chain: Chain, name: str, *args: Any) -> Contract:
    address = deploy_contract(chain.w3, chain.admin, name, *args)
    send(chain.w3, chain.bridge.functions.setAllowedTarget(address, True), chain.admin)
    return contract_at(chain.w3, name, address)


@pytest.fixture
def probe(chain: Chain) -> Contract:
    return _deploy(chain, "OriginProbe", chain.deployment.bridge)


def _data(fn: Any) -> bytes:
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def _seen(chain: Chain, receipt: Any, probe: Contract) -> list[tuple[int, bool, int, bytes, int]]:
    return [
        (e["step"], e["has"], e["sourceDomain"], e["sender"], e["nonce"]) for e in chain.events(receipt, "Seen", probe)
    ]


def test_the_target_sees_the_signed_origin_during_the_call(chain: Chain, probe: Contract) -> None:
    receipt = chain.execute([ContractCall(7, probe.address, 100_000, _data(probe.functions.probe()), ALICE)])
    assert _seen(chain, receipt, probe) == [(0, True, PHALA, ALICE, 7)]
    (call,) = chain.events(receipt, "CallExecuted")
    assert call["success"] and call["nonce"] == 7


def test_no_origin_outside_a_call(chain: Chain, probe: Contract) -> None:
    with pytest.raises(errors.NoMessageOrigin, match="no message origin"):
        call(chain.bridge.functions.messageOrigin())
    # in a transaction too: probe() called directly, not by the bridge
    receipt = send(chain.w3, probe.functions.probe(), chain.accounts[2])
    assert _seen(chain, receipt, probe) == [(0, False, 0, b"\x00" * 32, 0)]


def test_a_call_without_origin_sees_none(chain: Chain, probe: Contract) -> None:
    receipt = chain.execute([ContractCall(8, probe.address, 100_000, _data(probe.functions.probe()))])  # kind 2
    assert _seen(chain, receipt, probe) == [(0, False, 0, b"\x00" * 32, 0)]


def test_each_item_sees_its_own_origin_and_the_next_ones_none_left_over(chain: Chain, probe: Contract) -> None:
    items: list[BatchItem] = [
        ContractCall(1, probe.address, 100_000, _data(probe.functions.probe()), ALICE),
        TokenRelease(2, chain.deployment.pha_token, chain.accounts[2], PHA),
        ContractCall(3, probe.address, 100_000, _data(probe.functions.probe()), AUCTION_ID),
        ContractCall(4, probe.address, 100_000, _data(probe.functions.probe())),
    ]
    receipt = chain.execute(items)
    assert _seen(chain, receipt, probe) == [
        (0, True, PHALA, ALICE, 1),
        (0, True, PHALA, AUCTION_ID, 3),
        (0, False, 0, b"\x00" * 32, 0),
    ]


@pytest.mark.parametrize("failing", ["probeThenRevert", "probeThenBurn"])
def test_the_origin_is_cleared_after_a_failing_target(chain: Chain, probe: Contract, failing: str) -> None:
    items: list[BatchItem] = [
        ContractCall(10, probe.address, 60_000, _data(getattr(probe.functions, failing)()), ALICE),
        ContractCall(11, probe.address, 100_000, _data(probe.functions.probe())),  # no origin: must see none
        ContractCall(12, probe.address, 100_000, _data(probe.functions.probe()), MALLORY),
    ]
    receipt = chain.execute(items)
    calls = chain.events(receipt, "CallExecuted")
    assert [c["success"] for c in calls] == [False, True, True]
    assert _seen(chain, receipt, probe) == [(0, False, 0, b"\x00" * 32, 0), (0, True, PHALA, MALLORY, 12)]
    # and after the whole transaction: a contract calling executeBatch then messageOrigin in one transaction
    inner = chain.encode([ContractCall(13, probe.address, 60_000, _data(probe.functions.probeThenRevert()), ALICE)])
    calldata = execute_batch_calldata(inner, chain.sign_batch(inner))
    receipt = send(chain.w3, probe.functions.reenter(calldata), chain.accounts[2], gas=2_000_000)
    assert _seen(chain, receipt, probe) == [(1, False, 0, b"\x00" * 32, 0), (2, False, 0, b"\x00" * 32, 0)]
    assert chain.bridge.functions.isNonceUsed(PHALA, 13).call()


def test_a_reentrant_batch_neither_leaks_nor_clobbers_the_outer_origin(chain: Chain, probe: Contract) -> None:
    """The outer item (Alice, nonce 20) calls reenter(inner batch); the inner batch's items see their own origin
    (Mallory, nonce 21) or none (kind 2, nonce 22), and after the inner executeBatch returns the outer target sees
    Alice's origin again."""
    inner = chain.encode(
        [
            ContractCall(21, probe.address, 100_000, _data(probe.functions.probe()), MALLORY),
            ContractCall(22, probe.address, 100_000, _data(probe.functions.probe())),
            ContractCall(23, probe.address, 60_000, _data(probe.functions.probeThenRevert()), MALLORY),
        ]
    )
    inner_calldata = execute_batch_calldata(inner, chain.sign_batch(inner))
    outer = [ContractCall(20, probe.address, 1_500_000, _data(probe.functions.reenter(inner_calldata)), ALICE)]
    receipt = chain.execute(outer, gas=3_000_000)
    assert _seen(chain, receipt, probe) == [
        (1, True, PHALA, ALICE, 20),
        (0, True, PHALA, MALLORY, 21),
        (0, False, 0, b"\x00" * 32, 0),
        (2, True, PHALA, ALICE, 20),
    ]
    nonces = [c["nonce"] for c in chain.events(receipt, "CallExecuted")]
    assert nonces == [21, 22, 23, 20]  # the inner batch really ran inside the outer call
    for nonce in (20, 21, 22, 23):
        assert chain.bridge.functions.isNonceUsed(PHALA, nonce).call()


def test_a_call_without_origin_between_two_with_origin_keeps_the_outermost_intact(
    chain: Chain, probe: Contract
) -> None:
    """Three levels: Alice's item (60) re-enters with a call without origin (61), which re-enters with Mallory's item
    (62). The middle level sees no origin before and after, the innermost its own, the outermost Alice's, whole
    (sender included), after everything returned."""
    innermost = chain.encode([ContractCall(62, probe.address, 100_000, _data(probe.functions.probe()), MALLORY)])
    calldata3 = execute_batch_calldata(innermost, chain.sign_batch(innermost))
    middle = chain.encode([ContractCall(61, probe.address, 1_000_000, _data(probe.functions.reenter(calldata3)))])
    calldata2 = execute_batch_calldata(middle, chain.sign_batch(middle))
    receipt = chain.execute(
        [ContractCall(60, probe.address, 2_000_000, _data(probe.functions.reenter(calldata2)), ALICE)], gas=4_000_000
    )
    none = (False, 0, b"\x00" * 32, 0)
    assert _seen(chain, receipt, probe) == [
        (1, True, PHALA, ALICE, 60),
        (1, *none),
        (0, True, PHALA, MALLORY, 62),
        (2, *none),
        (2, True, PHALA, ALICE, 60),
    ]


def test_a_tampered_origin_byte_breaks_the_signature(chain: Chain, probe: Contract) -> None:
    batch = chain.encode([ContractCall(30, probe.address, 100_000, _data(probe.functions.probe()), ALICE)])
    signature = chain.sign_batch(batch)
    offset = HEADER_LENGTH + 37  # the sender, right after the call header (no token table)
    assert batch[offset : offset + 32] == ALICE
    tampered = bytearray(batch)
    tampered[offset + 31] ^= 1
    with pytest.raises(errors.InvalidSignature):
        chain.execute(bytes(tampered), signature=signature)
    # the kind byte turned to 2 (a call without origin) is another batch too, and so is the origin dropped
    relabelled = bytearray(batch)
    relabelled[HEADER_LENGTH] = 2
    dropped = encode_batch(
        chain.epoch, PHALA, [ContractCall(30, probe.address, 100_000, _data(probe.functions.probe()))]
    )
    for forged in (bytes(relabelled), dropped):
        with pytest.raises(errors.InvalidSignature):
            chain.execute(forged, signature=signature)
    chain.execute(batch, signature=signature)  # untouched, it executes
    assert chain.bridge.functions.isNonceUsed(PHALA, 30).call()


def test_malformed_calls_with_origin(chain: Chain, probe: Contract) -> None:
    good = chain.encode([ContractCall(40, probe.address, 100_000, b"\x01\x02", ALICE)])
    # the data length runs past the end (one byte missing); the origin cut short (no data, 31 bytes of sender)
    short_data = good[:-1]
    short_sender = chain.encode([ContractCall(41, probe.address, 100_000, b"", ALICE)])[:-1]
    for raw in (short_data, short_sender):
        with pytest.raises(errors.MalformedBatch) as info:
            chain.execute(raw)
        assert info.value.values["offset"] == HEADER_LENGTH
        with pytest.raises(BatchEncodingError, match=r"past the end|truncated"):
            decode_batch(raw)
    with pytest.raises(BatchEncodingError, match="truncated call item with origin"):
        decode_batch(short_sender)
    with pytest.raises(BatchEncodingError, match="32 bytes"):
        ContractCall(42, probe.address, 1, b"", ALICE[:20]).encode()
    assert decode_batch(good).items == (ContractCall(40, probe.address.lower(), 100_000, b"\x01\x02", ALICE),)


def test_an_example_target_takes_calls_only_from_its_owner(chain: Chain) -> None:
    owned = _deploy(chain, "PhalaOwnedRecorder", chain.deployment.bridge, PHALA, ALICE)
    record = _data(owned.functions.record(b"\x42" * 32))
    receipt = chain.execute(
        [
            ContractCall(50, owned.address, 100_000, record, ALICE),
            ContractCall(51, owned.address, 100_000, record, MALLORY),
            ContractCall(52, owned.address, 100_000, record),  # no origin at all
        ]
    )
    calls = chain.events(receipt, "CallExecuted")
    assert [c["success"] for c in calls] == [True, False, False]
    refused = errors.decode_error(calls[1]["result"])
    assert isinstance(refused, errors.NotOwnerOrigin) and refused.values["sender"] == MALLORY
    assert isinstance(errors.decode_error(calls[2]["result"]), errors.NoMessageOrigin)
    assert owned.functions.count().call() == 1 and owned.functions.lastNonce().call() == 50
    with pytest.raises(errors.NotBridge):
        send(chain.w3, owned.functions.record(b"\x00" * 32), chain.accounts[2])
