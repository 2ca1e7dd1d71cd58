"""What an enclave checks before it signs anything that carries Phala deposits: its OWN watcher, reading the
finalized chain through its OWN endpoint with the same deterministic code every relayer runs, must have produced
exactly the same message (same nonce, sender, recipient, amounts, place on chain). A lying relayer cannot invent,
alter or renumber a deposit without t enclaves agreeing to the lie.

The view is kept in memory. With `checkpoints` (relayers.substrate.deposit_checkpoint) a restart resumes from the
last snapshot: the position and deposit count, and the blocks that held deposits with the count before each; a
deposit from before it is re-read from its one block when asked about. Without one, it is rebuilt from the start
block.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

import structlog

from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition, VerificationRefused
from relayers.substrate.chain import ChainReader
from relayers.substrate.config import PhalaConfig
from relayers.substrate.deposit_checkpoint import DepositBlock, DepositCheckpoints, DepositSnapshot
from relayers.substrate.errors import ChainInconsistent
from relayers.substrate.session import ClientSession
from relayers.substrate.watcher import PhalaWatcher

log = structlog.get_logger("substrate.source_verifier")

_MAX_CATCH_UP_POLLS = 10_000


class PhalaSourceVerifier:
    def __init__(
        self,
        config: PhalaConfig,
        *,
        session: ClientSession | None = None,
        checkpoints: DepositCheckpoints | None = None,
    ) -> None:
        self.config = config
        self.checkpoints = checkpoints
        self._watcher = PhalaWatcher(config, session=session)
        self._position: ChainPosition | None = None
        self._seen: dict[str, BridgeMessage] = {}
        self._blocks: dict[int, DepositBlock] = {}  # every block known to hold deposits, with the count before it
        self._restored_to = -1  # blocks up to here were not read by this process (a resume): read on demand
        self._reread: set[int] = set()
        self._resume_tried = False
        self._reading = asyncio.Lock()  # the background follower and a signing session both catch up

    @property
    def position(self) -> ChainPosition | None:
        return self._position

    def snapshot(self) -> DepositSnapshot | None:
        if self._position is None:
            return None
        blocks = tuple(self._blocks[n] for n in sorted(self._blocks))
        config = self.config
        return DepositSnapshot(config.bridge_account, config.start_block, self._position, blocks, config.min_deposit)

    def restore(self, snap: DepositSnapshot) -> None:
        self._position = snap.position
        self._blocks = {b.number: b for b in snap.blocks}
        self._seen.clear()
        self._reread.clear()
        self._restored_to = snap.position.block_number

    def save_checkpoint(self) -> bool:
        """Save a snapshot now (clean shutdown), if checkpoints are attached and something was read."""
        return self.checkpoints is not None and self.checkpoints.save(self)

    async def catch_up(self) -> ChainPosition | None:
        """Read every finalized block not read yet."""
        async with self._reading:
            return await self._catch_up()

    async def _catch_up(self) -> ChainPosition | None:
        checkpoints = self.checkpoints
        if self._position is None and checkpoints is not None and not self._resume_tried:
            self._resume_tried = True
            await self._watcher.session.run(lambda r: checkpoints.resume(self, r, r.finalized_head()))
        for _ in range(_MAX_CATCH_UP_POLLS):
            result = await self._watcher.poll(self._position)
            if result.reorg_from is not None:  # re-read from there: what was known above it is void
                self._blocks = {n: b for n, b in self._blocks.items() if n < result.reorg_from}
            for m in result.messages:
                self._note(m)
            moved = self._position is None or result.position.block_number != self._position.block_number
            self._position = result.position
            if not moved or result.position.block_number >= result.head:
                break
        if checkpoints is not None:
            await asyncio.to_thread(checkpoints.scanned, self)
        return self._position

    def _note(self, m: BridgeMessage) -> None:
        self._seen[m.id_hex] = m
        number, before = m.source.block_number, m.nonce - 1
        known = self._blocks.get(number)
        if known is None or before < known.before:
            self._blocks[number] = DepositBlock(number, "0x" + m.source.block_hash.hex(), before)

    async def _read_restored(self, numbers: set[int]) -> None:
        """Re-read the blocks, known from the snapshot to hold deposits, that this process has not read."""
        for number in sorted(numbers):
            entry = self._blocks.get(number)
            if entry is None or number > self._restored_to or number in self._reread:
                continue
            found = await self._watcher.session.run(functools.partial(self._read_one, entry=entry))
            for m in found:
                self._seen[m.id_hex] = m
            self._reread.add(number)

    def _read_one(self, reader: ChainReader, entry: DepositBlock) -> list[BridgeMessage]:
        parent = reader.block_hash(entry.number - 1)
        if parent is None:
            raise ChainInconsistent(f"the node has no block {entry.number - 1}")
        prev = ChainPosition(entry.number - 1, parent, entry.before)
        messages, _, position = self._watcher.read_block(reader, entry.number, prev)
        if position.block_hash != entry.hash:
            raise ChainInconsistent(f"block {entry.number} is {position.block_hash}, the snapshot had {entry.hash}")
        return messages

    def known(self, above: int, below: int) -> list[BridgeMessage]:
        """The deposits this view has read (final), with `above` < nonce < `below`, lowest first. Deposits from
        before a resumed snapshot are not listed (they are read back only when asked about)."""
        return sorted((m for m in self._seen.values() if above < m.nonce < below), key=lambda m: m.nonce)

    async def check_messages(self, messages: Sequence[BridgeMessage]) -> None:
        ours = [m for m in messages if m.source_domain == self.config.domain]
        if not ours:
            return
        if any(m.id_hex not in self._seen for m in ours):
            await self.catch_up()
        missing = {m.source.block_number for m in ours if m.id_hex not in self._seen}
        if missing:
            async with self._reading:
                await self._read_restored(missing)
        for m in ours:
            seen = self._seen.get(m.id_hex)
            if seen is None:
                raise VerificationRefused(
                    "absent",
                    f"message {m.id_hex}: no such deposit in this member's finalized view of {self.config.name}",
                )
            if seen != m:
                fields = sorted(k for k in type(m).model_fields if getattr(m, k) != getattr(seen, k))
                raise VerificationRefused(
                    "mismatch", f"message {m.id_hex}: differs from the chain in {', '.join(fields)}"
                )

    def close(self) -> None:
        self._watcher.close()


__all__ = ["PhalaSourceVerifier"]
