"""executeBatch's packed calldata (bridge.evm.calldata): layout and parsing, without a chain (the contract side is
tests/contracts/test_encoding.py)."""

from __future__ import annotations

from typing import Any

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


class _FakeEth:
    """The three reads EthereumClient's search makes, over canned blocks and receipts."""

    def __init__(self, blocks: list[list[dict[str, Any]]], status: dict[bytes, int]) -> None:
        self.blocks, self.status = blocks, status
        self.block_number = len(blocks) - 1

    def get_block(self, number: int, full_transactions: bool = False) -> dict[str, Any]:
        return {"transactions": self.blocks[number]}

    def get_transaction_receipt(self, tx_hash: bytes) -> dict[str, int]:
        return {"status": self.status[tx_hash]}

    def get_transaction(self, tx_hash: str) -> dict[str, Any]:
        return next(t for b in self.blocks for t in b if "0x" + bytes(t["hash"]).hex() == tx_hash)


def test_junk_execute_batch_transactions_do_not_stop_the_search() -> None:
    from types import SimpleNamespace

    from bridge.client.ethereum import EthereumClient
    from bridge.evm import ContractCall, MessageOrigin

    bridge = "0x" + "b1" * 20
    junk = bytes.fromhex("00001d50" + "00" * 128 + "01000000000000000000")  # a batch with no item, reverted
    assert parse_execute_batch_calldata(junk) is not None
    sender = b"\x5e" * 32
    call = ContractCall(7, "0x" + "33" * 20, 100_000, b"\xca\x11", sender=sender)
    good = execute_batch_calldata(encode_batch(1, 2, [call]), (1, 2, b"\x03" * 32, 4))
    blocks = [
        [],
        [{"to": bridge, "input": junk, "hash": b"\x01" * 32}],
        [
            {"to": bridge, "input": junk[:-1] + b"\x05", "hash": b"\x02" * 32},
            {"to": bridge, "input": good, "hash": b"\x03" * 32},
        ],
    ]
    client = EthereumClient.__new__(EthereumClient)
    client.w3 = SimpleNamespace(eth=_FakeEth(blocks, {b"\x01" * 32: 0, b"\x02" * 32: 0, b"\x03" * 32: 1}))  # type: ignore[assignment]
    client.bridge = SimpleNamespace(address=bridge)  # type: ignore[assignment]
    assert client.find_execution(2, 7, 1) == "0x" + "03" * 32
    assert client.find_execution(2, 8, 0) is None
    assert client.call_origin("0x" + "01" * 32, 2, 7) is None
    assert client.call_origin("0x" + "03" * 32, 2, 7) == MessageOrigin(2, sender, 7)
