"""What goes in a `system.remark_with_event` on Phala: a user's bridging intent, and the bridge account's record of
the message ids it executed. Both are compact, versioned binary formats with strict decoders.

Intent, version 1 (integers big-endian):

    magic      4   b"PHBI"
    version    1   0x01
    kind       1   0x01 transfer | 0x02 call
    dest       1   destination domain id (1..255)
    resource  32   resource id of the token sent with the intent
    rlen       1   recipient length, 1..64 (exactly 20 for Ethereum, 32 for Phala)
    recipient rlen
    -- kind = call only --
    plen       2   payload length, 1..MAX_CALL_PAYLOAD
    payload  plen  calldata for the target (the recipient is the target contract)

Executed record, version 1:

    magic      4   b"PHBX"
    version    1   0x01
    count      2   number of ids, 1..MAX_EXECUTED_IDS
    ids   32*count message ids, no duplicates

A decoder accepts exactly one encoding per value: anything truncated, over-long, with an unknown magic, version or
kind, or followed by trailing bytes raises `IntentError` (an `InputError`) saying what is wrong, so a remark is
either a valid record or reported as malformed, never half-read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from bridge.errors import InputError
from bridge.policy import RECIPIENT_LENGTH

INTENT_MAGIC = b"PHBI"
EXECUTED_MAGIC = b"PHBX"
VERSION = 1
MAX_RECIPIENT = 64
MAX_CALL_PAYLOAD = 8192  # bytes of calldata; a remark is bounded by the block length anyway
MAX_EXECUTED_IDS = 1024  # above any batch the dispatcher builds (bounded by weight, see docs/phala-side.md)
MESSAGE_ID_LENGTH = 32
_RECIPIENT_LENGTH = {int(domain): length for domain, length in RECIPIENT_LENGTH.items()}


class IntentError(InputError):
    """A malformed intent or executed record; permanent."""


class IntentKind(IntEnum):
    TRANSFER = 1
    CALL = 2


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    dest_domain: int
    resource_id: bytes
    recipient: bytes
    payload: bytes = b""

    def __post_init__(self) -> None:
        _check_intent(self)


def _check_intent(intent: Intent) -> None:
    if not isinstance(intent.kind, IntentKind):
        raise IntentError(f"unknown intent kind {intent.kind!r}")
    if not 1 <= intent.dest_domain <= 255:
        raise IntentError(f"destination domain out of range: {intent.dest_domain}")
    if len(intent.resource_id) != 32:
        raise IntentError(f"resource id must be 32 bytes, got {len(intent.resource_id)}")
    n = len(intent.recipient)
    if not 1 <= n <= MAX_RECIPIENT:
        raise IntentError(f"recipient must be 1..{MAX_RECIPIENT} bytes, got {n}")
    want = _RECIPIENT_LENGTH.get(intent.dest_domain)
    if want is not None and n != want:
        raise IntentError(f"recipient on domain {intent.dest_domain} must be {want} bytes, got {n}")
    if intent.kind is IntentKind.TRANSFER and intent.payload:
        raise IntentError("a transfer intent carries no payload")
    if intent.kind is IntentKind.CALL and not 1 <= len(intent.payload) <= MAX_CALL_PAYLOAD:
        raise IntentError(f"a call intent needs a payload of 1..{MAX_CALL_PAYLOAD} bytes, got {len(intent.payload)}")


def encode_intent(intent: Intent) -> bytes:
    out = bytearray(INTENT_MAGIC)
    out += bytes([VERSION, intent.kind, intent.dest_domain])
    out += intent.resource_id
    out += bytes([len(intent.recipient)]) + intent.recipient
    if intent.kind is IntentKind.CALL:
        out += len(intent.payload).to_bytes(2, "big") + intent.payload
    return bytes(out)


def decode_intent(data: bytes) -> Intent:
    reader = RecordReader(data, "intent")
    reader.magic(INTENT_MAGIC)
    reader.version()
    kind_byte = reader.u8("kind")
    try:
        kind = IntentKind(kind_byte)
    except ValueError:
        raise IntentError(f"intent: unknown kind {kind_byte} (1 = transfer, 2 = call)") from None
    dest = reader.u8("destination domain")
    resource_id = reader.take(32, "resource id")
    recipient = reader.take(reader.u8("recipient length"), "recipient")
    payload = reader.take(reader.u16("payload length"), "payload") if kind is IntentKind.CALL else b""
    reader.end()
    return Intent(kind, dest, resource_id, recipient, payload)


def is_intent(data: bytes) -> bool:
    """Whether `data` claims to be an intent (its magic), valid or not."""
    return data.startswith(INTENT_MAGIC)


def encode_executed(ids: Iterable[bytes]) -> bytes:
    id_list = list(ids)
    _check_ids(id_list)
    return EXECUTED_MAGIC + bytes([VERSION]) + len(id_list).to_bytes(2, "big") + b"".join(id_list)


def decode_executed(data: bytes) -> tuple[bytes, ...]:
    reader = RecordReader(data, "executed record")
    reader.magic(EXECUTED_MAGIC)
    reader.version()
    count = reader.u16("id count")
    if count == 0 or count > MAX_EXECUTED_IDS:
        raise IntentError(f"executed record: id count must be 1..{MAX_EXECUTED_IDS}, got {count}")
    ids = tuple(reader.take(MESSAGE_ID_LENGTH, f"id {i}") for i in range(count))
    reader.end()
    _check_ids(list(ids))
    return ids


def is_executed_record(data: bytes) -> bool:
    return data.startswith(EXECUTED_MAGIC)


def _check_ids(ids: list[bytes]) -> None:
    if not 1 <= len(ids) <= MAX_EXECUTED_IDS:
        raise IntentError(f"executed record: id count must be 1..{MAX_EXECUTED_IDS}, got {len(ids)}")
    for i in ids:
        if not isinstance(i, bytes) or len(i) != MESSAGE_ID_LENGTH:
            raise IntentError(f"executed record: a message id is {MESSAGE_ID_LENGTH} bytes")
    if len(set(ids)) != len(ids):
        raise IntentError("executed record: duplicate message id")


class RecordReader:
    """Reads a record field by field; every way it can be wrong raises `IntentError` naming the record and field."""

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray):
            raise IntentError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise IntentError(
                f"{self.what}: truncated in {field} (needs {n} bytes at offset {self.pos}, {len(self.data)} in all)"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return int.from_bytes(self.take(2, field), "big")

    def magic(self, magic: bytes) -> None:
        if len(self.data) < len(magic) and magic.startswith(self.data):
            raise IntentError(f"{self.what}: truncated in magic ({len(self.data)} bytes)")
        if self.data[: len(magic)] != magic:
            raise IntentError(f"{self.what}: does not start with {magic!r}")
        self.pos = len(magic)

    def version(self) -> None:
        version = self.u8("version")
        if version != VERSION:
            raise IntentError(f"{self.what}: unsupported version {version} (this relayer reads version {VERSION})")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise IntentError(f"{self.what}: {len(self.data) - self.pos} trailing bytes after the end")


__all__ = [
    "EXECUTED_MAGIC",
    "INTENT_MAGIC",
    "MAX_CALL_PAYLOAD",
    "MAX_EXECUTED_IDS",
    "MAX_RECIPIENT",
    "MESSAGE_ID_LENGTH",
    "VERSION",
    "Intent",
    "IntentError",
    "IntentKind",
    "RecordReader",
    "decode_executed",
    "decode_intent",
    "encode_executed",
    "encode_intent",
    "is_executed_record",
    "is_intent",
]
