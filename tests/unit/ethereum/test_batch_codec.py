"""The batch codec (bridge/evm/batch.py) without a chain: exactly one encoding per batch. decode(encode(x)) == x, and
any bytes that decode are the encoding of what they decode to, so the decoder refuses what the encoder never writes
(an unused or out-of-order token table entry, a repeated nonce). The contract side is tests/contracts/."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.evm import Batch, BatchEncodingError, ContractCall, TokenRelease, decode_batch, encode_batch

b20 = st.binary(min_size=20, max_size=20)
addresses = b20.map(lambda b: "0x" + b.hex())  # lower case: what the decoder returns
TOKEN_POOL = [bytes([0x11]) * 20, bytes([0x22]) * 20, bytes([0xAB]) * 20]
items = st.one_of(
    st.builds(
        TokenRelease,
        st.integers(0, 2**64 - 1),
        st.sampled_from(["0x" + t.hex() for t in TOKEN_POOL]),
        addresses,
        st.integers(0, 2**128 - 1),
    ),
    st.builds(
        ContractCall,
        st.integers(0, 2**64 - 1),
        addresses,
        st.integers(0, 2**32 - 1),
        st.binary(max_size=40),
        st.none() | st.binary(min_size=32, max_size=32),
    ),
)


def header(table: list[bytes], epoch: int = 1, domain: int = 2) -> bytes:
    return b"\x01" + epoch.to_bytes(4, "big") + domain.to_bytes(4, "big") + bytes([len(table)]) + b"".join(table)


def token_item(nonce: int, index: int, recipient: bytes = b"\x33" * 20, amount: int = 7) -> bytes:
    return b"\x01" + nonce.to_bytes(8, "big") + bytes([index]) + recipient + amount.to_bytes(16, "big")


def call_item(nonce: int, data: bytes = b"\x01", sender: bytes | None = None, target: bytes = b"\xcc" * 20) -> bytes:
    kind = b"\x02" if sender is None else b"\x03"
    head = kind + nonce.to_bytes(8, "big") + target + (9).to_bytes(4, "big") + len(data).to_bytes(4, "big")
    return head + (sender or b"") + data


@st.composite
def raw_batches(draw: st.DrawFn) -> bytes:
    """Batch-shaped bytes, most of them well framed, not all canonical: any table drawn from a small pool (unused,
    repeated or out-of-order entries), token indexes that may skip ahead, nonces from a small range (repeats)."""
    table = draw(st.lists(st.sampled_from(TOKEN_POOL), max_size=4))
    body = b""
    for _ in range(draw(st.integers(0, 5))):
        nonce = draw(st.integers(0, 5))
        kind = draw(st.sampled_from([1, 2, 3]))
        if kind == 1:
            body += token_item(nonce, draw(st.integers(0, 4)), draw(b20), draw(st.integers(0, 2**128 - 1)))
        else:
            sender = draw(st.binary(min_size=32, max_size=32)) if kind == 3 else None
            body += call_item(nonce, draw(st.binary(max_size=6)), sender, draw(b20))
    return header(table, draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))) + body


REVIEWER_CANONICAL = header([]) + call_item(1)
REVIEWER_UNUSED_ENTRY = header([b"\xee" * 20]) + call_item(1)  # decoded to the same items before the fix
REVIEWER_REPEATED_NONCE = header([]) + call_item(1) + call_item(1, b"\x02")
TABLE_OUT_OF_ORDER = header([TOKEN_POOL[1], TOKEN_POOL[0]]) + token_item(1, 1) + token_item(2, 0)


@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.lists(items, min_size=1, max_size=8, unique_by=lambda i: i.nonce),
)
@settings(max_examples=200)
def test_decode_of_encode_is_identity(epoch: int, domain: int, batch_items: list[TokenRelease | ContractCall]) -> None:
    data = encode_batch(epoch, domain, batch_items)
    assert decode_batch(data) == Batch(epoch, domain, tuple(batch_items))


@given(raw_batches())
@settings(max_examples=500)
@example(REVIEWER_CANONICAL)
@example(REVIEWER_UNUSED_ENTRY)
@example(REVIEWER_REPEATED_NONCE)
@example(TABLE_OUT_OF_ORDER)
def test_bytes_that_decode_are_the_encoding_of_what_they_decode_to(raw: bytes) -> None:
    try:
        batch = decode_batch(raw)
    except BatchEncodingError:
        return
    assert batch.encode() == raw


def test_one_encoding_per_batch() -> None:
    assert decode_batch(REVIEWER_CANONICAL).items == (ContractCall(1, "0x" + "cc" * 20, 9, b"\x01"),)
    with pytest.raises(BatchEncodingError, match="do not use"):
        decode_batch(REVIEWER_UNUSED_ENTRY)
    with pytest.raises(BatchEncodingError, match="repeats nonce 1"):
        decode_batch(REVIEWER_REPEATED_NONCE)
    with pytest.raises(BatchEncodingError, match="order of first use"):
        decode_batch(TABLE_OUT_OF_ORDER)
    in_order = header(TOKEN_POOL[:2]) + token_item(1, 0) + token_item(2, 1) + token_item(3, 0)
    assert [i.token for i in decode_batch(in_order).items if isinstance(i, TokenRelease)] == [
        "0x" + TOKEN_POOL[0].hex(),
        "0x" + TOKEN_POOL[1].hex(),
        "0x" + TOKEN_POOL[0].hex(),
    ]
    with pytest.raises(BatchEncodingError, match="lists a token twice"):  # as the contract refuses it
        decode_batch(header([TOKEN_POOL[0]] * 2) + token_item(1, 0) + token_item(2, 1))
    with pytest.raises(BatchEncodingError, match="not in the table"):
        decode_batch(header([TOKEN_POOL[0]]) + token_item(1, 1))
    for no_items in (header([]), header([TOKEN_POOL[0]])):
        with pytest.raises(BatchEncodingError, match="at least one item"):
            decode_batch(no_items)
