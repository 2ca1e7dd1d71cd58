"""The seams between the relayer pipeline and the outside world, as Protocols (no implementations here).

Chain adapters (`relayers.ethereum`, `relayers.substrate`) implement `SourceWatcher` and `Destination`; the committee
client implements `BatchSigner`. The pipeline (`relayers.daemon`) only knows these shapes, so a unit test can drive
it with in-memory fakes and the devnet tests drive it with the real thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bridge.messages import BridgeMessage


@dataclass(frozen=True)
class ChainPosition:
    """How far a watcher has read: the last finalized block it fully processed.

    `sequence` counts the source messages up to and including that block, for chains whose message nonces are
    assigned by counting (Phala deposits are numbered 1, 2, 3... from the bridge's start block, so that the
    Ethereum contract's nonce bitmap stays dense: one storage word per 256 messages)."""

    block_number: int
    block_hash: str
    sequence: int = 0


@dataclass(frozen=True)
class Rejection:
    """Funds that reached the bridge in a form it cannot carry (e.g. a transfer without a valid intent): never a
    message, but recorded so an operator can see and return them."""

    block_number: int
    block_hash: str
    extrinsic_index: int  # the extrinsic (Substrate) or log (Ethereum) index
    extrinsic_hash: str  # the extrinsic or transaction hash
    sender: bytes | None
    amount: int
    reason: str


@dataclass(frozen=True)
class WatchResult:
    messages: Sequence[BridgeMessage]
    position: ChainPosition  # persist after the messages: a crash between the two re-reads blocks (ids dedupe)
    head: int  # the chain's current head, for lag metrics
    reorg_from: int | None = None  # set when the watcher rewound past a replaced block
    rejected: Sequence[Rejection] = ()


class SourceWatcher(Protocol):
    name: str
    domain: int

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        """Messages in finalized blocks after `after` (at most a bounded range per call)."""
        ...


@dataclass(frozen=True)
class SigningRequest:
    """What the committee signs for one batch on one destination, plus what each member needs to rebuild it."""

    destination: int
    message_ids: tuple[str, ...]
    payload: bytes  # the exact bytes to sign (a digest for Ethereum, the extrinsic signing payload for Phala)
    context: dict[str, str | int] = field(default_factory=dict)  # e.g. key epoch, account nonce, era block


@dataclass(frozen=True)
class Confirmation:
    executed: frozenset[str] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)  # id -> reason recorded by the destination
    pending: bool = False  # not final yet: ask again later
    dropped: bool = False  # the transaction is gone (replaced, reorged out): the messages go back to verified


class Destination(Protocol):
    name: str
    domain: int
    # Batches the pipeline may have submitted and unconfirmed at once; None for no limit. A destination whose
    # batches all spend one account nonce (Phala: the bridge account pays at its finalized nonce) says 1: a second
    # batch prepared meanwhile would carry the same nonce and be dropped or refused.
    max_in_flight: int | None

    @property
    def handed_over_at(self) -> float | None:
        """When the last signed transaction was handed to the node (the submit request written), on the pipeline's
        clock; None when the destination cannot tell. The overhead target ends there: what the node spends before
        it answers `submit` is the chain's time (docs/decisions.md, "Relayer overhead")."""
        ...

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        """Ids the destination chain already records as executed: the final word."""
        ...

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest: ...

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        """Send the signed batch; returns the transaction hash."""
        ...

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation: ...

    def gas_of(self, message: BridgeMessage) -> int: ...


@runtime_checkable
class RefundingDestination(Protocol):
    """A destination that settles some messages it refuses for good with a refund to the source (Phala: refused
    Ethereum deposits, bridge/refunds.py). Those are not `already_executed`: they end `failed`, with where the
    tokens went back."""

    async def refunded(self, messages: Sequence[BridgeMessage]) -> dict[str, str]:
        """id -> how it was refunded, for those of `messages` already settled with a refund."""
        ...


class BatchNotExecutable(Exception):
    """`prepare` found nothing it can send: `refused` (id -> reason) can never execute, `executed` already did,
    `deferred` may later (e.g. the bridge account lacks liquidity)."""

    def __init__(
        self, refused: dict[str, str], executed: frozenset[str] = frozenset(), deferred: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(
            f"nothing to execute: {len(refused)} refused, {len(executed)} executed, {len(deferred)} deferred"
        )
        self.refused = dict(refused)
        self.executed = executed
        self.deferred = deferred


class VerificationRefused(Exception):
    """An independent verifier (in an enclave) will not vouch for a batch. `code` is a stable metric label
    ([a-z0-9_]), `reason` a sentence for the leader's log; neither ever carries key material."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class SigningRefused(Exception):
    """The committee would not sign (members' independent checks failed); carries the reason."""


class SigningUnavailable(Exception):
    """Not enough members answered in time; retry later."""


class BatchSigner(Protocol):
    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes: ...
