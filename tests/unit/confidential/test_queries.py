"""Authorized queries: signed by an Ethereum account or an Ed25519 key, answered sealed to the querier, allowed only
by the data holder's grants (set through its own signed inputs)."""

from __future__ import annotations

import dataclasses

import nacl.public
import nacl.signing
import pytest
from eth_account import Account

from bridge.client.confidential import PreparedQuery, decrypt_answer, prepare_query
from bridge.confidential import (
    ConfidentialError,
    Querier,
    QuerierKind,
    SignedQuery,
    decode_signed_query,
    encode_signed_query,
)
from enclave_signer.contracts import QueryError, Registry, answer_query, evaluate_query, verify_query_signature
from enclave_signer.contracts.auction_codec import (
    AuctionResult,
    BidOf,
    Close,
    Grant,
    Open,
    PlaceBid,
    ResultOf,
    Revoke,
    decode_bid_answer,
    decode_result_answer,
    encode_input,
    encode_query,
)
from tests.unit.confidential.helpers import Enclave, SourceChain, address

ALICE_KEY = "0x" + "11" * 32
AUDITOR_KEY = "0x" + "22" * 32
ALICE = bytes.fromhex(Account.from_key(ALICE_KEY).address[2:])
AUDITOR = bytes.fromhex(Account.from_key(AUDITOR_KEY).address[2:])
SELLER, BOB = address(0), address(2)


@pytest.fixture
def auction_id(enclave: Enclave, chain: SourceChain) -> int:
    opened = enclave.run(chain.call(SELLER, encode_input(Open(300)), block=100))
    a = int.from_bytes(opened.record.call_id, "big")
    enclave.run(chain.call(ALICE, encode_input(PlaceBid(a, 4242)), block=101))
    enclave.run(chain.call(BOB, encode_input(PlaceBid(a, 999)), block=102))
    return a


def _ask(enclave: Enclave, q: PreparedQuery):  # type: ignore[no-untyped-def]
    return decrypt_answer(q, answer_query(enclave.state, q.signed, registry=enclave.registry))


def test_a_bidder_reads_its_own_bid_and_nobody_else_does(enclave: Enclave, auction_id: int) -> None:
    cid = enclave.contract_id
    mine = _ask(enclave, prepare_query(cid, encode_query(BidOf(auction_id, ALICE)), ethereum_key=ALICE_KEY))
    assert mine.ok and decode_bid_answer(mine.body) == 4242 and mine.as_of == enclave.state.position
    theirs = _ask(enclave, prepare_query(cid, encode_query(BidOf(auction_id, BOB)), ethereum_key=ALICE_KEY))
    assert (theirs.ok, theirs.code) == (False, "unauthorized") and b"999" not in theirs.body
    seller = nacl.signing.SigningKey.generate()
    q = prepare_query(cid, encode_query(BidOf(auction_id, BOB)), ed25519_key=seller)
    assert _ask(enclave, q).code == "unauthorized"


def test_grants_and_revocations_are_the_holders_signed_inputs(
    enclave: Enclave, chain: SourceChain, auction_id: int
) -> None:
    cid = enclave.contract_id
    auditor = Querier(QuerierKind.ETHEREUM, AUDITOR)
    ed_key = nacl.signing.SigningKey.generate()
    ed_auditor = Querier(QuerierKind.ED25519, bytes(ed_key.verify_key))

    def read(**key: object) -> object:
        answer = _ask(enclave, prepare_query(cid, encode_query(BidOf(auction_id, ALICE)), **key))  # type: ignore[arg-type]
        return decode_bid_answer(answer.body) if answer.ok else answer.code

    assert read(ethereum_key=AUDITOR_KEY) == "unauthorized"
    # Bob cannot grant access to Alice's bid: a grant is always for the caller's own data
    enclave.run(chain.call(BOB, encode_input(Grant(auction_id, auditor)), block=103))
    assert read(ethereum_key=AUDITOR_KEY) == "unauthorized"
    assert enclave.run(chain.call(ALICE, encode_input(Grant(auction_id, auditor)), block=104)).code == ""
    assert read(ethereum_key=AUDITOR_KEY) == 4242
    assert enclave.run(chain.call(ALICE, encode_input(Grant(auction_id, auditor)), block=105)).code == "already_granted"
    assert enclave.run(chain.call(ALICE, encode_input(Grant(0, ed_auditor)), block=105)).code == ""  # every auction
    assert read(ed25519_key=ed_key) == 4242
    assert enclave.run(chain.call(ALICE, encode_input(Revoke(auction_id, auditor)), block=106)).code == ""
    assert read(ethereum_key=AUDITOR_KEY) == "unauthorized"
    assert enclave.run(chain.call(ALICE, encode_input(Revoke(auction_id, auditor)), block=107)).code == "not_granted"
    self_grant = Grant(auction_id, Querier(QuerierKind.ETHEREUM, ALICE))
    assert enclave.run(chain.call(ALICE, encode_input(self_grant), block=107)).code == "self_grant"
    assert enclave.restart() == enclave.state  # grants are events too


def test_results_are_public_and_follow_the_auction(enclave: Enclave, chain: SourceChain, auction_id: int) -> None:
    cid = enclave.contract_id
    stranger = nacl.signing.SigningKey.generate()

    def result() -> AuctionResult:
        answer = _ask(enclave, prepare_query(cid, encode_query(ResultOf(auction_id)), ed25519_key=stranger))
        assert answer.ok
        return decode_result_answer(answer.body)

    r = result()
    assert (r.status, r.close_block, r.winner, r.price) == (1, 300, bytes(20), 0)
    enclave.run(chain.call(BOB, encode_input(Close(auction_id)), block=300))
    r = result()
    assert (r.status, r.winner, r.price) == (2, ALICE, 4242)
    missing = _ask(enclave, prepare_query(cid, encode_query(ResultOf(auction_id + 1)), ed25519_key=stranger))
    assert decode_result_answer(missing.body).status == 0


def test_forged_or_tampered_signatures_are_refused(enclave: Enclave, auction_id: int, registry: Registry) -> None:
    cid = enclave.contract_id
    q = prepare_query(cid, encode_query(BidOf(auction_id, ALICE)), ethereum_key=AUDITOR_KEY)
    sq = decode_signed_query(q.signed)
    assert verify_query_signature(sq)
    # claim to be Alice with the auditor's signature
    as_alice = dataclasses.replace(sq.query, querier=Querier(QuerierKind.ETHEREUM, ALICE))
    forged = SignedQuery(as_alice, sq.signature)
    assert not verify_query_signature(forged)
    answer = evaluate_query(enclave.state, forged, registry=registry)
    assert (answer.ok, answer.code) == (False, "bad_signature")
    for bad in (sq.signature[:64], sq.signature[:64] + b"\x05", b"\x00" * 65):
        assert not verify_query_signature(SignedQuery(sq.query, bad))
    ed = nacl.signing.SigningKey.generate()
    eq = decode_signed_query(prepare_query(cid, encode_query(ResultOf(auction_id)), ed25519_key=ed).signed)
    assert verify_query_signature(eq)
    assert not verify_query_signature(SignedQuery(dataclasses.replace(eq.query, nonce=bytes(16)), eq.signature))
    # v as 0/1 (raw) is accepted as well as 27/28
    raw_v = sq.signature[:64] + bytes([sq.signature[64] - 27])
    assert verify_query_signature(SignedQuery(sq.query, raw_v))


def test_answers_open_only_for_their_query(enclave: Enclave, auction_id: int) -> None:
    cid = enclave.contract_id
    q1 = prepare_query(cid, encode_query(BidOf(auction_id, ALICE)), ethereum_key=ALICE_KEY)
    q2 = prepare_query(cid, encode_query(BidOf(auction_id, ALICE)), ethereum_key=ALICE_KEY)
    sealed = answer_query(enclave.state, q1.signed, registry=enclave.registry)
    with pytest.raises(ConfidentialError, match="not sealed"):
        decrypt_answer(q2, sealed)
    # an answer to q2 re-sealed to q1's key (a confused or hostile relayer) is caught by the digest
    plain = evaluate_query(enclave.state, decode_signed_query(q2.signed), registry=enclave.registry)
    from bridge.confidential import encode_answer

    resealed = nacl.public.SealedBox(q1.response_key.public_key).encrypt(encode_answer(plain))
    with pytest.raises(ConfidentialError, match="another query"):
        decrypt_answer(q1, resealed)


def test_malformed_or_misrouted_queries_raise(enclave: Enclave, auction_id: int, registry: Registry) -> None:
    with pytest.raises(QueryError):
        answer_query(enclave.state, b"PHCQ\x01", registry=registry)
    q = prepare_query(b"\x01" * 32, encode_query(ResultOf(auction_id)), ethereum_key=ALICE_KEY)
    with pytest.raises(QueryError):
        answer_query(enclave.state, q.signed, registry=registry)
    bad_body = prepare_query(enclave.contract_id, b"\x07", ethereum_key=ALICE_KEY)
    assert _ask(enclave, bad_body).code == "malformed_query"
    sq = decode_signed_query(q.signed)
    assert decode_signed_query(encode_signed_query(sq)) == sq
    with pytest.raises(ValueError, match="exactly one"):
        prepare_query(enclave.contract_id, b"", ethereum_key=ALICE_KEY, ed25519_key=nacl.signing.SigningKey.generate())


def test_a_low_order_response_key_is_refused_before_the_contract_runs(
    enclave: Enclave, auction_id: int, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.confidential import Query, query_digest
    from enclave_signer.contracts import SealedBidAuction

    ran: list[bytes] = []
    real_query = SealedBidAuction.query

    def spy(self: SealedBidAuction, state: object, querier: Querier, body: bytes) -> bytes:
        ran.append(body)
        return real_query(self, state, querier, body)  # type: ignore[arg-type]

    monkeypatch.setattr(SealedBidAuction, "query", spy)
    # the reviewer's envelope (zero response key, zero signature), addressed to this enclave's contract
    raw = bytes.fromhex(
        "5048435101"
        + enclave.contract_id.hex()
        + "0220"
        + "02" * 32
        + "00" * 32
        + "00" * 16
        + "0000"
        + "40"
        + "00" * 64
    )
    with pytest.raises(QueryError, match="low order"):
        answer_query(enclave.state, raw, registry=registry)
    # correctly signed, so only the key can stop it; 0x01 is another small-order point (order 4)
    ed = nacl.signing.SigningKey.generate()
    for key in (bytes(32), b"\x01" + bytes(31)):
        q = Query(enclave.contract_id, Querier(QuerierKind.ED25519, bytes(ed.verify_key)), key, bytes(16), b"")
        signed = encode_signed_query(SignedQuery(q, ed.sign(query_digest(q)).signature))
        with pytest.raises(QueryError, match="low order"):
            answer_query(enclave.state, signed, registry=registry)
    assert ran == []
    # a sound key still gets its answer, through the same spy
    assert _ask(enclave, prepare_query(enclave.contract_id, encode_query(ResultOf(auction_id)), ed25519_key=ed)).ok
    assert len(ran) == 1
