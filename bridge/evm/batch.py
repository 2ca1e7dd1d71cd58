"""executeBatch's batch: a header with a token table, then tightly packed items (big-endian, raw addresses).

    header  = version u8 (1) | epoch u32 | sourceDomain u32 | tokenCount u8 | token (20) * tokenCount
    token   = 0x01 | nonce u64 | tokenIndex u8 | recipient (20) | amount u128           (46 bytes)
    call    = 0x02 | nonce u64 | target (20) | gasLimit u32 | dataLength u32 | data    (37 + dataLength bytes)
    call with origin
            = 0x03 | nonce u64 | target (20) | gasLimit u32 | dataLength u32 | sender (32) | data
                                                                                       (69 + dataLength bytes)

A call with origin (kind 3) carries the message's sender on its source chain (a Phala AccountId32, or a confidential
contract's id for its reply); the bridge exposes it to the target as `messageOrigin()` during the call only. Being
batch bytes, it is covered by the committee's signature like everything else. Kind 2 (no origin) stays valid.

A token item names its token by its index in the header's table (built here in order of first use, no
duplicates: the contract refuses a token listed twice). Packing instead of ABI-encoding an array of structs saves
~1.5k gas per item; the table saves another 19 bytes (~300 gas) per item of a batch that moves one token.

One encoding per batch: `decode_batch` accepts exactly what `encode_batch` writes (every table entry used, in order of
first use; no repeated nonce), so bytes that decode re-encode to themselves. The contract is looser: it accepts a
table entry no item uses (still a configured token) and any table order; a nonce repeated in a batch reverts there
as already used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BATCH_VERSION",
    "CALL_ITEM_HEADER_LENGTH",
    "HEADER_LENGTH",
    "ITEM_CALL",
    "ITEM_CALL_WITH_ORIGIN",
    "ITEM_TOKEN",
    "MAX_TOKENS",
    "ORIGIN_LENGTH",
    "TOKEN_ITEM_LENGTH",
    "Batch",
    "BatchEncodingError",
    "BatchItem",
    "ContractCall",
    "MessageOrigin",
    "TokenRelease",
    "decode_batch",
    "encode_batch",
    "message_origin",
]

BATCH_VERSION = 1
ITEM_TOKEN = 1
ITEM_CALL = 2
ITEM_CALL_WITH_ORIGIN = 3
HEADER_LENGTH = 10
TOKEN_ITEM_LENGTH = 46
MAX_TOKENS = 255
CALL_ITEM_HEADER_LENGTH = 37
ORIGIN_LENGTH = 32

_U32 = 2**32 - 1
_U64 = 2**64 - 1
_U128 = 2**128 - 1


class BatchEncodingError(ValueError):
    """A batch or item that cannot be encoded, or bytes that are not a well-formed batch."""


def _address(value: str, what: str) -> bytes:
    text = value.strip()
    if len(text) != 42 or not text.startswith(("0x", "0X")):
        raise BatchEncodingError(f"{what} must be 0x + 40 hex digits, got {value!r}")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise BatchEncodingError(f"{what} is not hex: {value!r}") from None


def _uint(value: int, maximum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise BatchEncodingError(f"{what} must be an integer in [0, {maximum}], got {value!r}")
    return value


def _hex_address(raw: bytes) -> str:
    return "0x" + raw.hex()


@dataclass(frozen=True, slots=True)
class TokenRelease:
    """Release (lock/release token) or mint (wrapped token) `amount` base units of `token` to `recipient`."""

    nonce: int
    token: str
    recipient: str
    amount: int

    def encode(self, token_index: int) -> bytes:
        return (
            bytes([ITEM_TOKEN])
            + _uint(self.nonce, _U64, "nonce").to_bytes(8, "big")
            + bytes([_uint(token_index, MAX_TOKENS - 1, "token index")])
            + _address(self.recipient, "recipient")
            + _uint(self.amount, _U128, "amount").to_bytes(16, "big")
        )


@dataclass(frozen=True, slots=True)
class ContractCall:
    """Call allow-listed `target` with `data` and exactly `gas_limit` gas; the outcome is recorded in an event.

    `sender`: the message's 32-byte sender on its source chain, which the target reads with `messageOrigin()` (item
    kind 3); None encodes a call without origin (kind 2)."""

    nonce: int
    target: str
    gas_limit: int
    data: bytes
    sender: bytes | None = None

    def encode(self) -> bytes:
        if self.sender is not None and (not isinstance(self.sender, bytes) or len(self.sender) != ORIGIN_LENGTH):
            raise BatchEncodingError(f"a call's origin sender must be {ORIGIN_LENGTH} bytes, got {self.sender!r}")
        return (
            bytes([ITEM_CALL if self.sender is None else ITEM_CALL_WITH_ORIGIN])
            + _uint(self.nonce, _U64, "nonce").to_bytes(8, "big")
            + _address(self.target, "target")
            + _uint(self.gas_limit, _U32, "gas limit").to_bytes(4, "big")
            + _uint(len(self.data), _U32, "call data length").to_bytes(4, "big")
            + (self.sender or b"")
            + bytes(self.data)
        )


BatchItem = TokenRelease | ContractCall


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch for one key epoch and one source domain; the nonces are that domain's message nonces."""

    epoch: int
    source_domain: int
    items: tuple[BatchItem, ...]

    def encode(self) -> bytes:
        return encode_batch(self.epoch, self.source_domain, self.items)

    @property
    def nonces(self) -> tuple[int, ...]:
        return tuple(item.nonce for item in self.items)


def encode_batch(epoch: int, source_domain: int, items: Sequence[BatchItem]) -> bytes:
    """The bytes passed to executeBatch (and hashed into the digest). Refuses an empty batch and repeated nonces."""
    if not items:
        raise BatchEncodingError("a batch needs at least one item")
    nonces = [item.nonce for item in items]
    if len(set(nonces)) != len(nonces):
        raise BatchEncodingError("a batch must not repeat a nonce")
    table: dict[bytes, int] = {}
    body = []
    for item in items:
        if isinstance(item, TokenRelease):
            token = _address(item.token, "token")
            index = table.setdefault(token, len(table))
            if index >= MAX_TOKENS:
                raise BatchEncodingError(f"a batch can name at most {MAX_TOKENS} tokens")
            body.append(item.encode(index))
        else:
            body.append(item.encode())
    header = (
        bytes([BATCH_VERSION])
        + _uint(epoch, _U32, "epoch").to_bytes(4, "big")
        + _uint(source_domain, _U32, "source domain").to_bytes(4, "big")
        + bytes([len(table)])
        + b"".join(table)
    )
    return header + b"".join(body)


def decode_batch(data: bytes) -> Batch:
    """Parse batch bytes (the inverse of `encode_batch`); raises BatchEncodingError naming the bad offset.

    Accepts exactly what `encode_batch` writes, so `decode_batch(b).encode() == b` for every `b` it accepts: the token
    table must list exactly the tokens the items use, in order of first use, each once, and no nonce may repeat. This
    is stricter than the contract, which accepts a table entry no item uses (and any table order)."""
    if len(data) < HEADER_LENGTH:
        raise BatchEncodingError(f"a batch is at least {HEADER_LENGTH} bytes, got {len(data)}")
    if data[0] != BATCH_VERSION:
        raise BatchEncodingError(f"unsupported batch version {data[0]}")
    epoch = int.from_bytes(data[1:5], "big")
    source_domain = int.from_bytes(data[5:9], "big")
    count = data[9]
    offset = HEADER_LENGTH + 20 * count
    if offset > len(data):
        raise BatchEncodingError(f"the token table ({count} tokens) runs past the end")
    tokens = [_hex_address(data[HEADER_LENGTH + 20 * i : HEADER_LENGTH + 20 * (i + 1)]) for i in range(count)]
    if len({t.lower() for t in tokens}) != count:
        raise BatchEncodingError("the token table lists a token twice")
    items: list[BatchItem] = []
    nonces: set[int] = set()
    used = 0  # table entries used so far: the encoder lists tokens in order of first use
    while offset < len(data):
        kind = data[offset]
        if kind == ITEM_TOKEN:
            end = offset + TOKEN_ITEM_LENGTH
            if end > len(data):
                raise BatchEncodingError(f"truncated token item at offset {offset}")
            index = data[offset + 9]
            if index >= count:
                raise BatchEncodingError(f"token index {index} at offset {offset} is not in the table")
            if index > used:
                raise BatchEncodingError(
                    f"token index {index} at offset {offset}: the table lists tokens in order of first use "
                    f"(expected at most {used})"
                )
            used += index == used
            item: BatchItem = TokenRelease(
                nonce=int.from_bytes(data[offset + 1 : offset + 9], "big"),
                token=tokens[index],
                recipient=_hex_address(data[offset + 10 : offset + 30]),
                amount=int.from_bytes(data[offset + 30 : end], "big"),
            )
        elif kind in (ITEM_CALL, ITEM_CALL_WITH_ORIGIN):
            header = CALL_ITEM_HEADER_LENGTH + (ORIGIN_LENGTH if kind == ITEM_CALL_WITH_ORIGIN else 0)
            if offset + header > len(data):
                what = "call item with origin" if kind == ITEM_CALL_WITH_ORIGIN else "call item"
                raise BatchEncodingError(f"truncated {what} at offset {offset}: its header is {header} bytes")
            length = int.from_bytes(data[offset + 33 : offset + 37], "big")
            end = offset + header + length
            if end > len(data):
                raise BatchEncodingError(f"call item at offset {offset} claims {length} bytes of data past the end")
            item = ContractCall(
                nonce=int.from_bytes(data[offset + 1 : offset + 9], "big"),
                target=_hex_address(data[offset + 9 : offset + 29]),
                gas_limit=int.from_bytes(data[offset + 29 : offset + 33], "big"),
                data=bytes(data[offset + header : end]),
                sender=bytes(data[offset + 37 : offset + 69]) if kind == ITEM_CALL_WITH_ORIGIN else None,
            )
        else:
            raise BatchEncodingError(f"unknown item kind {kind} at offset {offset}")
        if item.nonce in nonces:
            raise BatchEncodingError(f"the item at offset {offset} repeats nonce {item.nonce}")
        nonces.add(item.nonce)
        items.append(item)
        offset = end
    if not items:
        raise BatchEncodingError("a batch needs at least one item")
    if used != count:
        raise BatchEncodingError(f"the token table lists {count - used} token(s) that the items do not use")
    return Batch(epoch=epoch, source_domain=source_domain, items=tuple(items))


@dataclass(frozen=True, slots=True)
class MessageOrigin:
    """What `Bridge.messageOrigin()` returns to a call's target: the source domain, the 32-byte sender there (a Phala
    AccountId32, or a confidential contract's id for its reply) and the message's nonce on that domain."""

    source_domain: int
    sender: bytes
    nonce: int


def message_origin(batch: Batch, nonce: int) -> MessageOrigin | None:
    """The origin the target of call item `nonce` of `batch` sees; None when the batch has no such call item, or the
    item carries no origin (kind 2)."""
    for item in batch.items:
        if isinstance(item, ContractCall) and item.nonce == nonce and item.sender is not None:
            return MessageOrigin(batch.source_domain, item.sender, nonce)
    return None
