"""Outcome tracking for sent XCM messages: watch the destination's finalized blocks and report, for a message
identified by its hash (and V3+ topic), whether it succeeded (with what was deposited), failed (and why), and
which assets it left trapped (and how to claim them).

Correlation is by id, never by position: the destination names the message in its outcome event (`XcmpQueue.
Success/Fail(hash)` on older runtimes, `MessageQueue.Processed { id }` with the topic or hash on newer ones). The
events *of* that message (deposits, traps, the reason on newer runtimes) are the ones emitted in the same phase of
the block since the previous message outcome: queues run messages one after the other and close each with its
outcome event. Inbound messages run inside the `set_validation_data` inherent (XcmpQueue) or block initialization
(MessageQueue), never in a signed extrinsic, so every event of every block is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from scalecodec.utils.ss58 import ss58_decode

from bridge.xcm import (
    DEFAULT_NAMES,
    AccountId32,
    AccountKey20,
    Asset,
    CallDescription,
    Location,
    VariantNames,
    Xcm,
    XcmDecodeError,
    XcmErrorKind,
    XcmFailure,
    XcmVersion,
    assets_from_value,
    claim_assets_call,
    claim_trapped,
    location_from_value,
    versioned_parts,
    xcm_message_hash,
)
from relayers.substrate.client import SubstrateClient
from relayers.substrate.errors import SubstrateTimeout
from relayers.substrate.events import ChainEvent

log = structlog.get_logger("substrate.xcm")


@dataclass(frozen=True)
class SentMessage:
    """What the destination will name the message by: its hash, and its topic when it carries `SetTopic`."""

    hash: bytes
    topic: bytes | None = None

    @classmethod
    def from_bytes(cls, encoded_versioned_xcm: bytes, topic: bytes | None = None) -> SentMessage:
        """From the SCALE `VersionedXcm` exactly as the sender sent it (see `xcm_message_hash`)."""
        return cls(xcm_message_hash(encoded_versioned_xcm), topic)

    @classmethod
    def from_sent_event(cls, event: ChainEvent, topic: bytes | None = None) -> SentMessage:
        """From the origin's `XcmpQueue.XcmpMessageSent`: the hash after any version conversion by the sender."""
        if not event.is_("XcmpQueue", "XcmpMessageSent"):
            raise ValueError(f"not an XcmpMessageSent event: {event.pallet}.{event.name}")
        raw = _field(event.attributes, "message_hash", 0)
        if raw is None:  # Option<Hash> on older runtimes
            raise ValueError("the sender reported no message hash")
        return cls(_h256(raw), topic)

    @property
    def ids(self) -> frozenset[bytes]:
        return frozenset(i for i in (self.hash, self.topic) if i is not None)


class XcmStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True)
class Deposit:
    """A credit seen among the message's events: `asset` is None for the native balance, else the pallet's id."""

    pallet: str
    account: bytes
    amount: int
    asset: Any = None


@dataclass(frozen=True)
class TrappedAssets:
    """`PolkadotXcm.AssetsTrapped`: what was left in holding, and by whom (the trap is keyed by origin + assets)."""

    hash: bytes
    origin: Location | None  # as seen from the chain holding the assets; None when not modelled (see `raw_origin`)
    assets: tuple[Asset, ...]  # empty when the chain reported assets we do not model (see `raw`)
    raw: Any
    raw_origin: Any = None

    @property
    def local_account(self) -> bytes | None:
        """The account that trapped them when the origin is an account on this chain: it can claim them itself."""
        if self.origin is None:
            return None
        if self.origin.parents == 0 and len(self.origin.interior) == 1:
            (junction,) = self.origin.interior
            if isinstance(junction, AccountId32):
                return junction.id
            if isinstance(junction, AccountKey20):
                return junction.key
        return None

    def claim_call(
        self, beneficiary: Location, version: XcmVersion, names: VariantNames = DEFAULT_NAMES
    ) -> CallDescription:
        """`PolkadotXcm.claim_assets(assets, beneficiary)`, to be signed by `local_account` (it claims only the
        signer's own traps; runtimes before pallet-xcm added it, like the devnet's, lack it)."""
        return claim_assets_call(self.assets, beneficiary, version, names)

    def claim_program(self, beneficiary: Location, fees: Asset | None = None) -> Xcm:
        """The message the origin chain sends to this chain to claim them (`ClaimAsset`, pay, deposit)."""
        return claim_trapped(self.assets, beneficiary, fees)

    def describe(self) -> str:
        what = ", ".join(f"{a.amount} of {a.id}" for a in self.assets) or repr(self.raw)
        origin = self.origin if self.origin is not None else repr(self.raw_origin)
        account = self.local_account
        how = (
            f"sign PolkadotXcm.claim_assets(assets, beneficiary) with account 0x{account.hex()}"
            if account is not None
            else f"the origin {origin} sends [ClaimAsset(assets, Here), ClearOrigin, BuyExecution, DepositAsset]"
        )
        return f"trapped {what} (origin {origin}, trap 0x{self.hash.hex()}); to claim: {how}"


@dataclass(frozen=True)
class XcmOutcome:
    ids: frozenset[bytes]  # what the destination named the message by (hash, and topic/message id if reported)
    status: XcmStatus
    failure: XcmFailure | None
    deposits: tuple[Deposit, ...]
    trapped: tuple[TrappedAssets, ...]
    block_hash: str
    block_number: int
    events: tuple[ChainEvent, ...]  # the message's events, its outcome event last

    @property
    def succeeded(self) -> bool:
        return self.status is XcmStatus.SUCCESS

    def deposited_to(self, account: bytes) -> int:
        return sum(d.amount for d in self.deposits if d.account == account)


class XcmOutcomeTimeout(SubstrateTimeout):
    """No outcome for the message in the finalized blocks scanned; resume from `scanned_to`."""

    def __init__(self, message: SentMessage, scanned_to: int, timeout: float) -> None:
        super().__init__(
            f"no outcome for XCM 0x{message.hash.hex()} in finalized blocks up to {scanned_to} ({timeout}s)"
        )
        self.message = message
        self.scanned_to = scanned_to


class XcmTracker:
    """Watches one destination chain. One per thread (it uses the client's websocket)."""

    def __init__(self, client: SubstrateClient, *, poll_interval: float = 0.1) -> None:
        self.client = client
        self.poll_interval = poll_interval

    def finalized_number(self) -> int:
        return self.client.block_number(str(self.client.rpc("chain_getFinalizedHead", [])))

    def scan(self, first: int, last: int) -> list[XcmOutcome]:
        """Every XCM message outcome in blocks `first..last` (inclusive), in order."""
        found: list[XcmOutcome] = []
        for number in range(first, last + 1):
            block_hash = self.client.block_hash(number)
            found.extend(outcomes_in_block(self.client.events(block_hash), block_hash, number))
        return found

    def wait(self, message: SentMessage, *, after_block: int, timeout: float = 30.0) -> XcmOutcome:
        """The outcome of `message` in a finalized block after `after_block` (the destination's head before the
        message was sent); `XcmOutcomeTimeout` if none within `timeout` seconds."""
        return self.wait_all([message], after_block=after_block, timeout=timeout)[message]

    def wait_all(
        self, messages: Iterable[SentMessage], *, after_block: int, timeout: float = 30.0
    ) -> dict[SentMessage, XcmOutcome]:
        pending = {m: m.ids for m in messages}
        done: dict[SentMessage, XcmOutcome] = {}
        deadline = time.monotonic() + timeout
        scanned = after_block
        while True:
            finalized = self.finalized_number()
            for outcome in self.scan(scanned + 1, finalized):
                for message, ids in list(pending.items()):
                    if ids & outcome.ids:
                        done[message] = outcome
                        del pending[message]
            scanned = max(scanned, finalized)
            if not pending:
                return done
            if time.monotonic() >= deadline:
                raise XcmOutcomeTimeout(next(iter(pending)), scanned, timeout)
            time.sleep(self.poll_interval)


# -- reading a block's events (no I/O) -----------------------------------------------------------------------------


def outcomes_in_block(events: Iterable[ChainEvent], block_hash: str, block_number: int) -> list[XcmOutcome]:
    """Every message outcome in one block's events, each with the events of its own segment."""
    out: list[XcmOutcome] = []
    for segment in _segments(events):
        ids, status, failure = _read_outcome(segment)
        out.append(
            XcmOutcome(
                ids=ids,
                status=status,
                failure=failure,
                deposits=tuple(d for e in segment if (d := _deposit(e)) is not None),
                trapped=tuple(
                    t
                    for e in segment
                    if e.is_("PolkadotXcm", "AssetsTrapped") and (t := _trapped(e, block_number)) is not None
                ),
                block_hash=block_hash,
                block_number=block_number,
                events=tuple(segment),
            )
        )
    return out


_QUEUE_REFUSALS = {
    ("XcmpQueue", "BadVersion"): XcmErrorKind.BAD_VERSION,
    ("XcmpQueue", "BadFormat"): XcmErrorKind.BAD_FORMAT,
    ("DmpQueue", "InvalidFormat"): XcmErrorKind.BAD_FORMAT,
    ("DmpQueue", "UnsupportedVersion"): XcmErrorKind.BAD_VERSION,
}
# Each closes one message: the events before it (in its phase, since the previous one) are that message's.
_OUTCOME_EVENTS = {
    ("XcmpQueue", "Success"),
    ("XcmpQueue", "Fail"),
    ("DmpQueue", "ExecutedDownward"),
    ("MessageQueue", "Processed"),
    ("MessageQueue", "ProcessingFailed"),
    *_QUEUE_REFUSALS,
}


def _segments(events: Iterable[ChainEvent]) -> Iterator[list[ChainEvent]]:
    pending: dict[int | None, list[ChainEvent]] = {}
    for event in events:
        phase = pending.setdefault(event.extrinsic_index, [])
        phase.append(event)
        if (event.pallet, event.name) in _OUTCOME_EVENTS:
            yield list(phase)
            phase.clear()


def _read_outcome(segment: list[ChainEvent]) -> tuple[frozenset[bytes], XcmStatus, XcmFailure | None]:
    event = segment[-1]
    attrs = event.attributes
    match event.pallet, event.name:
        case ("XcmpQueue", "Success"):
            return _ids(attrs, "message_hash"), XcmStatus.SUCCESS, None
        case ("XcmpQueue", "Fail"):
            return _ids(attrs, "message_hash"), XcmStatus.FAILED, XcmFailure.from_value(_field(attrs, "error", 1))
        case key if key in _QUEUE_REFUSALS:  # the queue could not even decode or run it
            return _ids(attrs, "message_hash"), XcmStatus.FAILED, XcmFailure(_QUEUE_REFUSALS[key], event.name)
        case ("DmpQueue", "ExecutedDownward"):
            return _ids(attrs, "message_hash"), *_executor_outcome(_field(attrs, "outcome", 1))
        case ("MessageQueue", "ProcessingFailed"):
            return _ids(attrs, "id"), XcmStatus.FAILED, XcmFailure.from_value(attrs["error"])
        case _:  # MessageQueue.Processed: the reason, if any, is a PolkadotXcm.ProcessXcmError in the segment
            ids = _ids(attrs, "id")
            if attrs["success"]:
                return ids, XcmStatus.SUCCESS, None
            reasons = [
                e.attributes["error"]
                for e in segment
                if e.is_("PolkadotXcm", "ProcessXcmError") and _h256(e.attributes["message_id"]) in ids
            ]
            failure = XcmFailure.from_value(reasons[-1] if reasons else XcmErrorKind.UNREPORTED.value)
            return ids, XcmStatus.FAILED, failure


def _executor_outcome(value: Any) -> tuple[XcmStatus, XcmFailure | None]:
    """`Outcome`: V2 `Complete(w)`, `Incomplete(w, error)`, `Error(error)`; V3+ named fields (`{used, error}`);
    V5 wraps the error with the failing instruction's index (`{index, error}`)."""
    ((kind, detail),) = value.items()
    if kind == "Complete":
        return XcmStatus.SUCCESS, None
    error = detail[1] if isinstance(detail, tuple | list) else detail
    while isinstance(error, dict) and "error" in error:
        error = error["error"]
    return XcmStatus.FAILED, XcmFailure.from_value(error)


def _deposit(event: ChainEvent) -> Deposit | None:
    attrs = event.attributes
    match event.pallet, event.name:
        case ("Balances", "Deposit" | "Minted"):
            return Deposit(event.pallet, _account(attrs["who"]), int(attrs["amount"]))
        case ("Assets" | "ForeignAssets" | "PoolAssets", "Issued"):
            if isinstance(attrs, dict):  # `amount` on current runtimes, `total_supply` on older ones
                amount = attrs["amount"] if "amount" in attrs else attrs["total_supply"]
                asset, owner = attrs["asset_id"], attrs["owner"]
            else:
                asset, owner, amount = attrs
            return Deposit(event.pallet, _account(owner), int(amount), asset)
        case ("Tokens", "Deposited"):
            return Deposit(event.pallet, _account(attrs["who"]), int(attrs["amount"]), attrs["currency_id"])
    return None


def _trapped(event: ChainEvent, block_number: int) -> TrappedAssets | None:
    """The trap, with what we do not model left unparsed (and logged): anyone's trap, with any origin, may sit in
    the same block as a bridge message, and one we cannot read must not hide that message's outcome."""
    attrs = event.attributes
    try:
        trap_hash, origin, assets = (
            (attrs["hash"], attrs["origin"], attrs["assets"]) if isinstance(attrs, dict) else attrs
        )
        hash_ = _h256(trap_hash)
    except (KeyError, TypeError, ValueError) as exc:  # no trap we could name: the event stays in `events`
        log.warning("xcm_trap_unreadable", block=block_number, error=str(exc), attributes=repr(attrs)[:500])
        return None
    try:
        parsed_origin: Location | None = location_from_value(origin)
    except XcmDecodeError as exc:
        parsed_origin = None
        log.warning("xcm_trap_unparsed", block=block_number, trap=f"0x{hash_.hex()}", part="origin", error=str(exc))
    try:
        parsed = assets_from_value(versioned_parts(assets)[1])
    except XcmDecodeError as exc:
        parsed = ()
        log.warning("xcm_trap_unparsed", block=block_number, trap=f"0x{hash_.hex()}", part="assets", error=str(exc))
    return TrappedAssets(hash_, parsed_origin, parsed, assets, origin)


def _ids(attrs: Any, hash_field: str) -> frozenset[bytes]:
    """The ids an outcome event names its message by: the hash, and (newer XcmpQueue) the message id/topic."""
    if not isinstance(attrs, dict):
        raw = [attrs[0] if isinstance(attrs, tuple | list) else attrs]
    else:
        raw = [attrs.get(hash_field), attrs.get("message_id")]
    return frozenset(_h256(r) for r in raw if r is not None)


def _field(attrs: Any, name: str, position: int) -> Any:
    if isinstance(attrs, dict):
        return attrs[name]
    if isinstance(attrs, tuple | list):
        return attrs[position]
    return attrs


def _h256(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes.fromhex(str(value).removeprefix("0x"))


def _account(value: Any) -> bytes:
    """An account as decoded: an SS58 string in the runtime's prefix, or hex."""
    text = str(value)
    return bytes.fromhex(text[2:]) if text.startswith("0x") else bytes.fromhex(ss58_decode(text))
