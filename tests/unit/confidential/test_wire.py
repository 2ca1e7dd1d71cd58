"""Wire formats (bridge.confidential, the auction codec, the SDK payload): round trips, one encoding per value,
strict decoders that raise only ConfidentialError, reply nonces that never collide."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.client.confidential import encrypt_call
from bridge.confidential import (
    ANSWER_BLOCK,
    CALL_CONTEXT,
    NULL_CONTRACT_ID,
    CallPayload,
    CallStatus,
    ConfidentialError,
    EthereumCall,
    ExecutionRecord,
    Output,
    PhalaPayout,
    Querier,
    QuerierKind,
    Query,
    QueryAnswer,
    SignedQuery,
    call_aad,
    confidential_call,
    decode_answer,
    decode_call_payload,
    decode_record,
    decode_share_envelopes,
    decode_signed_query,
    encode_answer,
    encode_call_payload,
    encode_record,
    encode_share_envelopes,
    encode_signed_query,
    is_call_payload,
    reply_nonce,
    result_digest,
)
from bridge.messages import MessageKind
from enclave_signer.contracts.auction_codec import (
    EVENT_SIZE,
    INPUT_SIZE,
    BidOf,
    BidPlaced,
    Close,
    Grant,
    Granted,
    Open,
    Opened,
    PlaceBid,
    ResultOf,
    Revoke,
    Revoked,
    Settled,
    decode_bid_answer,
    decode_event,
    decode_input,
    decode_query,
    encode_bid_answer,
    encode_event,
    encode_input,
    encode_query,
)
from enclave_signer.tdec import Ciphertext, threshold_decrypt
from tests.unit.confidential.helpers import EncryptionCommittee, message

b32 = st.binary(min_size=32, max_size=32)
b20 = st.binary(min_size=20, max_size=20)
u64 = st.integers(0, 2**64 - 1)
u256 = st.integers(0, 2**256 - 1)
queriers = st.one_of(
    b20.map(lambda b: Querier(QuerierKind.ETHEREUM, b)), b32.map(lambda b: Querier(QuerierKind.ED25519, b))
)
sealed_events = st.binary(min_size=41, max_size=200)
codes = st.text(alphabet="abcxyz019_", min_size=1, max_size=40)


@st.composite
def records(draw: st.DrawFn) -> ExecutionRecord:
    status = draw(st.sampled_from(CallStatus))
    refused = status is CallStatus.REFUSED
    return ExecutionRecord(
        draw(b32), draw(st.integers(1, 255)), draw(u64), draw(u64), status, draw(st.integers(0, 255)),
        draw(codes) if refused else "", draw(st.text(max_size=50)) if refused else "", draw(u64),
        () if refused else tuple(draw(st.lists(sealed_events, max_size=4))),
    )  # fmt: skip


@given(records())
def test_records_round_trip(rec: ExecutionRecord) -> None:
    raw = encode_record(rec)
    assert decode_record(raw) == rec
    for cut in (len(raw) - 1, 5, 40):
        with pytest.raises(ConfidentialError):
            decode_record(raw[:cut])
    with pytest.raises(ConfidentialError, match="trailing"):
        decode_record(raw + b"\x00")


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_decoders_refuse_garbage_with_one_error_type(data: bytes) -> None:
    for prefix in (b"", b"PHCC\x01", b"PHCR\x01", b"PHCQ\x01", b"PHCA\x01"):
        for decode in (decode_call_payload, decode_record, decode_signed_query, decode_answer):
            with contextlib.suppress(ConfidentialError):
                decode(prefix + data)
    for decode_auction in (decode_input, decode_event, decode_query):
        with contextlib.suppress(ConfidentialError):
            decode_auction(data)


def test_record_invariants() -> None:
    base: dict[str, Any] = dict(
        contract_id=b"\x01" * 32, source_domain=1, source_nonce=1, position=0, key_version=1, first_seq=0
    )
    with pytest.raises(ConfidentialError):
        ExecutionRecord(**base, status=CallStatus.EXECUTED, code="x", reason="", events=())
    with pytest.raises(ConfidentialError):
        ExecutionRecord(**base, status=CallStatus.REFUSED, code="x", reason="", events=(b"\x00" * 50,))
    with pytest.raises(ConfidentialError):
        ExecutionRecord(**base, status=CallStatus.REFUSED, code="Bad Code", reason="", events=())
    with pytest.raises(ConfidentialError):
        ExecutionRecord(**base, status=CallStatus.REFUSED, code="x", reason="é" * 101, events=())


@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_reply_nonces_are_unique_and_above_every_phala_deposit(counter: int, other: int) -> None:
    n = reply_nonce(counter)
    assert 2**63 <= n < 2**64
    assert (n == reply_nonce(other)) == (counter == other)


def test_reply_nonce_bounds() -> None:
    for bad in (-1, 2**63, True):
        with pytest.raises(ConfidentialError):
            reply_nonce(bad)


def test_consecutive_replies_share_a_bitmap_word() -> None:
    # the bridge's bitmap word of (domain 2, nonce) is nonce >> 8: 256 consecutive counters per word
    words = {reply_nonce(c) >> 8 for c in range(256, 512)}
    assert len(words) == 1 and reply_nonce(255) >> 8 not in words and reply_nonce(512) >> 8 not in words


def test_result_digest_covers_every_output() -> None:
    rec = ExecutionRecord(b"\x01" * 32, 1, 7, 0, CallStatus.EXECUTED, 1, "", "", 0, ())
    outs: list[Output] = [EthereumCall(b"\x02" * 20, 100_000, b"\x01\x02"), PhalaPayout(b"\x03" * 32, 5)]
    d = result_digest(rec, outs)
    variants = [
        [outs[0]],
        [EthereumCall(b"\x02" * 20, 100_001, b"\x01\x02"), outs[1]],
        [outs[0], PhalaPayout(b"\x03" * 32, 6)],
        list(reversed(outs)),
    ]
    assert all(result_digest(rec, v) != d for v in variants)
    assert result_digest(ExecutionRecord(b"\x01" * 32, 1, 7, 1, CallStatus.EXECUTED, 1, "", "", 0, ()), outs) != d
    with pytest.raises(ConfidentialError):
        EthereumCall(b"\x02" * 20, 0, b"")
    with pytest.raises(ConfidentialError):
        PhalaPayout(b"\x03" * 32, 0)


@given(
    b32, queriers, b32, st.binary(min_size=16, max_size=16), st.binary(max_size=100), st.binary(min_size=1, max_size=80)
)
def test_queries_round_trip(cid, querier, key, nonce, body, sig) -> None:  # type: ignore[no-untyped-def]
    sq = SignedQuery(Query(cid, querier, key, nonce, body), sig)
    assert decode_signed_query(encode_signed_query(sq)) == sq


@given(b32, u64, st.booleans(), st.binary(max_size=100))
def test_answers_round_trip(digest, as_of, ok, body) -> None:  # type: ignore[no-untyped-def]
    a = QueryAnswer(digest, as_of, ok, "" if ok else "nope", body)
    assert decode_answer(encode_answer(a)) == a
    with pytest.raises(ConfidentialError):
        encode_answer(QueryAnswer(digest, as_of, ok, "nope" if ok else "", body))


def test_sdk_payload_is_bound_to_contract_and_caller(committee: EncryptionCommittee) -> None:
    cid, caller = b"\x0c" * 32, b"\xaa" * 20
    payload = encrypt_call(committee.public_key, cid, "0x" + caller.hex(), b"input")
    assert is_call_payload(payload) and not is_call_payload(b"PHBI")
    decoded = decode_call_payload(payload)
    assert decoded.contract_id == cid and len(decoded.ciphertext) == 72 + 5
    assert encode_call_payload(decoded) == payload
    ct = Ciphertext.from_bytes(decoded.ciphertext)
    shares = committee.decryption_shares(ct)
    args = (committee.public_key, ct, shares, committee.verifying, 3)
    assert threshold_decrypt(*args, call_aad(1, cid, caller), CALL_CONTEXT) == b"input"
    for aad in (call_aad(1, b"\x0d" * 32, caller), call_aad(1, cid, b"\xab" * 20), call_aad(2, cid, caller)):
        with pytest.raises(ValueError):
            threshold_decrypt(*args, aad, CALL_CONTEXT)
    with pytest.raises(ConfidentialError):
        CallPayload(cid, b"\x00" * 71)
    with pytest.raises(ConfidentialError):
        CallPayload(cid, b"\x00" * 16_400)


def test_confidential_call_from_messages(committee: EncryptionCommittee) -> None:
    caller = b"\xaa" * 20
    payload = encrypt_call(committee.public_key, b"\x0c" * 32, caller, b"x")
    msg = message(caller, payload, 9, 1234)
    call = confidential_call(msg)
    assert (call.source_domain, call.source_nonce, call.caller, call.block_number) == (1, 9, caller, 1234)
    assert call.call_id == msg.id and call.contract_id == b"\x0c" * 32
    assert confidential_call(msg.model_copy(update={"kind": MessageKind.CONFIDENTIAL_CALL})) == call
    with pytest.raises(ConfidentialError):
        confidential_call(msg.model_copy(update={"payload": b"\x00plain"}))
    with pytest.raises(ConfidentialError):
        confidential_call(msg.model_copy(update={"kind": MessageKind.TRANSFER}))
    garbled = confidential_call(msg.model_copy(update={"kind": MessageKind.CONFIDENTIAL_CALL, "payload": b"PHCC"}))
    assert garbled.contract_id == NULL_CONTRACT_ID
    assert "payload" not in repr(call)


inputs = st.one_of(
    u64.map(Open),
    st.builds(PlaceBid, u256, st.integers(0, 2**128 - 1)),
    u256.map(Close),
    st.builds(Grant, u256, queriers),
    st.builds(Revoke, u256, queriers),
)
events = st.one_of(
    st.builds(Opened, u256, b20, u64),
    st.builds(BidPlaced, u256, b20, st.integers(0, 2**128 - 1), u64),
    st.builds(Settled, u256, b20, st.integers(0, 2**128 - 1)),
    st.builds(Granted, b20, u256, queriers),
    st.builds(Revoked, b20, u256, queriers),
)


@given(inputs, events, st.one_of(st.builds(BidOf, u256, b20), u256.map(ResultOf)))
def test_auction_codec_round_trips(op, event, query) -> None:  # type: ignore[no-untyped-def]
    raw = encode_input(op)
    assert len(raw) == INPUT_SIZE and decode_input(raw) == op  # every input the same size
    assert decode_event(encode_event(event)) == event
    assert decode_query(encode_query(query)) == query
    with pytest.raises(ConfidentialError):
        decode_input(raw[:-1] + b"\x01")  # non-zero padding
    raw_event = encode_event(event)
    assert len(raw_event) == EVENT_SIZE  # every event the same size: a bid cannot be told from a grant
    with pytest.raises(ConfidentialError, match="padding"):
        decode_event(raw_event[:-1] + b"\x01")
    for other in (raw_event[:-1], raw_event + b"\x00"):
        with pytest.raises(ConfidentialError, match="an event is 88 bytes"):
            decode_event(other)


# ---- one encoding per value: decode(encode(x)) == x, and bytes that decode are the encoding of what they decode to --


def _canonical(decode: Any, encode: Any, raw: bytes) -> None:
    """If `raw` decodes, re-encoding what it decodes to gives `raw` back (the encoder refusing it is a failure too)."""
    try:
        value = decode(raw)
    except ConfidentialError:
        return
    assert encode(value) == raw


@st.composite
def raw_share_envelopes(draw: st.DrawFn) -> bytes:
    """Envelope-shaped bytes: member ids from a small range, in any order, repeated or not; the count may be off."""
    entries = draw(st.lists(st.tuples(st.integers(0, 4), st.binary(max_size=4)), max_size=5))
    count = draw(st.sampled_from([len(entries), len(entries), len(entries) + 1, max(len(entries) - 1, 0)]))
    body = b"".join(m.to_bytes(2, "big") + len(box).to_bytes(4, "big") + box for m, box in entries)
    return count.to_bytes(2, "big") + body


REVIEWER_ENVELOPES = bytes.fromhex("0002000100000001aa000100000001bb")


@given(st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=40), max_size=8))
def test_share_envelopes_round_trip(boxes: dict[int, bytes]) -> None:
    assert decode_share_envelopes(encode_share_envelopes(boxes)) == boxes


@settings(max_examples=300)
@given(raw_share_envelopes())
@example(REVIEWER_ENVELOPES)
@example(bytes.fromhex("0002000200000001aa000100000001bb"))
def test_share_envelopes_have_one_encoding(raw: bytes) -> None:
    _canonical(decode_share_envelopes, encode_share_envelopes, raw)


def test_share_envelopes_refuse_repeated_or_unsorted_members() -> None:
    with pytest.raises(ConfidentialError, match="increasing"):
        decode_share_envelopes(REVIEWER_ENVELOPES)  # decoded to {1: b"\xbb"} before
    with pytest.raises(ConfidentialError, match="increasing"):
        decode_share_envelopes(bytes.fromhex("0002000200000001aa000100000001bb"))
    assert decode_share_envelopes(bytes.fromhex("0002000100000001aa000200000001bb")) == {
        1: b"\xaa",
        2: b"\xbb",
    }


def _raw_answer(as_of: int, status: int, code: bytes, body: bytes) -> bytes:
    head = b"PHCA\x01" + b"\x0d" * 32 + as_of.to_bytes(8, "big") + bytes([status, len(code)]) + code
    raw = head + len(body).to_bytes(4, "big") + body
    return raw + bytes(-len(raw) % ANSWER_BLOCK)


@given(b32, u64, st.booleans(), st.binary(max_size=1_200), st.sampled_from([0, 1, ANSWER_BLOCK, ANSWER_BLOCK + 1]))
def test_answers_are_padded_to_one_block_and_nothing_else_decodes(digest, as_of, ok, body, extra) -> None:  # type: ignore[no-untyped-def]
    raw = encode_answer(QueryAnswer(digest, as_of, ok, "" if ok else "nope", body))
    assert len(raw) % ANSWER_BLOCK == 0 and 0 < len(raw) - len(body) <= ANSWER_BLOCK
    padding = len(raw) - (4 + 1 + 32 + 8 + 2 + (0 if ok else 4) + 4 + len(body))
    if extra:  # more zeros, or one block more: another encoding of the same answer, refused
        with pytest.raises(ConfidentialError, match="zero-padded"):
            decode_answer(raw + bytes(extra))
    if padding:  # a non-zero padding byte, or the padding cut short
        with pytest.raises(ConfidentialError):
            decode_answer(raw[:-1] + b"\x01")
        with pytest.raises(ConfidentialError):
            decode_answer(raw[:-1])


def test_an_allowed_answer_and_a_refusal_have_one_length() -> None:
    digest = b"\x0d" * 32
    allowed = encode_answer(QueryAnswer(digest, 7, True, "", b"\x01" + bytes(16)))
    refused = encode_answer(QueryAnswer(digest, 7, False, "not_allowed", b"r" * 200))
    assert len(allowed) == len(refused) == ANSWER_BLOCK


@settings(max_examples=300)
@given(
    u64,
    st.integers(0, 3),
    st.sampled_from([b"", b"nope", b"a" * 40, b"a" * 41, b"Nope", b"no pe", b"\xff", b"-"]),
    st.binary(max_size=8),
)
@example(0, 2, b"Bad Code", b"")
@example(0, 2, b"a" * 41, b"")
def test_answers_have_one_encoding(as_of: int, status: int, code: bytes, body: bytes) -> None:
    _canonical(decode_answer, encode_answer, _raw_answer(as_of, status, code, body))


def test_answers_check_the_code_like_the_encoder() -> None:
    for bad in (b"Bad Code", b"a" * 41, b"-", b"\xff"):
        with pytest.raises(ConfidentialError):
            decode_answer(_raw_answer(5, 2, bad, b"reason"))
    assert decode_answer(_raw_answer(2**64 - 1, 2, b"a" * 40, b"r")).code == "a" * 40
    for status, code in ((1, b"nope"), (2, b""), (0, b""), (3, b"nope")):
        with pytest.raises(ConfidentialError):
            decode_answer(_raw_answer(5, status, code, b""))


@given(st.none() | st.integers(0, 2**128 - 1))
def test_bid_answers_round_trip(amount: int | None) -> None:
    assert decode_bid_answer(encode_bid_answer(amount)) == amount


@given(st.integers(0, 255), st.sampled_from([0, 1, 2**127, 2**128 - 1]))
@example(2, 5)
@example(0, 5)
def test_bid_answers_have_one_encoding(has: int, amount: int) -> None:
    _canonical(decode_bid_answer, encode_bid_answer, bytes([has]) + amount.to_bytes(16, "big"))


def test_bid_answers_refuse_other_flags_and_an_amount_without_a_bid() -> None:
    assert decode_bid_answer(b"\x00" + bytes(16)) is None
    assert decode_bid_answer(b"\x01" + bytes(16)) == 0  # a bid of 0 (the contract refuses it, the codec does not)
    with pytest.raises(ConfidentialError, match="has bid"):
        decode_bid_answer(b"\x02" + (5).to_bytes(16, "big"))  # decoded to 5 before
    with pytest.raises(ConfidentialError, match="amount"):
        decode_bid_answer(b"\x00" + (5).to_bytes(16, "big"))  # decoded to None before
    for bad in (-1, 2**128, True):
        with pytest.raises(ConfidentialError):
            encode_bid_answer(bad)
