"""Executed-index checkpoints: a restart resumes from the last snapshot instead of re-scanning from the first block.

On its first sync an index with checkpoints loads its snapshot and takes it only if it is of this config (bridge
account, start block) and the node's finalized chain has the snapshot's block hash at its number; anything else
(no snapshot, unreadable, another chain, a fork, a node that does not have the block yet) is logged as
`index_checkpoint_fallback` with the reason and the index scans from `index_start_block` as before: nothing is lost,
only time. While it scans it saves a new snapshot every `every_blocks` blocks or `every_seconds` seconds, whichever
comes first, and the owner saves once more on a clean shutdown (`ExecutedIndex.save_checkpoint`).

Where snapshots are kept is the owner's choice (`CheckpointStore`): the relayer's SQL store, the enclave's sealed
files. A store that fails is logged and skipped: checkpoints only save time, the chain stays the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import structlog

from bridge.ports import ChainPosition
from relayers.substrate.index_snapshot import SnapshotError, decode_snapshot, encode_snapshot

if TYPE_CHECKING:
    from relayers.substrate.executed_index import ExecutedIndex

log = structlog.get_logger("substrate.index")
V = TypeVar("V")


class BlockHashes(Protocol):
    """The one read a resume needs: the node's (finalized) block hash at a height (`ChainReader` has it)."""

    def block_hash(self, number: int) -> str | None: ...


class CheckpointStore(Protocol):
    """Named opaque blobs, each replaced atomically."""

    def load_checkpoint(self, name: str) -> bytes | None: ...
    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None: ...


@dataclass(frozen=True)
class CheckpointPolicy:
    every_blocks: int = 1_000
    every_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.every_blocks < 1 or self.every_seconds <= 0:
            raise ValueError("checkpoint intervals must be positive")


class OtherConfig(Exception):
    """The snapshot was made for another configuration of the view (bridge account, start block)."""


@dataclass(frozen=True)
class Loaded:
    """A decoded snapshot, not applied yet: where it stands, how to apply it, what to log about it."""

    position: ChainPosition
    apply: Callable[[], None]
    summary: dict[str, int]


class ViewCheckpoints(Generic[V]):
    """Resume-or-fallback and periodic saves for one chain view; subclasses say how a view is encoded and decoded
    (and may name their log events: an operator greps for the view, not for the machinery)."""

    log = log
    resumed_event = "index_resumed"
    fallback_event = "index_checkpoint_fallback"
    saved_event = "index_checkpoint_saved"
    save_failed_event = "index_checkpoint_save_failed"

    def __init__(
        self,
        store: CheckpointStore,
        name: str,
        policy: CheckpointPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name = name
        self.policy = policy or CheckpointPolicy()
        self.clock = clock
        self._saved_block: int | None = None  # the block of the last snapshot saved or loaded
        self._saved_at = clock()
        self.resumed_from: ChainPosition | None = None  # where the last resume started (None: a full scan)

    # -- what a subclass provides ------------------------------------------------------------------------------------

    def position(self, view: V) -> ChainPosition | None:
        raise NotImplementedError

    def encode(self, view: V) -> bytes | None:
        """The view's snapshot (None before it has read anything)."""
        raise NotImplementedError

    def decode(self, view: V, data: bytes) -> Loaded:
        """Raises `SnapshotError` (malformed) or `OtherConfig`."""
        raise NotImplementedError

    # -- the same for every view -------------------------------------------------------------------------------------

    def resume(self, view: V, reader: BlockHashes, head: ChainPosition) -> bool:
        """Restore `view` from its snapshot when the snapshot is on this chain; False (logged) when not."""
        self.resumed_from = None
        try:
            data = self.store.load_checkpoint(self.name)
        except Exception as exc:  # any store failure: a full scan is always possible
            return self._fallback("unreadable", f"{type(exc).__name__}: {exc}")
        if data is None:
            return self._fallback("none", "no snapshot saved yet")
        try:
            loaded = self.decode(view, data)
        except SnapshotError as exc:
            return self._fallback("malformed", str(exc))
        except OtherConfig as exc:
            return self._fallback("other_config", str(exc))
        at = loaded.position
        if at.block_number > head.block_number:
            return self._fallback("ahead_of_node", f"block {at.block_number} is above the finalized head")
        on_chain = reader.block_hash(at.block_number)
        if on_chain is None:
            return self._fallback("block_unknown", f"the node has no block {at.block_number}")
        if on_chain.lower() != at.block_hash.lower():
            return self._fallback("hash_mismatch", f"block {at.block_number} is {on_chain}, not {at.block_hash}")
        loaded.apply()
        self._saved_block, self._saved_at = at.block_number, self.clock()
        self.resumed_from = at
        self.log.info(
            self.resumed_event,
            checkpoint=self.name,
            block=at.block_number,
            block_hash=at.block_hash,
            behind=head.block_number - at.block_number,
            **loaded.summary,
        )
        return True

    def scanned(self, view: V) -> None:
        """After a scan step: save when the policy says so."""
        at = self.position(view)
        if at is None or at.block_number == self._saved_block:
            return
        due_blocks = self._saved_block is None or at.block_number - self._saved_block >= self.policy.every_blocks
        if due_blocks or self.clock() - self._saved_at >= self.policy.every_seconds:
            self.save(view)

    def save(self, view: V) -> bool:
        at = self.position(view)
        started = time.perf_counter()
        try:
            data = self.encode(view)
            if data is None or at is None:
                return False
            self.store.save_checkpoint(self.name, data, at.block_number)
        except Exception as exc:  # the view goes on without it; the next save tries again
            self.log.warning(self.save_failed_event, checkpoint=self.name, error=f"{type(exc).__name__}: {exc}")
            self._saved_at = self.clock()
            return False
        self._saved_block, self._saved_at = at.block_number, self.clock()
        self.log.info(
            self.saved_event,
            checkpoint=self.name,
            block=at.block_number,
            size=len(data),
            ms=round((time.perf_counter() - started) * 1e3, 1),
        )
        return True

    def _fallback(self, reason: str, detail: str) -> bool:
        log_ = self.log.info if reason == "none" else self.log.warning
        log_(self.fallback_event, checkpoint=self.name, reason=reason, detail=detail, action="full_scan")
        return False


class IndexCheckpoints(ViewCheckpoints["ExecutedIndex"]):
    """Checkpoints of an `ExecutedIndex` (relayers.substrate.index_snapshot encodes them)."""

    def position(self, view: ExecutedIndex) -> ChainPosition | None:
        return view.scanned

    def encode(self, view: ExecutedIndex) -> bytes | None:
        snap = view.snapshot()
        return None if snap is None else encode_snapshot(snap)

    def decode(self, view: ExecutedIndex, data: bytes) -> Loaded:
        snap = decode_snapshot(data)
        config = view.config
        if snap.bridge_account != config.bridge_account or snap.index_start_block != config.index_start_block:
            raise OtherConfig("the snapshot is of another bridge account or index start block")
        summary = {"executed": len(snap.executed), "extrinsics": len(snap.extrinsics), "noted": len(snap.noted)}
        return Loaded(snap.scanned, lambda: view.restore(snap), summary)


__all__ = [
    "BlockHashes",
    "CheckpointPolicy",
    "CheckpointStore",
    "IndexCheckpoints",
    "Loaded",
    "OtherConfig",
    "ViewCheckpoints",
]
