"""Refunds of Ethereum deposits that Phala's bridge account refuses for good (pure: no I/O).

A deposit to Phala that can never be paid there (the bridge account itself as recipient, an amount below the
existential deposit to an account that does not exist, an XCM destination when this bridge runs no gateway) would
otherwise stay locked in the Ethereum bridge. Instead the bridge account settles it on Phala with a refund: one
extrinsic, signed by the committee like any execution, that writes

    batch_all([remark_with_event(refund note), remark_with_event(executed record of the same ids)])

The executed record makes the id settled on Phala (it never executes there afterwards, whatever changes); the refund
note says where the tokens go back. Every relayer and every enclave reads the note from the bridge account's
finalized successful extrinsics and derives the same Phala -> Ethereum transfer from it (`refund_message`): the
deposit's own amount in Ethereum units back to its depositor, nonce `REFUND_NONCE_FLOOR + deposit nonce`. So each
deposit can be refunded at most once on Ethereum too (the bridge's nonce bitmap), and a refund exists only where t
enclaves agreed the deposit was refused for good.

Refund note, version 1 (integers big-endian):

    magic        4   b"PHBF"
    version      1   0x01
    count        2   number of refunds, 1..MAX_REFUNDS
    per refund:
      nonce      8   the Ethereum deposit's nonce (below REFUND_NONCE_FLOOR)
      depositor 20   the Ethereum address that made the deposit (where the tokens go back)
      source    32   the deposit's amount in Ethereum units (what is released there)
      amount    16   the same amount in Phala units (what Phala would have paid)
      resource  32   the token's resource id
      reason     1   why Phala refused it (`RefundReason`)

The decoder accepts exactly one encoding per value (no duplicates, nothing trailing) and raises `IntentError` saying
what is wrong. That the two amounts convert exactly is the bridge policy's check (bridge.policy), which every relayer
and enclave runs on the deposit and again on its refund.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from bridge.domains import Domain
from bridge.ids import message_id
from bridge.intents import MAX_EXECUTED_IDS, IntentError, RecordReader
from bridge.messages import BridgeMessage, MessageKind, SourceRef

REFUND_MAGIC = b"PHBF"
REFUND_VERSION = 1
# Phala's own deposits count 1, 2, 3...; confidential replies set the top bit (1 << 63); refunds the next one down.
REFUND_NONCE_FLOOR = 1 << 62
REPLY_NONCE_FLOOR = 1 << 63
MAX_REFUNDS = MAX_EXECUTED_IDS  # the executed record of the same extrinsic names each of them
MAX_U128 = 2**128 - 1
MAX_U256 = 2**256 - 1
_ENTRY = 8 + 20 + 32 + 16 + 32 + 1
REFUNDED_PREFIX = "refunded to 0x"  # how a refunded deposit's `failed` reason starts (`Refund.describe`)


class RefundReason(IntEnum):
    BRIDGE_ACCOUNT = 1  # the recipient is the bridge account itself
    BELOW_EXISTENTIAL_DEPOSIT = 2  # too small to create the recipient's account, and nothing else will
    NO_GATEWAY = 3  # an XCM destination, and this bridge runs no XCM gateway
    RECIPIENT_FORM = 4  # a recipient Phala cannot read (deposits from before the contract's recipient rule)


_WHY = {
    RefundReason.BRIDGE_ACCOUNT: "the recipient is the bridge account itself",
    RefundReason.BELOW_EXISTENTIAL_DEPOSIT: (
        "the amount is below Phala's existential deposit and the recipient has no account"
    ),
    RefundReason.NO_GATEWAY: "the recipient is an XCM destination and this bridge runs no XCM gateway",
    RefundReason.RECIPIENT_FORM: "Phala cannot read the recipient",
}


@dataclass(frozen=True)
class Refund:
    nonce: int
    depositor: bytes
    source_amount: int
    amount: int
    resource_id: bytes
    reason: RefundReason

    def __post_init__(self) -> None:
        if not 0 < self.nonce < REFUND_NONCE_FLOOR:
            raise IntentError(f"refund: deposit nonce {self.nonce} is outside 1..2^62-1")
        if len(self.depositor) != 20:
            raise IntentError(f"refund: the depositor is a 20-byte address, got {len(self.depositor)} bytes")
        if not 0 < self.amount <= MAX_U128:
            raise IntentError(f"refund: amount {self.amount} is not a positive u128")
        if not 0 < self.source_amount <= MAX_U256:
            raise IntentError(f"refund: source amount {self.source_amount} is not a positive u256")
        if len(self.resource_id) != 32:
            raise IntentError(f"refund: resource id must be 32 bytes, got {len(self.resource_id)}")
        if not isinstance(self.reason, RefundReason):
            raise IntentError(f"refund: unknown reason {self.reason!r}")

    @property
    def deposit_id(self) -> str:
        """The refunded deposit's message id (hex)."""
        return "0x" + message_id(int(Domain.ETHEREUM), self.nonce).hex()

    @property
    def refund_id(self) -> str:
        """The id of the Phala -> Ethereum transfer that pays it back."""
        return "0x" + message_id(int(Domain.PHALA), refund_nonce(self.nonce)).hex()

    def describe(self) -> str:
        """What a refunded deposit is recorded with (its `failed` reason in a relayer's store)."""
        return f"{REFUNDED_PREFIX}{self.depositor.hex()} on Ethereum as message {self.refund_id}: {_WHY[self.reason]}"


def refund_nonce(deposit_nonce: int) -> int:
    return REFUND_NONCE_FLOOR + deposit_nonce


def refunded_deposit(source_domain: int, nonce: int) -> int | None:
    """The nonce of the Ethereum deposit a message (source domain, nonce) pays back, or None when it is no refund."""
    ok = source_domain == Domain.PHALA and REFUND_NONCE_FLOOR <= nonce < REPLY_NONCE_FLOOR
    return nonce - REFUND_NONCE_FLOOR if ok else None


def is_refund(message: BridgeMessage) -> bool:
    """A Phala -> Ethereum transfer that pays back a refused deposit (derived from a refund note)."""
    return refunded_deposit(message.source_domain, message.nonce) is not None


def refundable(message: BridgeMessage) -> bool:
    """Whether a refusal of `message` can be refunded: an Ethereum deposit of tokens whose every field but the
    recipient (and, for the existential deposit, the amount's size) Phala would accept. The caller has checked the
    destination, the resource and the refusal reason."""
    return (
        message.source_domain == Domain.ETHEREUM
        and message.kind is MessageKind.TRANSFER
        and message.resource_id is not None
        and len(message.sender) == 20
        and 0 < message.nonce < REFUND_NONCE_FLOOR
        and 0 < message.amount <= MAX_U128
        and 0 < message.source_amount <= MAX_U256
        and not message.payload
    )


def refund_of(message: BridgeMessage, reason: RefundReason) -> Refund:
    if not refundable(message):
        raise IntentError(f"message {message.id_hex} is not a deposit that can be refunded")
    assert message.resource_id is not None
    return Refund(message.nonce, message.sender, message.source_amount, message.amount, message.resource_id, reason)


def encode_refund_note(refunds: Sequence[Refund]) -> bytes:
    _check_count(len(refunds))
    if len({r.nonce for r in refunds}) != len(refunds):
        raise IntentError("refund note: a deposit is refunded twice")
    out = bytearray(REFUND_MAGIC + bytes([REFUND_VERSION]) + len(refunds).to_bytes(2, "big"))
    for r in refunds:
        out += r.nonce.to_bytes(8, "big") + r.depositor + r.source_amount.to_bytes(32, "big")
        out += r.amount.to_bytes(16, "big") + r.resource_id + bytes([r.reason])
    return bytes(out)


def decode_refund_note(data: bytes) -> tuple[Refund, ...]:
    reader = RecordReader(data, "refund note")
    reader.magic(REFUND_MAGIC)
    reader.version()
    count = reader.u16("count")
    _check_count(count)
    if len(reader.data) != reader.pos + count * _ENTRY:
        raise IntentError(f"refund note: {count} refunds need {reader.pos + count * _ENTRY} bytes, got {len(data)}")
    out: list[Refund] = []
    for i in range(count):
        nonce = int.from_bytes(reader.take(8, f"refund {i} nonce"), "big")
        depositor = reader.take(20, f"refund {i} depositor")
        source_amount = int.from_bytes(reader.take(32, f"refund {i} source amount"), "big")
        amount = int.from_bytes(reader.take(16, f"refund {i} amount"), "big")
        resource_id = reader.take(32, f"refund {i} resource")
        code = reader.u8(f"refund {i} reason")
        try:
            reason = RefundReason(code)
        except ValueError:
            raise IntentError(f"refund note: refund {i} has an unknown reason {code}") from None
        out.append(Refund(nonce, depositor, source_amount, amount, resource_id, reason))
    reader.end()
    if len({r.nonce for r in out}) != len(out):
        raise IntentError("refund note: a deposit is refunded twice")
    return tuple(out)


def is_refund_note(data: bytes) -> bool:
    return bytes(data[: len(REFUND_MAGIC)]) == REFUND_MAGIC


def settled_refunds(notes: Sequence[bytes], settled: Sequence[str]) -> tuple[list[Refund], list[str]]:
    """The refunds in the refund notes among `notes` (one bridge extrinsic's) whose deposit its executed record
    settles (`settled`, message ids in hex): only those are paid back. Also what was wrong with malformed notes,
    for the caller to report (they refund nothing)."""
    refunds: list[Refund] = []
    errors: list[str] = []
    for note in notes:
        if not is_refund_note(note):
            continue
        try:
            refunds.extend(r for r in decode_refund_note(note) if r.deposit_id in settled)
        except IntentError as exc:
            errors.append(str(exc))
    return refunds, errors


def refund_message(refund: Refund, *, bridge_account: bytes, place: SourceRef) -> BridgeMessage:
    """The Phala -> Ethereum transfer paying `refund` back: from the bridge account, to the depositor, the deposit's
    own amount (in Phala units as its source amount, in Ethereum units as what moves)."""
    return BridgeMessage(
        source_domain=int(Domain.PHALA),
        dest_domain=int(Domain.ETHEREUM),
        nonce=refund_nonce(refund.nonce),
        kind=MessageKind.TRANSFER,
        sender=bridge_account,
        recipient=refund.depositor,
        resource_id=refund.resource_id,
        source_amount=refund.amount,
        amount=refund.source_amount,
        source=place,
    )


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_REFUNDS:
        raise IntentError(f"refund note: refund count must be 1..{MAX_REFUNDS}, got {count}")


__all__ = [
    "MAX_REFUNDS",
    "REFUNDED_PREFIX",
    "REFUND_MAGIC",
    "REFUND_NONCE_FLOOR",
    "REPLY_NONCE_FLOOR",
    "Refund",
    "RefundReason",
    "decode_refund_note",
    "encode_refund_note",
    "is_refund",
    "is_refund_note",
    "refund_message",
    "refund_nonce",
    "refund_of",
    "refundable",
    "refunded_deposit",
    "settled_refunds",
]
