"""executeBatch's packed calldata (bridge.evm.calldata): layout and parsing, without a chain (the contract side is
tests/contracts/test_encoding.py)."""

from __future__ import annotations

from eth_hash.auto import keccak
from hypothesis import given
from hypothesis import strategies as st

from bridge.evm import (
    EXECUTE_BATCH_FUNCTION,
    EXECUTE_BATCH_SELECTOR,
    EvmSignature,
    TokenRelease,
    encode_batch,
    execute_batch_calldata,
    parse_execute_batch_calldata,
)

WORD = st.integers(min_value=0, max_value=2**256 - 1)
SIGNATURES = st.tuples(WORD, WORD, st.binary(min_size=32, max_size=32), WORD)
TOKEN = "0x" + "11" * 20


def test_selector_is_the_functions_and_starts_with_two_zero_bytes() -> None:
    assert bytes(keccak(f"{EXECUTE_BATCH_FUNCTION}()".encode()))[:4] == EXECUTE_BATCH_SELECTOR
    assert EXECUTE_BATCH_SELECTOR.hex() == "00001d50"


@given(signature=SIGNATURES, nonce=st.integers(min_value=0, max_value=2**64 - 1))
def test_round_trip_and_layout(signature: EvmSignature, nonce: int) -> None:
    batch = encode_batch(1, 2, [TokenRelease(nonce, TOKEN, "0x" + "22" * 20, 10**18)])
    data = execute_batch_calldata(batch, signature)
    rx, ry, z, pk_x = signature
    assert data[:4] == EXECUTE_BATCH_SELECTOR
    assert data[4:132] == rx.to_bytes(32, "big") + ry.to_bytes(32, "big") + z + pk_x.to_bytes(32, "big")
    assert data[132:] == batch
    assert parse_execute_batch_calldata(data) == (batch, signature)


def test_other_functions_and_short_data_are_not_batches() -> None:
    batch = encode_batch(1, 2, [TokenRelease(1, TOKEN, "0x" + "22" * 20, 1)])
    data = execute_batch_calldata(batch, (1, 2, b"\x03" * 32, 4))
    assert parse_execute_batch_calldata(b"\xa9\x05\x9c\xbb" + data[4:]) is None  # transfer(address,uint256)
    assert parse_execute_batch_calldata(data[:141]) is None  # signature + less than a header
    assert parse_execute_batch_calldata(data[:142]) is not None
    assert parse_execute_batch_calldata(b"") is None
