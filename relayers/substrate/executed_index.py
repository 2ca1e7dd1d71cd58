"""Which Ethereum -> Phala messages the bridge account has executed, read from the chain itself.

Every execution is one extrinsic signed by the bridge account: `batch_all([transfers..., remark_with_event(record)])`
where the record lists the executed message ids. The index scans finalized blocks from `index_start_block` on,
incrementally; it keeps the ids of successful executions, and every bridge extrinsic (success or failure, with its
nonce and ids) so `confirm` can tell what happened to a submitted batch. Bridge extrinsics are spotted from their
signer prefix, so only those few are decoded. Held in memory; with `checkpoints` attached
(relayers.substrate.index_checkpoint) a restart resumes from the last snapshot saved instead of re-scanning from
`index_start_block`.

A refund batch (bridge/refunds.py) is indexed the same way: its executed record settles the refunded ids (they are
in `executed_among`, never paid afterwards), and its refund note says which they are (`refunded_among`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bridge.intents import IntentError, decode_executed, is_executed_record
from bridge.ports import ChainPosition
from bridge.refunds import Refund, settled_refunds
from relayers.substrate.bridge_calls import parse_batch
from relayers.substrate.chain import ChainReader, RawBlock
from relayers.substrate.config import PhalaConfig
from relayers.substrate.errors import ChainInconsistent
from relayers.substrate.events import ChainEvent
from relayers.substrate.scale import blake2_256, signed_extrinsic_signer

if TYPE_CHECKING:
    from relayers.substrate.index_checkpoint import IndexCheckpoints

log = structlog.get_logger("substrate.index")


@dataclass(frozen=True)
class BridgeExtrinsic:
    block_number: int
    block_hash: str
    index: int
    hash: str
    nonce: int
    ids: tuple[str, ...]  # from its executed record; () when it carries none
    failure: str | None  # the runtime's reason when the extrinsic failed (nothing in it happened)
    notes: tuple[bytes, ...] = ()  # confidential-call records and outputs notes, in order

    @property
    def succeeded(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class IndexSnapshot:
    """Everything an `ExecutedIndex` knows, at `scanned`, and what it was built for (the bridge account and the
    first block): restoring it gives the same index a scan from `index_start_block` to `scanned` would.
    Encoded by relayers.substrate.index_snapshot."""

    bridge_account: bytes
    index_start_block: int
    scanned: ChainPosition
    executed: tuple[tuple[str, str], ...]  # (message id, extrinsic hash), in the order first seen
    extrinsics: tuple[BridgeExtrinsic, ...]  # the remembered ones, oldest first
    noted: tuple[BridgeExtrinsic, ...]  # successful extrinsics with notes, in chain order


class ExecutedIndex:
    def __init__(
        self,
        config: PhalaConfig,
        *,
        remember_extrinsics: int = 10_000,
        checkpoints: IndexCheckpoints | None = None,
    ) -> None:
        self.config = config
        self.checkpoints = checkpoints
        self._scanned: ChainPosition | None = None
        self._executed: dict[str, str] = {}  # message id -> hash of the extrinsic that executed it
        self._extrinsics: OrderedDict[str, BridgeExtrinsic] = OrderedDict()
        self._remember = remember_extrinsics
        self._noted: list[BridgeExtrinsic] = []  # successful extrinsics with notes, in chain order (not bounded)
        self._refunds: dict[str, Refund] = {}  # refunded deposit id -> its refund (from the noted extrinsics)
        # sync runs on a session's worker thread; a shutdown save runs elsewhere: a snapshot must never see a
        # half-indexed block.
        self._lock = threading.RLock()

    @property
    def scanned(self) -> ChainPosition | None:
        return self._scanned

    def executed_among(self, ids: Iterable[str]) -> frozenset[str]:
        return frozenset(i for i in ids if i in self._executed)

    def refunded_among(self, ids: Iterable[str]) -> dict[str, Refund]:
        """The refunds of those of `ids` the bridge account settled with a refund (they are `executed_among` too:
        settled for good on Phala, never paid there)."""
        return {i: r for i in ids if (r := self._refunds.get(i.lower())) is not None}

    def executed_by(self, message_id: str) -> str | None:
        """The hash of the extrinsic that executed `message_id`, if the index has seen it."""
        return self._executed.get(message_id.lower())

    def noted(self) -> list[BridgeExtrinsic]:
        """Successful bridge extrinsics that carry notes (confidential-call records and outputs), in chain order."""
        return list(self._noted)

    def noted_since(self, start: int) -> list[BridgeExtrinsic]:
        """`noted()[start:]` without copying the rest (the confidential engine's view reads only what is new)."""
        return self._noted[start:]

    def noted_count(self) -> int:
        return len(self._noted)

    def extrinsic(self, tx_hash: str) -> BridgeExtrinsic | None:
        return self._extrinsics.get(tx_hash.lower())

    def snapshot(self) -> IndexSnapshot | None:
        """What the index holds now (None before its first sync)."""
        with self._lock:
            if self._scanned is None:
                return None
            return IndexSnapshot(
                bridge_account=self.config.bridge_account,
                index_start_block=self.config.index_start_block,
                scanned=ChainPosition(self._scanned.block_number, self._scanned.block_hash),
                executed=tuple(self._executed.items()),
                extrinsics=tuple(self._extrinsics.values()),
                noted=tuple(self._noted),
            )

    def restore(self, snapshot: IndexSnapshot) -> None:
        """Replace everything with `snapshot` (checked by the caller to be of this config and this chain)."""
        if (snapshot.bridge_account, snapshot.index_start_block) != (
            self.config.bridge_account,
            self.config.index_start_block,
        ):
            raise ValueError("the snapshot is of another bridge account or start block")
        with self._lock:
            self._scanned = snapshot.scanned
            self._executed = dict(snapshot.executed)
            self._extrinsics = OrderedDict((e.hash, e) for e in snapshot.extrinsics)
            while len(self._extrinsics) > self._remember:  # a snapshot from a build that remembered more
                self._extrinsics.popitem(last=False)
            self._noted = list(snapshot.noted)
            self._refunds = {}
            for e in self._noted:
                self._learn_refunds(e)

    def save_checkpoint(self, *, wait: float = 5.0) -> bool:
        """Save a snapshot now (clean shutdown), if checkpoints are attached and something was scanned. A sync step
        still running after `wait` seconds wins: the periodic saves bound what is lost to one interval."""
        if self.checkpoints is None or not self._lock.acquire(timeout=wait):
            return False
        try:
            return self.checkpoints.save(self)
        finally:
            self._lock.release()

    def sync(self, reader: ChainReader, to: ChainPosition, *, max_blocks: int = 2_000) -> bool:
        """Scan finalized blocks up to `to` (at most `max_blocks` now); True once the index has reached `to`."""
        with self._lock:
            if self._scanned is None and self.checkpoints is not None:
                self.checkpoints.resume(self, reader, to)
            done = self._scan(reader, to, max_blocks)
            if self.checkpoints is not None:
                self.checkpoints.scanned(self)
            return done

    def _scan(self, reader: ChainReader, to: ChainPosition, max_blocks: int) -> bool:
        if self._scanned is None:
            start = max(self.config.index_start_block, 1)
            prev = reader.block_hash(start - 1)
            if prev is None:
                raise ChainInconsistent(f"the node has no block {start - 1}")
            self._scanned = ChainPosition(start - 1, prev)
        last = min(to.block_number, self._scanned.block_number + max_blocks)
        for number in range(self._scanned.block_number + 1, last + 1):
            block_hash = to.block_hash if number == to.block_number else reader.block_hash(number)
            if block_hash is None:
                raise ChainInconsistent(f"the node has no block {number}")
            block = reader.block(block_hash)
            if block.parent_hash != self._scanned.block_hash:
                # Finalized blocks never change; this is a node serving another chain (or a broken one).
                raise ChainInconsistent(f"block {number}'s parent is {block.parent_hash}, not the one indexed")
            self._index_block(reader, block)
            self._scanned = ChainPosition(number, block_hash)
        return self._scanned.block_number >= to.block_number

    def _index_block(self, reader: ChainReader, block: RawBlock) -> None:
        mine = [
            i for i, raw in enumerate(block.extrinsics) if signed_extrinsic_signer(raw) == self.config.bridge_account
        ]
        if not mine:
            return
        events = reader.events(block.hash)
        indices = reader.runtime_facts(block.hash).indices
        for index in mine:
            raw = block.extrinsics[index]
            decoded = reader.decode_signed(raw, block.hash)
            if decoded is None:
                continue
            batch = parse_batch(indices, decoded.call)
            ids: tuple[str, ...] = ()
            if batch is not None and is_executed_record(batch.remark):
                try:
                    ids = tuple("0x" + i.hex() for i in decode_executed(batch.remark))
                except IntentError as exc:
                    log.error("bridge_record_malformed", block=block.number, extrinsic=index, error=str(exc))
            failure = self._failure(reader, events, index)
            record = BridgeExtrinsic(
                block.number, block.hash, index, "0x" + blake2_256(raw).hex(), decoded.nonce, ids, failure,
                batch.notes if batch is not None else (),
            )  # fmt: skip
            self._add(record)
            if batch is not None and failure is None and not batch.notes and len(batch.transfers) != len(ids):
                log.warning("bridge_record_mismatch", block=block.number, transfers=len(batch.transfers), ids=len(ids))

    def _learn_refunds(self, record: BridgeExtrinsic) -> None:
        refunds, errors = settled_refunds(record.notes, record.ids)
        for error in errors:
            log.error("refund_note_malformed", tx=record.hash, error=error)
        for r in refunds:
            self._refunds.setdefault(r.deposit_id, r)

    @staticmethod
    def _failure(reader: ChainReader, events: list[ChainEvent], index: int) -> str | None:
        for e in events:
            if e.extrinsic_index == index and e.is_("System", "ExtrinsicFailed"):
                return str(reader.dispatch_failure(e.attributes["dispatch_error"]))
        return None

    def _add(self, record: BridgeExtrinsic) -> None:
        self._extrinsics[record.hash] = record
        while len(self._extrinsics) > self._remember:
            self._extrinsics.popitem(last=False)
        if record.succeeded:
            for i in record.ids:
                self._executed.setdefault(i, record.hash)
            if record.notes:
                self._noted.append(record)
                self._learn_refunds(record)
        log.info(
            "bridge_extrinsic_indexed",
            block=record.block_number,
            extrinsic=record.index,
            tx=record.hash,
            nonce=record.nonce,
            ids=len(record.ids),
            failure=record.failure,
        )


__all__ = ["BridgeExtrinsic", "ExecutedIndex", "IndexSnapshot"]
