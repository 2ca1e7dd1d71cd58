"""Wire formats of confidential contract calls (pure): the `sendMessage` payload, the execution record appended on
Phala, the outputs and the result digest the committee agrees on, and the query/answer envelopes.

Integers are big-endian. Every decoder accepts exactly one encoding per value and raises `ConfidentialError` (an
`InputError`) saying which field is wrong; no error echoes payload bytes.

Call payload (the `payload` of `Bridge.sendMessage(2, payload)`):

    magic "PHCC" | version 0x01 | contract id (32) | ciphertext (threshold ECIES: U 32 | nonce 24 | AEAD out)

    The ciphertext's associated data is `call_aad(source domain, contract id, caller)` and its KDF context
    `CALL_CONTEXT`: a ciphertext copied into another contract's payload, or sent by another account, does not decrypt.

Execution record (one per executed or refused call, appended by the bridge account with `system.remark_with_event`):

    magic "PHCR" | version | contract id (32) | source domain u8 | source nonce u64 | position u64 |
    status u8 (1 executed, 2 refused) | key version u8 | code len u8 | code | reason len u16 | reason (UTF-8) |
    first seq u64 | event count u16 | (event len u16 | sealed event) * count

Outputs (public; part of the result digest):

    ethereum call = 0x01 | target (20) | gas limit u32 | data len u32 | data
    phala payout  = 0x02 | recipient (32) | amount u128

Outputs note (appended right after the record of a call with outputs):

    magic "PHCO" | version 0x02 | source domain u8 | source nonce u64 | first reply u64 | count u16 | outputs

    Replies are numbered densely: the engine gives the Ethereum outputs of the calls it runs consecutive reply
    counters, in source order, starting after the last reply of the finalized log (`next_reply_counter`), and the
    note carries the first one. Reply nonce = 2^63 | counter, so 256 consecutive replies share one word of the
    bridge's bitmap.

Result digest = SHA-256(RESULT_DOMAIN | record len u32 | record | output count u16 | outputs): what each enclave
computes independently and what the committee signs for only when t members computed the same value.

Query (signed by the querier) and answer (sealed to the query's X25519 response key):

    query  = magic "PHCQ" | version | contract id (32) | querier kind u8 | querier len u8 | querier |
             response key (32) | nonce (16) | body len u16 | body
    signed = query | signature len u8 | signature      (over `query_digest(query)`, see `query_signing_hash`)
    answer = magic "PHCA" | version | query digest (32) | as of u64 | status u8 | code len u8 | code |
             body len u32 | body (status 1: the contract's answer, no code; 2: the refusal reason, UTF-8, and a
             code as `check_code` allows) | zero padding to the next multiple of ANSWER_BLOCK bytes (an answer
             is sealed to the querier: its length must not tell a refusal from an allowed answer)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from eth_utils.crypto import keccak

from bridge.errors import InputError
from bridge.evm.batch import ContractCall
from bridge.ids import MAX_NONCE, message_id
from bridge.intents import MAX_CALL_PAYLOAD
from bridge.messages import BridgeMessage, MessageKind

__all__ = [
    "ANSWER_MAGIC",
    "CALL_CONTEXT",
    "CALL_MAGIC",
    "CONTRACT_ID_LENGTH",
    "MAX_EVENTS",
    "MAX_EVENT_SIZE",
    "MAX_MESSAGE_PAYLOAD",
    "MAX_OUTPUTS",
    "MAX_REASON",
    "MAX_REPLY_COUNTER",
    "NOTE_LOG_ROOT",
    "NULL_CONTRACT_ID",
    "OUTPUTS_MAGIC",
    "OUTPUTS_VERSION",
    "QUERY_MAGIC",
    "RECORD_MAGIC",
    "REPLY_SOURCE_DOMAIN",
    "VERSION",
    "CallPayload",
    "CallStatus",
    "ConfidentialCall",
    "ConfidentialError",
    "EthereumCall",
    "ExecutedCall",
    "ExecutionRecord",
    "NoteTail",
    "Output",
    "OutputsNote",
    "PhalaPayout",
    "Querier",
    "QuerierKind",
    "Query",
    "QueryAnswer",
    "Reader",
    "SignedQuery",
    "call_aad",
    "check_code",
    "confidential_call",
    "decode_answer",
    "decode_call_payload",
    "decode_output",
    "decode_outputs_note",
    "decode_record",
    "decode_share_envelopes",
    "decode_signed_query",
    "encode_answer",
    "encode_call_payload",
    "encode_output",
    "encode_outputs_note",
    "encode_query",
    "encode_record",
    "encode_share_envelopes",
    "encode_signed_query",
    "is_call_payload",
    "is_confidential_call",
    "next_reply_counter",
    "note_log_hash",
    "phala_batch_parts",
    "query_digest",
    "query_signing_hash",
    "reply_items",
    "reply_nonce",
    "result_digest",
]

CALL_MAGIC = b"PHCC"
RECORD_MAGIC = b"PHCR"
OUTPUTS_MAGIC = b"PHCO"
QUERY_MAGIC = b"PHCQ"
ANSWER_MAGIC = b"PHCA"
# Answers are padded to a multiple of this: a refusal (its reason is at most 200 bytes) and an answer with a body up
# to ~400 bytes all seal to the same length.
ANSWER_BLOCK = 512
VERSION = 1
OUTPUTS_VERSION = 2  # version 1 had no first reply counter: refused, never read with the wrong layout
CONTRACT_ID_LENGTH = 32
NULL_CONTRACT_ID = bytes(32)  # the log of payloads whose contract id cannot be read
MAX_MESSAGE_PAYLOAD = 16_384  # Bridge.sendMessage's bound
MIN_CIPHERTEXT = 32 + 24 + 16
CALL_CONTEXT = b"phala-bridge/confidential-call/v1"
MAX_EVENTS = 64
MAX_EVENT_SIZE = 4096  # plaintext bytes per event
MAX_OUTPUTS = 16  # per call
MAX_REASON = 200  # bytes of UTF-8
REPLY_SOURCE_DOMAIN = 2  # replies are executed on Ethereum as messages from Phala
_REPLY_BASE = 1 << 63
MAX_REPLY_COUNTER = _REPLY_BASE - 1  # a reply nonce is 2^63 | counter: never a Phala deposit nonce (1, 2, 3...)
_SEALED_OVERHEAD = 24 + 16
_CODE = re.compile(r"[a-z0-9_]{1,40}")
_RESULT_DOMAIN = b"phala-bridge/confidential-result/v1\x00"
_QUERY_DOMAIN = b"phala-bridge/confidential-query/v1\x00"
_U32 = 2**32 - 1
_U128 = 2**128 - 1


class ConfidentialError(InputError):
    """A malformed confidential-call payload, record, output, query or answer; permanent."""


class Reader:
    """Strict sequential reader: every short read, bad magic or trailing byte raises ConfidentialError."""

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray):
            raise ConfidentialError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data, self.pos, self.what = bytes(data), 0, what

    def take(self, n: int, name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ConfidentialError(f"{self.what}: truncated in {name}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, name: str) -> int:
        return int.from_bytes(self.take(size, name), "big")

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def header(self, magic: bytes, expected: int = VERSION) -> None:
        if self.take(len(magic), "magic") != magic:
            raise ConfidentialError(f"{self.what}: does not start with {magic!r}")
        version = self.uint(1, "version")
        if version != expected:
            raise ConfidentialError(f"{self.what}: unsupported version {version}")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ConfidentialError(f"{self.what}: {len(self.data) - self.pos} trailing bytes")


def _bytes(value: bytes, n: int, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != n:
        raise ConfidentialError(f"{name} must be {n} bytes")
    return value


def _uint(value: int, maximum: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ConfidentialError(f"{name} must be an integer in [0, {maximum}]")
    return value


def check_code(code: str) -> str:
    """A refusal code: a stable public label ([a-z0-9_]{1,40})."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ConfidentialError("a code is 1..40 characters of [a-z0-9_]")
    return code


def _reason(reason: str) -> bytes:
    raw = reason.encode("utf-8")
    if len(raw) > MAX_REASON:
        raise ConfidentialError(f"a reason is at most {MAX_REASON} bytes of UTF-8")
    return raw


# ---- call payload -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallPayload:
    contract_id: bytes
    ciphertext: bytes  # the threshold-ECIES wire form

    def __post_init__(self) -> None:
        _bytes(self.contract_id, CONTRACT_ID_LENGTH, "contract id")
        n = 5 + CONTRACT_ID_LENGTH + len(self.ciphertext)
        if len(self.ciphertext) < MIN_CIPHERTEXT or n > MAX_MESSAGE_PAYLOAD:
            raise ConfidentialError(f"call payload: ciphertext of {len(self.ciphertext)} bytes is out of bounds")


def encode_call_payload(payload: CallPayload) -> bytes:
    return CALL_MAGIC + bytes([VERSION]) + payload.contract_id + payload.ciphertext


def decode_call_payload(data: bytes) -> CallPayload:
    r = Reader(data, "call payload")
    r.header(CALL_MAGIC)
    contract_id = r.take(CONTRACT_ID_LENGTH, "contract id")
    return CallPayload(contract_id, r.rest())


def is_call_payload(data: bytes) -> bool:
    """Whether a message payload claims to be a confidential call (its magic), valid or not."""
    return bytes(data[: len(CALL_MAGIC)]) == CALL_MAGIC


def is_confidential_call(message: BridgeMessage) -> bool:
    """Whether the bridge routes `message` to the confidential contracts (not to a token transfer)."""
    if message.kind is MessageKind.CONFIDENTIAL_CALL:
        return True
    return message.kind is MessageKind.CALL and is_call_payload(message.payload)


def call_aad(source_domain: int, contract_id: bytes, caller: bytes) -> bytes:
    """Associated data of a call's ciphertext: binds the source domain, the contract and the caller."""
    _uint(source_domain, 255, "source domain")
    _bytes(contract_id, CONTRACT_ID_LENGTH, "contract id")
    if not 1 <= len(caller) <= 64:
        raise ConfidentialError("a caller is 1..64 bytes")
    return CALL_CONTEXT + b"\x00" + bytes([source_domain]) + contract_id + bytes([len(caller)]) + caller


@dataclass(frozen=True)
class ConfidentialCall:
    """The public facts of one confidential-call message: what every enclave re-reads from the source chain."""

    source_domain: int
    source_nonce: int
    caller: bytes  # the sendMessage sender (20 bytes on Ethereum)
    block_number: int  # the source block: the call's only notion of time
    payload: bytes = field(repr=False)

    @property
    def call_id(self) -> bytes:
        return message_id(self.source_domain, self.source_nonce)

    @property
    def contract_id(self) -> bytes:
        """The addressed contract, or NULL_CONTRACT_ID when the payload cannot be read (then refused there)."""
        try:
            return decode_call_payload(self.payload).contract_id
        except ConfidentialError:
            return NULL_CONTRACT_ID


def confidential_call(message: BridgeMessage) -> ConfidentialCall:
    """A message carrying a confidential call: kind CONFIDENTIAL_CALL, or a generic MessageSent (kind CALL, as the
    Ethereum watcher reports it) whose payload has the call magic."""
    ok = message.kind is MessageKind.CONFIDENTIAL_CALL or (
        message.kind is MessageKind.CALL and is_call_payload(message.payload)
    )
    if not ok:
        raise ConfidentialError(f"message {message.id_hex} is not a confidential call")
    if not 1 <= len(message.sender) <= 64:
        raise ConfidentialError(f"message {message.id_hex}: a caller is 1..64 bytes")
    return ConfidentialCall(
        message.source_domain, message.nonce, bytes(message.sender), message.source.block_number, message.payload
    )


# ---- outputs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EthereumCall:
    """A reply executed by the bridge's generic call item on an allow-listed target."""

    target: bytes  # 20 bytes
    gas_limit: int
    data: bytes

    def __post_init__(self) -> None:
        _bytes(self.target, 20, "target")
        if _uint(self.gas_limit, _U32, "gas limit") == 0:
            raise ConfidentialError("gas limit must be positive")
        if len(self.data) > MAX_CALL_PAYLOAD:
            raise ConfidentialError(f"call data is at most {MAX_CALL_PAYLOAD} bytes")


@dataclass(frozen=True)
class PhalaPayout:
    """Native PHA (12 decimals) from the bridge account to a Phala account."""

    recipient: bytes  # 32 bytes
    amount: int

    def __post_init__(self) -> None:
        _bytes(self.recipient, 32, "recipient")
        if _uint(self.amount, _U128, "amount") == 0:
            raise ConfidentialError("a payout amount must be positive")


Output = EthereumCall | PhalaPayout


def encode_output(output: Output) -> bytes:
    if isinstance(output, EthereumCall):
        size = len(output.data).to_bytes(4, "big")
        return b"\x01" + output.target + output.gas_limit.to_bytes(4, "big") + size + output.data
    return b"\x02" + output.recipient + output.amount.to_bytes(16, "big")


def decode_output(data: bytes) -> Output:
    r = Reader(data, "output")
    out = _read_output(r)
    r.end()
    return out


def _read_output(r: Reader) -> Output:
    kind = r.uint(1, "output kind")
    if kind == 1:
        target, gas = r.take(20, "target"), r.uint(4, "gas limit")
        return EthereumCall(target, gas, r.take(r.uint(4, "data length"), "data"))
    if kind == 2:
        return PhalaPayout(r.take(32, "recipient"), r.uint(16, "amount"))
    raise ConfidentialError(f"{r.what}: unknown output kind {kind}")


@dataclass(frozen=True)
class OutputsNote:
    """The public outputs of one executed call, appended on Phala right after its record by the same extrinsic:

        "PHCO" | version 0x02 | source domain u8 | source nonce u64 | first reply u64 | count u16 | outputs

    `first_reply` is the reply counter of the call's first Ethereum output (the next ones follow it, payouts skipped).
    Replies to Ethereum are read back from these notes (by every relayer and every enclave, from the finalized
    chain), so a reply exists only if the committee signed the Phala extrinsic carrying it."""

    source_domain: int
    source_nonce: int
    first_reply: int
    outputs: tuple[Output, ...]

    def __post_init__(self) -> None:
        _uint(self.source_domain, 255, "source domain")
        _uint(self.source_nonce, MAX_NONCE, "source nonce")
        if not 1 <= len(self.outputs) <= MAX_OUTPUTS:
            raise ConfidentialError(f"an outputs note carries 1..{MAX_OUTPUTS} outputs")
        _uint(self.first_reply, MAX_REPLY_COUNTER + 1 - self.reply_count, "first reply")

    @property
    def reply_count(self) -> int:
        """How many reply counters the note uses: one per Ethereum output."""
        return sum(isinstance(o, EthereumCall) for o in self.outputs)

    def reply_items(self) -> list[ContractCall]:
        return reply_items(self.first_reply, self.outputs)


def encode_outputs_note(note: OutputsNote) -> bytes:
    body = b"".join(encode_output(o) for o in note.outputs)
    head = OUTPUTS_MAGIC + bytes([OUTPUTS_VERSION, note.source_domain]) + note.source_nonce.to_bytes(8, "big")
    return head + note.first_reply.to_bytes(8, "big") + len(note.outputs).to_bytes(2, "big") + body


def decode_outputs_note(data: bytes) -> OutputsNote:
    r = Reader(data, "outputs note")
    r.header(OUTPUTS_MAGIC, OUTPUTS_VERSION)
    domain, nonce = r.uint(1, "source domain"), r.uint(8, "source nonce")
    first, count = r.uint(8, "first reply"), r.uint(2, "output count")
    if not 1 <= count <= MAX_OUTPUTS:
        raise ConfidentialError(f"outputs note: 1..{MAX_OUTPUTS} outputs")
    outputs = tuple(_read_output(r) for _ in range(count))
    r.end()
    return OutputsNote(domain, nonce, first, outputs)


def next_reply_counter(notes: Iterable[bytes]) -> int:
    """The reply counter after every reply of `notes` (the bridge account's finalized notes, in chain order): the
    first counter the next call's Ethereum outputs get. A function of the finalized log alone, so every enclave,
    restarted or reshared, assigns the same counters."""
    nxt = 0
    for data in notes:
        if bytes(data[: len(OUTPUTS_MAGIC)]) == OUTPUTS_MAGIC:
            note = decode_outputs_note(bytes(data))
            nxt = max(nxt, note.first_reply + note.reply_count)
    return nxt


NOTE_LOG_ROOT = bytes(32)  # the running hash of an empty note log
_NOTE_LOG_DOMAIN = b"phala-bridge/confidential-note-log/v1\x00"


def note_log_hash(notes: Iterable[bytes], start: bytes = NOTE_LOG_ROOT) -> bytes:
    """The running hash of the bridge account's note log (records and outputs notes, in chain order) after `notes`,
    continuing from `start` (the hash of the notes before them): h' = SHA-256(domain | h | len u32 | note). Two logs
    with the same count and hash have the same notes: an engine checks with it that a log still extends what it
    applied (or what its sealed state snapshot was taken at)."""
    h = start
    for note in notes:
        data = bytes(note)
        h = hashlib.sha256(_NOTE_LOG_DOMAIN + h + len(data).to_bytes(4, "big") + data).digest()
    return h


@dataclass(frozen=True)
class NoteTail:
    """The notes of the log after `position` notes (the confidential engine's read of its chain port), and the
    running hash of the first `position` notes as the port has them (None: the log has fewer notes than that)."""

    position: int
    prefix_hash: bytes | None
    notes: tuple[bytes, ...]

    @property
    def end(self) -> int:
        return self.position + len(self.notes)


def reply_nonce(counter: int) -> int:
    """The nonce (of source domain REPLY_SOURCE_DOMAIN on Ethereum) of reply number `counter`: the top bit set (Phala
    deposits count 1, 2, 3... and never get there), then the counter. Counters are dense (see `OutputsNote`), so
    consecutive replies share a word of the bridge's bitmap (one fresh word per 256 replies)."""
    return _REPLY_BASE | _uint(counter, MAX_REPLY_COUNTER, "reply counter")


def reply_items(first_reply: int, outputs: Sequence[Output], contract_id: bytes | None = None) -> list[ContractCall]:
    """The executeBatch call items (source domain REPLY_SOURCE_DOMAIN) for the Ethereum outputs of one call, whose
    first Ethereum output has reply counter `first_reply` (its outputs note's); with `contract_id` (the contract that
    produced them), calls with origin, as the relayers build them (the target reads the id with `messageOrigin()`)."""
    items = []
    counter = first_reply
    for out in outputs:
        if isinstance(out, EthereumCall):
            target = "0x" + out.target.hex()
            items.append(ContractCall(reply_nonce(counter), target, out.gas_limit, out.data, contract_id))
            counter += 1
    return items


# ---- execution record ---------------------------------------------------------------------------------------------


class CallStatus(IntEnum):
    EXECUTED = 1
    REFUSED = 2


@dataclass(frozen=True)
class ExecutionRecord:
    """What is appended on Phala for one call. Public: ids, position, status, code, reason; events are sealed."""

    contract_id: bytes
    source_domain: int
    source_nonce: int
    position: int  # records of this contract before this one
    status: CallStatus
    key_version: int
    code: str  # "" when executed
    reason: str  # "" when executed
    first_seq: int  # sequence number of the first event
    events: tuple[bytes, ...]  # sealed events

    def __post_init__(self) -> None:
        _bytes(self.contract_id, CONTRACT_ID_LENGTH, "contract id")
        _uint(self.source_domain, 255, "source domain")
        _uint(self.source_nonce, MAX_NONCE, "source nonce")
        _uint(self.position, MAX_NONCE, "position")
        _uint(self.key_version, 255, "key version")
        _uint(self.first_seq, MAX_NONCE, "first seq")
        if not isinstance(self.status, CallStatus):
            raise ConfidentialError("unknown status")
        if self.status is CallStatus.EXECUTED and (self.code or self.reason):
            raise ConfidentialError("an executed record carries no code or reason")
        if self.status is CallStatus.REFUSED:
            check_code(self.code)
            if self.events:
                raise ConfidentialError("a refused record carries no events")
        _reason(self.reason)
        if len(self.events) > MAX_EVENTS:
            raise ConfidentialError(f"a record carries at most {MAX_EVENTS} events")
        for e in self.events:
            if not _SEALED_OVERHEAD < len(e) <= MAX_EVENT_SIZE + _SEALED_OVERHEAD:
                raise ConfidentialError("a sealed event is out of bounds")

    @property
    def call_id(self) -> bytes:
        return message_id(self.source_domain, self.source_nonce)


def encode_record(record: ExecutionRecord) -> bytes:
    code, reason = record.code.encode("ascii"), _reason(record.reason)
    out = bytearray(RECORD_MAGIC + bytes([VERSION]) + record.contract_id)
    out += bytes([record.source_domain]) + record.source_nonce.to_bytes(8, "big") + record.position.to_bytes(8, "big")
    out += bytes([record.status, record.key_version, len(code)]) + code + len(reason).to_bytes(2, "big") + reason
    out += record.first_seq.to_bytes(8, "big") + len(record.events).to_bytes(2, "big")
    for e in record.events:
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def decode_record(data: bytes) -> ExecutionRecord:
    r = Reader(data, "execution record")
    r.header(RECORD_MAGIC)
    contract_id = r.take(CONTRACT_ID_LENGTH, "contract id")
    domain, nonce, position = r.uint(1, "source domain"), r.uint(8, "source nonce"), r.uint(8, "position")
    status_byte, key_version = r.uint(1, "status"), r.uint(1, "key version")
    try:
        status = CallStatus(status_byte)
    except ValueError:
        raise ConfidentialError(f"execution record: unknown status {status_byte}") from None
    try:
        code = r.take(r.uint(1, "code length"), "code").decode("ascii")
        reason = r.take(r.uint(2, "reason length"), "reason").decode("utf-8")
    except UnicodeDecodeError:
        raise ConfidentialError("execution record: code or reason is not text") from None
    first_seq, count = r.uint(8, "first seq"), r.uint(2, "event count")
    if count > MAX_EVENTS:
        raise ConfidentialError(f"execution record: at most {MAX_EVENTS} events")
    events = tuple(r.take(r.uint(2, f"event {i} length"), f"event {i}") for i in range(count))
    r.end()
    return ExecutionRecord(contract_id, domain, nonce, position, status, key_version, code, reason, first_seq, events)


def result_digest(record: ExecutionRecord, outputs: Sequence[Output]) -> bytes:
    if len(outputs) > MAX_OUTPUTS:
        raise ConfidentialError(f"at most {MAX_OUTPUTS} outputs")
    body = encode_record(record)
    h = hashlib.sha256(_RESULT_DOMAIN + len(body).to_bytes(4, "big") + body + len(outputs).to_bytes(2, "big"))
    for out in outputs:
        h.update(encode_output(out))
    return h.digest()


# ---- queries ------------------------------------------------------------------------------------------------------


class QuerierKind(IntEnum):
    ETHEREUM = 1  # a 20-byte address; signs EIP-191 personal messages
    ED25519 = 2  # a 32-byte public key


_QUERIER_LENGTH = {QuerierKind.ETHEREUM: 20, QuerierKind.ED25519: 32}


@dataclass(frozen=True)
class Querier:
    kind: QuerierKind
    identity: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kind, QuerierKind):
            raise ConfidentialError("unknown querier kind")
        _bytes(self.identity, _QUERIER_LENGTH[self.kind], f"a {self.kind.name.lower()} querier")

    def encode(self) -> bytes:
        return bytes([self.kind, len(self.identity)]) + self.identity

    @classmethod
    def read(cls, r: Reader) -> Querier:
        kind_byte = r.uint(1, "querier kind")
        try:
            kind = QuerierKind(kind_byte)
        except ValueError:
            raise ConfidentialError(f"{r.what}: unknown querier kind {kind_byte}") from None
        return cls(kind, r.take(r.uint(1, "querier length"), "querier"))


@dataclass(frozen=True)
class Query:
    contract_id: bytes
    querier: Querier
    response_key: bytes  # X25519 public key the answer is sealed to
    nonce: bytes  # 16 bytes, the querier's choice (two identical queries get distinct digests)
    body: bytes  # contract-defined

    def __post_init__(self) -> None:
        _bytes(self.contract_id, CONTRACT_ID_LENGTH, "contract id")
        _bytes(self.response_key, 32, "response key")
        _bytes(self.nonce, 16, "query nonce")
        if len(self.body) > 4096:
            raise ConfidentialError("a query body is at most 4096 bytes")


@dataclass(frozen=True)
class SignedQuery:
    query: Query
    signature: bytes  # 64 bytes (Ed25519) or 65 bytes r | s | v (Ethereum)


def encode_query(q: Query) -> bytes:
    return (
        QUERY_MAGIC + bytes([VERSION]) + q.contract_id + q.querier.encode() + q.response_key + q.nonce
        + len(q.body).to_bytes(2, "big") + q.body
    )  # fmt: skip


def _read_query(r: Reader) -> Query:
    r.header(QUERY_MAGIC)
    contract_id = r.take(CONTRACT_ID_LENGTH, "contract id")
    querier = Querier.read(r)
    response_key, nonce = r.take(32, "response key"), r.take(16, "nonce")
    return Query(contract_id, querier, response_key, nonce, r.take(r.uint(2, "body length"), "body"))


def query_digest(q: Query) -> bytes:
    return hashlib.sha256(_QUERY_DOMAIN + encode_query(q)).digest()


def query_signing_hash(q: Query) -> bytes:
    """The 32 bytes a signature covers: Ed25519 signs the query digest itself; an Ethereum querier signs the digest
    as an EIP-191 personal message (`personal_sign`), i.e. keccak256("\\x19Ethereum Signed Message:\\n32" | digest)."""
    digest = query_digest(q)
    if q.querier.kind is QuerierKind.ETHEREUM:
        return bytes(keccak(b"\x19Ethereum Signed Message:\n32" + digest))
    return digest


def encode_signed_query(sq: SignedQuery) -> bytes:
    if not 1 <= len(sq.signature) <= 255:
        raise ConfidentialError("a signature is 1..255 bytes")
    return encode_query(sq.query) + bytes([len(sq.signature)]) + sq.signature


def decode_signed_query(data: bytes) -> SignedQuery:
    r = Reader(data, "signed query")
    query = _read_query(r)
    signature = r.take(r.uint(1, "signature length"), "signature")
    r.end()
    return SignedQuery(query, signature)


@dataclass(frozen=True)
class QueryAnswer:
    query_digest: bytes
    as_of: int  # the contract's log position (records applied) the answer was computed at
    ok: bool
    code: str  # "" when ok
    body: bytes = field(repr=False)  # the answer when ok, the reason (UTF-8) when refused

    @property
    def reason(self) -> str:
        return "" if self.ok else self.body.decode("utf-8", "replace")


def _check_answer(a: QueryAnswer) -> QueryAnswer:
    """What encode_answer writes and decode_answer accepts: one rule for both, so one encoding per answer."""
    _bytes(a.query_digest, 32, "query digest")
    _uint(a.as_of, MAX_NONCE, "as of")
    if a.ok == bool(a.code):
        raise ConfidentialError("an answer is ok without a code, or refused with one")
    if a.code:
        check_code(a.code)
    return a


def encode_answer(a: QueryAnswer) -> bytes:
    code = _check_answer(a).code.encode()
    raw = (
        ANSWER_MAGIC + bytes([VERSION]) + a.query_digest + a.as_of.to_bytes(8, "big")
        + bytes([1 if a.ok else 2, len(code)]) + code + len(a.body).to_bytes(4, "big") + a.body
    )  # fmt: skip
    return raw + bytes(-len(raw) % ANSWER_BLOCK)


def decode_answer(data: bytes) -> QueryAnswer:
    r = Reader(data, "query answer")
    r.header(ANSWER_MAGIC)
    digest, as_of, status = r.take(32, "query digest"), r.uint(8, "as of"), r.uint(1, "status")
    if status not in (1, 2):
        raise ConfidentialError(f"query answer: unknown status {status}")
    try:
        code = r.take(r.uint(1, "code length"), "code").decode("ascii")
    except UnicodeDecodeError:
        raise ConfidentialError("query answer: code is not text") from None
    body = r.take(r.uint(4, "body length"), "body")
    padding = r.rest()
    if len(data) % ANSWER_BLOCK or len(padding) >= ANSWER_BLOCK or any(padding):
        raise ConfidentialError(f"query answer: not zero-padded to the next multiple of {ANSWER_BLOCK} bytes")
    if (status == 1) == bool(code):
        raise ConfidentialError("query answer: status and code disagree")
    return _check_answer(QueryAnswer(digest, as_of, status == 1, code, body))


# ---- what one executed call puts on Phala ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutedCall:
    """One call's public result as an enclave reports it: the record to append, its outputs and the digest the
    committee agrees on. Nothing here is secret (events are sealed in the record)."""

    source_domain: int
    source_nonce: int
    record: bytes  # encode_record(...)
    outputs: tuple[Output, ...]
    digest: bytes
    first_reply: int = 0  # the reply counter of its first Ethereum output (engine-assigned, see OutputsNote)

    @property
    def call_id(self) -> bytes:
        return message_id(self.source_domain, self.source_nonce)


def phala_batch_parts(calls: Sequence[ExecutedCall]) -> tuple[list[bytes], list[PhalaPayout], list[bytes]]:
    """(notes, payouts, executed ids) of the bridge account's extrinsic for `calls`, in call order: per call its
    record, then its outputs note when it has outputs; every Phala payout; the call ids for the executed record."""
    notes: list[bytes] = []
    payouts: list[PhalaPayout] = []
    for c in calls:
        notes.append(c.record)
        if c.outputs:
            notes.append(encode_outputs_note(OutputsNote(c.source_domain, c.source_nonce, c.first_reply, c.outputs)))
        payouts.extend(o for o in c.outputs if isinstance(o, PhalaPayout))
    return notes, payouts, [c.call_id for c in calls]


def encode_share_envelopes(sealed: dict[int, bytes]) -> bytes:
    """Member id -> a box only that member's enclave opens (the leader's decryption shares), as one blob:
    count u16 | (member u16 | len u32 | box)*, member ids strictly increasing. Carried in a Phala signing request's
    context ("confidential_shares")."""
    out = bytearray(len(sealed).to_bytes(2, "big"))
    for member, box in sorted(sealed.items()):
        out += _uint(member, 0xFFFF, "member id").to_bytes(2, "big") + len(box).to_bytes(4, "big") + box
    return bytes(out)


def decode_share_envelopes(data: bytes) -> dict[int, bytes]:
    """The inverse of `encode_share_envelopes`: member ids strictly increasing (as it writes them), so a member's box
    is never given twice (the second silently replacing the first) and each blob has one encoding."""
    r = Reader(data, "share envelopes")
    out: dict[int, bytes] = {}
    previous = -1
    for _ in range(r.uint(2, "count")):
        member = r.uint(2, "member id")
        if member <= previous:
            raise ConfidentialError(f"{r.what}: member ids must be strictly increasing")
        previous = member
        out[member] = r.take(r.uint(4, "box length"), "box")
    r.end()
    return out
