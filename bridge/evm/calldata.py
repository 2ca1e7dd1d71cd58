"""executeBatch's calldata: packed, not ABI-encoded (pure Python, byte-identical to contracts/src/Bridge.sol).

    calldata = selector (4) | R.x (32) | R.y (32) | z (32) | PK.x (32) | batch

The contract's entry point takes no ABI arguments and reads the signature and the batch from fixed offsets: the ABI
encoding of (bytes, Signature) would add an offset word, a length word and up to 31 bytes of padding (~420 gas of
calldata, mostly zero bytes) and its decoding ~100 gas of code, on every batch. The function's name carries a suffix
chosen so that its selector starts with two zero bytes (0x00001d50): cheaper calldata, first in the dispatcher.
"""

from __future__ import annotations

from eth_hash.auto import keccak

from bridge.evm.batch import HEADER_LENGTH
from bridge.evm.signature import SIGNATURE_LENGTH, EvmSignature, signature_bytes

__all__ = [
    "EXECUTE_BATCH_FUNCTION",
    "EXECUTE_BATCH_SELECTOR",
    "execute_batch_calldata",
    "parse_execute_batch_calldata",
]

EXECUTE_BATCH_FUNCTION = "executeBatch_DNw"
EXECUTE_BATCH_SELECTOR: bytes = bytes(keccak(f"{EXECUTE_BATCH_FUNCTION}()".encode()))[:4]
_BATCH_OFFSET = 4 + SIGNATURE_LENGTH


def execute_batch_calldata(batch: bytes, signature: EvmSignature) -> bytes:
    """The transaction data of executeBatch for `batch` signed with `signature` (the bytes as given: the contract
    judges the batch, and tests send malformed ones on purpose)."""
    return EXECUTE_BATCH_SELECTOR + signature_bytes(signature) + bytes(batch)


def parse_execute_batch_calldata(data: bytes) -> tuple[bytes, EvmSignature] | None:
    """(batch, signature) of executeBatch transaction data; None for data of any other function (or too short)."""
    raw = bytes(data)
    if raw[:4] != EXECUTE_BATCH_SELECTOR or len(raw) < _BATCH_OFFSET + HEADER_LENGTH:
        return None
    words = [raw[4 + 32 * i : 36 + 32 * i] for i in range(4)]
    signature: EvmSignature = (
        int.from_bytes(words[0], "big"),
        int.from_bytes(words[1], "big"),
        words[2],
        int.from_bytes(words[3], "big"),
    )
    return raw[_BATCH_OFFSET:], signature
