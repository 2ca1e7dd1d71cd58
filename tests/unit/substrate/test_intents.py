"""The intent and executed-record formats: exact round trips, and every malformed input is a typed, clear error."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InputError
from bridge.intents import (
    EXECUTED_MAGIC,
    INTENT_MAGIC,
    MAX_CALL_PAYLOAD,
    MAX_EXECUTED_IDS,
    Intent,
    IntentError,
    IntentKind,
    decode_executed,
    decode_intent,
    encode_executed,
    encode_intent,
    is_executed_record,
    is_intent,
)

RID = bytes(range(32))
ETH = b"\x22" * 20
TRANSFER = Intent(IntentKind.TRANSFER, 1, RID, ETH)


def test_transfer_intent_layout_is_the_documented_one() -> None:
    data = encode_intent(TRANSFER)
    assert data == b"PHBI" + bytes([1, 1, 1]) + RID + bytes([20]) + ETH
    assert len(data) == 60
    assert decode_intent(data) == TRANSFER
    assert is_intent(data) and not is_executed_record(data)


def test_call_intent_carries_its_payload_length_prefixed() -> None:
    call = Intent(IntentKind.CALL, 1, RID, ETH, b"\xde\xad\xbe\xef")
    data = encode_intent(call)
    assert data.endswith(b"\x00\x04\xde\xad\xbe\xef")
    assert decode_intent(data) == call


def test_executed_record_layout() -> None:
    ids = [b"\x01" * 32, b"\x02" * 32]
    data = encode_executed(ids)
    assert data == b"PHBX\x01\x00\x02" + b"\x01" * 32 + b"\x02" * 32
    assert decode_executed(data) == tuple(ids)
    assert is_executed_record(data) and not is_intent(data)


recipients = st.one_of(
    st.tuples(st.just(1), st.binary(min_size=20, max_size=20)),
    st.tuples(st.just(2), st.binary(min_size=32, max_size=32)),
    st.tuples(st.integers(3, 255), st.binary(min_size=1, max_size=64)),
)


@given(
    recipients,
    st.binary(min_size=32, max_size=32),
    st.one_of(st.just(b""), st.binary(min_size=1, max_size=MAX_CALL_PAYLOAD)),
)
def test_intents_round_trip(dest_recipient: tuple[int, bytes], rid: bytes, payload: bytes) -> None:
    dest, recipient = dest_recipient
    kind = IntentKind.CALL if payload else IntentKind.TRANSFER
    intent = Intent(kind, dest, rid, recipient, payload)
    assert decode_intent(encode_intent(intent)) == intent


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=50, unique=True))
def test_executed_records_round_trip(ids: list[bytes]) -> None:
    assert decode_executed(encode_executed(ids)) == tuple(ids)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_fail_with_intent_error(data: bytes) -> None:
    for decode in (decode_intent, decode_executed):
        with contextlib.suppress(IntentError):
            decode(data)


@given(st.binary(max_size=120), st.integers(0, 59))
def test_valid_intent_with_bytes_changed_never_decodes_to_something_else_silently(noise: bytes, at: int) -> None:
    data = bytearray(encode_intent(TRANSFER))
    mutated = bytes(data[:at]) + noise + bytes(data[at + len(noise) :])
    try:
        decoded = decode_intent(mutated)
    except IntentError:
        return
    assert encode_intent(decoded) == mutated  # one encoding per value: whatever decodes re-encodes identically


@given(st.integers(0, 59))
def test_every_truncation_is_refused(cut: int) -> None:
    with pytest.raises(IntentError, match=r"truncated|does not start"):
        decode_intent(encode_intent(TRANSFER)[:cut])


@given(st.integers(0, 70))
def test_every_truncation_of_a_record_is_refused(cut: int) -> None:
    with pytest.raises(IntentError, match=r"truncated|does not start"):
        decode_executed(encode_executed([b"\x01" * 32, b"\x02" * 32])[:cut])


BASE = encode_intent(TRANSFER)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated in magic"),
        (b"PHB", "truncated in magic"),
        (b"XXXX" + BASE[4:], "does not start with"),
        (BASE[:4] + b"\x02" + BASE[5:], "unsupported version 2"),
        (BASE[:4] + b"\x00" + BASE[5:], "unsupported version 0"),
        (BASE[:5] + b"\x03" + BASE[6:], "unknown kind 3"),
        (BASE[:6] + b"\x00" + BASE[7:], "destination domain out of range: 0"),
        (BASE + b"\x00", "1 trailing bytes"),
        (BASE[:39] + b"\x15" + BASE[40:] + b"\x00", "must be 20 bytes, got 21"),
        (BASE[:39] + b"\x00", "recipient must be 1..64 bytes, got 0"),
        (BASE[:6] + b"\x09" + BASE[7:39] + b"\x41" + b"\x01" * 65, "recipient must be 1..64 bytes, got 65"),
        (BASE[:6] + b"\x02" + BASE[7:], "must be 32 bytes, got 20"),
        (BASE[:5] + b"\x02" + BASE[6:], "truncated in payload length"),
        (BASE[:5] + b"\x02" + BASE[6:] + b"\x00\x00", "needs a payload of 1..8192 bytes, got 0"),
        (BASE[:5] + b"\x02" + BASE[6:] + b"\x00\x05abc", "truncated in payload"),
        (BASE[:5] + b"\x02" + BASE[6:] + b"\x20\x01" + b"\x00" * 8193, "needs a payload of 1..8192 bytes, got 8193"),
    ],
)
def test_malformed_intents_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(IntentError, match=message):
        decode_intent(data)


RECORD = encode_executed([b"\x01" * 32])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (INTENT_MAGIC + RECORD[4:], "does not start with"),
        (RECORD[:4] + b"\x07" + RECORD[5:], "unsupported version 7"),
        (EXECUTED_MAGIC + b"\x01\x00\x00", "id count must be 1..1024, got 0"),
        (EXECUTED_MAGIC + b"\x01\x04\x01" + b"\x00" * 32 * 1025, "id count must be 1..1024, got 1025"),
        (EXECUTED_MAGIC + b"\x01\x00\x02" + b"\x01" * 32, "truncated in id 1"),
        (EXECUTED_MAGIC + b"\x01\x00\x02" + b"\x01" * 64, "duplicate message id"),
        (RECORD + b"\x00", "1 trailing bytes"),
    ],
)
def test_malformed_records_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(IntentError, match=message):
        decode_executed(data)


def test_encoders_refuse_what_decoders_would_refuse() -> None:
    with pytest.raises(IntentError, match="carries no payload"):
        Intent(IntentKind.TRANSFER, 1, RID, ETH, b"\x01")
    with pytest.raises(IntentError, match="resource id must be 32 bytes"):
        Intent(IntentKind.TRANSFER, 1, RID[:31], ETH)
    with pytest.raises(IntentError, match="duplicate"):
        encode_executed([b"\x01" * 32] * 2)
    with pytest.raises(IntentError, match=r"1\.\.1024"):
        encode_executed([])
    with pytest.raises(IntentError, match=r"1\.\.1024"):
        encode_executed([i.to_bytes(32, "big") for i in range(MAX_EXECUTED_IDS + 1)])
    with pytest.raises(IntentError, match="32 bytes"):
        encode_executed([b"\x01" * 31])


def test_errors_are_permanent_input_errors() -> None:
    assert issubclass(IntentError, InputError) and issubclass(IntentError, ValueError)
    assert not IntentError.retryable
    with pytest.raises(IntentError, match="expected bytes"):
        decode_intent("PHBI")  # type: ignore[arg-type]
