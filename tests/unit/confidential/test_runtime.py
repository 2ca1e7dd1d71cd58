"""The runtime: SDK payload -> t decryption shares -> decrypt_call -> execute -> sealed events -> replay; every
refusal recorded with its reason and no state change; replays, order, tampered logs, disagreeing enclaves."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from bridge.confidential import (
    NULL_CONTRACT_ID,
    CallStatus,
    ConfidentialCall,
    ExecutionRecord,
    decode_call_payload,
    decode_record,
    encode_call_payload,
    encode_record,
    result_digest,
)
from enclave_signer.contracts import (
    CallOrderError,
    DecryptedCall,
    RefusedCall,
    Registry,
    ReplayError,
    SealedBidAuction,
    StateKeyring,
    call_ciphertext,
    decrypt_call,
    execute,
    initial_state,
    replay,
    route,
    tally,
)
from enclave_signer.contracts.auction import Book
from enclave_signer.contracts.auction_codec import BidPlaced, Close, Open, Opened, PlaceBid, encode_input
from enclave_signer.frost import InvalidDecryptionShareError, InvalidParametersError
from enclave_signer.tdec import Ciphertext, DecryptionShare
from tests.unit.confidential.helpers import Enclave, EncryptionCommittee, SourceChain, address

SELLER, ALICE, BOB = address(0), address(1), address(2)


def _open(enclave: Enclave, chain: SourceChain, close_block: int = 200) -> int:
    result = enclave.run(chain.call(SELLER, encode_input(Open(close_block)), block=100))
    assert result.status is CallStatus.EXECUTED, result.reason
    return int.from_bytes(result.record.call_id, "big")


def test_round_trip_encrypt_decrypt_execute_replay(enclave: Enclave, chain: SourceChain, keyring: StateKeyring) -> None:
    auction_id = _open(enclave, chain)
    amount = 0x4F1D_8A22_93C7_0B5E_61A9  # high entropy: its bytes cannot turn up in the ciphertext by chance
    bid = enclave.run(chain.call(ALICE, encode_input(PlaceBid(auction_id, amount)), block=120))
    assert bid.status is CallStatus.EXECUTED and bid.outputs == ()
    (sealed,) = bid.record.events
    assert amount.to_bytes(10, "big") not in sealed and ALICE not in sealed  # the bidder is sealed too
    assert keyring.open_event(enclave.contract_id, bid.record.call_id, 1, sealed)[:1] == b"\x02"
    book: Book = enclave.state.value
    assert book.auctions[auction_id].bids == (BidPlaced(auction_id, ALICE, amount, chain.nonce),)
    # the log replays to the same state, from records decoded off the chain, in a fresh process with another t
    assert enclave.restart() == enclave.state
    assert enclave.state.position == 2 and enclave.state.next_seq == 2


def test_each_enclave_computes_the_same_record_and_digest(
    committee: EncryptionCommittee, keyring: StateKeyring, registry: Registry, auction: SealedBidAuction
) -> None:
    chain = SourceChain(committee, auction.contract_id)
    calls = [chain.call(SELLER, encode_input(Open(150)), block=100)]
    calls.append(chain.call(ALICE, encode_input(PlaceBid(int.from_bytes(calls[0].call_id, "big"), 9)), block=101))
    members = [(1, 2, 3), (3, 4, 5), (1, 3, 5)]
    enclaves = [Enclave(committee, committee.keyring(m), registry, auction.contract_id) for m in members]
    for call in calls:
        results = [e.run(call, members=m) for e, m in zip(enclaves, members, strict=True)]
        assert len({r.digest for r in results}) == 1
        assert len({r.record_bytes for r in results}) == 1  # deterministic sealing: byte-identical records
        assert results[0].digest == result_digest(results[0].record, results[0].outputs)


class _LowestBidWins(SealedBidAuction):
    def _close(self, state, ctx, auction_id):  # type: ignore[no-untyped-def]
        s = super()._close(state, ctx, auction_id)
        bids = state.auctions[auction_id].bids
        worst = min(bids, key=lambda b: b.amount)
        return dataclasses.replace(s, winner=worst.bidder, price=worst.amount)


def test_an_enclave_that_computes_differently_gives_another_digest(
    committee: EncryptionCommittee, keyring: StateKeyring, registry: Registry, auction: SealedBidAuction
) -> None:
    broken = _LowestBidWins(auction.settlement)
    assert broken.contract_id == auction.contract_id
    chain = SourceChain(committee, auction.contract_id)
    honest = Enclave(committee, keyring, registry, auction.contract_id)
    bad = Enclave(committee, keyring, Registry([broken]), auction.contract_id)
    wrong_key = Enclave(committee, StateKeyring(bytes(32)), registry, auction.contract_id)
    open_call = chain.call(SELLER, encode_input(Open(150)), block=100)
    auction_id = int.from_bytes(open_call.call_id, "big")
    calls = [
        open_call,
        chain.call(ALICE, encode_input(PlaceBid(auction_id, 10)), block=110),
        chain.call(BOB, encode_input(PlaceBid(auction_id, 20)), block=111),
        chain.call(SELLER, encode_input(Close(auction_id)), block=150),
    ]
    for call in calls:
        a, _, c = honest.run(call), bad.run(call), wrong_key.run(call)
        assert a.digest != c.digest  # sealed under another state key
    assert honest.results[-1].digest != bad.results[-1].digest  # same events so far, another winner at close
    assert [r.digest for r in honest.results[:3]] == [r.digest for r in bad.results[:3]]


def test_replayed_call_is_refused_and_recorded_without_state_change(enclave: Enclave, chain: SourceChain) -> None:
    auction_id = _open(enclave, chain)
    call = chain.call(ALICE, encode_input(PlaceBid(auction_id, 7)), block=101)
    enclave.run(call)
    before = enclave.state
    again = enclave.run(call)
    assert (again.status, again.code) == (CallStatus.REFUSED, "replayed")
    assert again.record.events == () and again.outputs == ()
    assert enclave.state.value == before.value and enclave.state.next_seq == before.next_seq
    assert enclave.state.executed == before.executed and enclave.state.position == before.position + 1
    assert enclave.restart() == enclave.state  # the replay refusal replays too


def _refused(enclave: Enclave, call: ConfidentialCall, code: str) -> None:
    before = enclave.state
    result = enclave.run(call)
    assert (result.status, result.code) == (CallStatus.REFUSED, code), result.reason
    assert result.record.events == () and result.outputs == ()
    assert enclave.state.value == before.value and enclave.state.next_seq == before.next_seq
    assert result.record.call_id in enclave.state.executed  # spent: the same message again is a replay


def test_tampered_ciphertext_is_refused(enclave: Enclave, chain: SourceChain) -> None:
    auction_id = _open(enclave, chain)
    payload = bytearray(chain.payload(ALICE, encode_input(PlaceBid(auction_id, 7))))
    payload[-1] ^= 1
    _refused(enclave, chain.call(ALICE, b"", payload=bytes(payload)), "undecryptable")
    assert enclave.state.value.auctions[auction_id].bids == ()
    assert enclave.restart() == enclave.state


def test_ciphertext_for_another_contract_or_caller_is_refused(
    enclave: Enclave, chain: SourceChain, registry: Registry, committee: EncryptionCommittee
) -> None:
    other = SealedBidAuction(bytes(range(20)))
    wide = Registry([*registry, other])
    enclave.registry = wide
    auction_id = _open(enclave, chain)
    # Alice's bid for another contract, re-addressed to this one (same ciphertext, payload's id swapped)
    theirs = decode_call_payload(chain.payload(ALICE, encode_input(PlaceBid(auction_id, 7)), other.contract_id))
    moved = encode_call_payload(dataclasses.replace(theirs, contract_id=enclave.contract_id))
    _refused(enclave, chain.call(ALICE, b"", payload=moved), "undecryptable")
    # Alice's bid copied by Bob (front-running a sealed bid by replaying its ciphertext)
    alice_payload = chain.payload(ALICE, encode_input(PlaceBid(auction_id, 7)))
    _refused(enclave, chain.call(BOB, b"", payload=alice_payload), "undecryptable")
    assert enclave.state.value.auctions[auction_id].bids == ()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"PHCC\x01" + b"\x00" * 10, "malformed_payload"),  # truncated
        (b"PHCC\x02" + b"\x00" * 200, "malformed_payload"),  # unknown version
        (b"PHCC\x01" + bytes(32) + b"\x00" * 72, "unknown_contract"),  # the null contract id
        (b"PHCC\x01" + b"\x07" * 32 + b"\x00" * 72, "unknown_contract"),  # an id nobody registered
    ],
)
def test_malformed_payloads_are_refused(
    committee: EncryptionCommittee, registry: Registry, payload: bytes, code: str
) -> None:
    chain = SourceChain(committee, bytes(32))
    call = chain.call(ALICE, b"", payload=payload)
    ct = call_ciphertext(call, registry)
    assert isinstance(ct, RefusedCall) and ct.code == code
    assert ct.contract_id == route(call, registry) == NULL_CONTRACT_ID  # recorded in the null log
    null = Enclave(committee, committee.keyring(), registry, NULL_CONTRACT_ID)
    _refused(null, call, code)
    assert null.restart() == null.state


def test_a_ciphertext_with_a_torsion_point_is_refused_before_any_share(
    enclave: Enclave, chain: SourceChain, registry: Registry
) -> None:
    small_order = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
    payload = b"PHCC\x01" + enclave.contract_id + small_order + bytes(24 + 16 + 5)
    call = chain.call(ALICE, b"", payload=payload)
    assert isinstance(call_ciphertext(call, registry), RefusedCall)
    _refused(enclave, call, "malformed_payload")


def test_bad_or_missing_shares_blame_members_not_the_caller(
    enclave: Enclave, chain: SourceChain, committee: EncryptionCommittee, registry: Registry
) -> None:
    call = chain.call(SELLER, encode_input(Open(200)), block=100)
    ct = call_ciphertext(call, registry)
    assert isinstance(ct, Ciphertext)
    shares = committee.decryption_shares(ct)
    forged = [shares[0], DecryptionShare(shares[1].identifier, shares[0].d, shares[1].proof), shares[2]]
    args = (committee.verifying, 3, committee.public_key)
    with pytest.raises(InvalidDecryptionShareError) as info:
        decrypt_call(call, forged, *args, registry=registry)
    assert tuple(info.value.identifiers) == (shares[1].identifier,)
    with pytest.raises(InvalidParametersError):
        decrypt_call(call, shares[:2], *args, registry=registry)
    assert isinstance(decrypt_call(call, shares, *args, registry=registry), DecryptedCall)


def test_calls_out_of_source_order_are_not_recorded(enclave: Enclave, chain: SourceChain) -> None:
    first = chain.call(SELLER, encode_input(Open(200)), block=100)
    second = chain.call(SELLER, encode_input(Open(300)), block=100)
    enclave.run(second)
    with pytest.raises(CallOrderError):
        enclave.run(first)
    assert enclave.state.position == 1


def test_a_call_for_another_contract_state_is_a_wiring_error(
    enclave: Enclave, chain: SourceChain, keyring: StateKeyring, registry: Registry
) -> None:
    call = chain.call(SELLER, encode_input(Open(200)), block=100)
    dec = DecryptedCall(call, enclave.contract_id, encode_input(Open(200)))
    with pytest.raises(CallOrderError):
        execute(bytes(32), enclave.state, dec, keyring, registry=registry)


def test_tampered_reordered_or_missing_records_do_not_replay(
    enclave: Enclave, chain: SourceChain, keyring: StateKeyring, registry: Registry
) -> None:
    auction_id = _open(enclave, chain)
    enclave.run(chain.call(ALICE, encode_input(PlaceBid(auction_id, 7)), block=101))
    enclave.run(chain.call(BOB, encode_input(PlaceBid(auction_id, 8)), block=102))
    records = [decode_record(r) for r in enclave.log]
    cid = enclave.contract_id

    def fails(log: Sequence[ExecutionRecord | bytes], match: str) -> None:
        with pytest.raises(ReplayError, match=match):
            replay(cid, log, keyring, registry=registry)

    fails([records[0], records[2]], "does not follow")  # a record left out
    fails([records[0], records[2], records[1]], "does not follow")
    swapped = [records[0], dataclasses.replace(records[1], events=records[2].events), records[2]]
    fails(swapped, "does not authenticate")  # a sealed event moved to another call
    flipped = bytearray(encode_record(records[1]))
    flipped[-1] ^= 1
    fails([records[0], bytes(flipped)], "does not authenticate")
    fails([records[0], b"PHCR\x01"], "truncated")
    other_key = StateKeyring(b"\x01" * 32)
    with pytest.raises(ReplayError):
        replay(cid, records, other_key, registry=registry)
    assert replay(cid, records, keyring, registry=registry) == enclave.state


def test_handler_refusals_and_crashes_are_recorded_without_details(
    enclave: Enclave, chain: SourceChain, keyring: StateKeyring, registry: Registry
) -> None:
    auction_id = _open(enclave, chain)
    _refused(enclave, chain.call(ALICE, b"\x09" + bytes(71), block=101), "malformed_input")
    _refused(enclave, chain.call(ALICE, encode_input(PlaceBid(auction_id, 0)), block=101), "bad_amount")

    class Crashing(SealedBidAuction):
        def handle(self, state, ctx, data):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret input 123456789")

    crashing = Crashing(enclave.registry.get(enclave.contract_id).settlement)  # type: ignore[union-attr]
    enclave.registry = Registry([crashing])
    before = enclave.state
    result = enclave.run(chain.call(ALICE, encode_input(PlaceBid(auction_id, 1)), block=101))
    assert (result.code, result.reason) == ("contract_error", "the contract raised RuntimeError")
    assert enclave.state.value == before.value


def test_an_unknown_contract_id_in_the_registry_gets_an_empty_state(registry: Registry) -> None:
    state = initial_state(b"\x07" * 32, registry)
    assert state.value is None and state.position == 0


def test_reprs_do_not_show_plaintext(enclave: Enclave, chain: SourceChain, keyring: StateKeyring) -> None:
    auction_id = _open(enclave, chain)
    call = chain.call(ALICE, encode_input(PlaceBid(auction_id, 987_654_321)), block=101)
    dec = DecryptedCall(call, enclave.contract_id, encode_input(PlaceBid(auction_id, 987_654_321)))
    result = enclave.run(call)
    for obj in (dec, result, enclave.state, keyring, BidPlaced(1, ALICE, 987_654_321), PlaceBid(1, 987_654_321)):
        text = repr(obj)
        assert "987654321" not in text and "3ade68b1" not in text, text
    assert "redacted" in repr(keyring)
    assert Opened(1, SELLER, 5) == Opened(1, SELLER, 5)


def test_t_agreement_on_digests() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    agreed = tally({1: a, 2: a, 3: b, 4: a}, 3)
    assert (agreed.digest, agreed.supporters, agreed.dissenters) == (a, (1, 2, 4), (3,))
    assert tally({1: a, 2: b, 3: a}, 3).digest is None  # only two agree
    assert tally({1: a, 2: a, 3: b, 4: b}, 2).digest is None  # two digests reach t: no agreement
    assert tally({}, 1).digest is None
    with pytest.raises(ValueError):
        tally({1: a}, 0)
