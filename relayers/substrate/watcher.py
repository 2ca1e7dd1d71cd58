"""The Phala source watcher: finalized blocks after the cursor -> deposit messages (and rejected deposits).

Each poll reads at most `max_blocks_per_poll` finalized blocks. Before reading on, it checks that the cursor's block
is still the chain's block at that height, and every block's parent is the block read before it; a cursor whose
block was replaced (a reorg, or a node on another chain) rewinds to the last block this watcher knows is still
canonical (else from the start block: the deposit count must be rebuilt), and re-scans (`reorg_from`).

Deposits are numbered 1, 2, 3... in chain order from `start_block` (`ChainPosition.sequence` carries the count), so
every node and every enclave that scans the same finalized chain from the same start block assigns the same nonce:
`start_block` is a deployment constant, the same for the whole committee. The store ignores ids it already has,
so a re-scan never duplicates.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import structlog

from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition, WatchResult
from relayers.heads import SUBSTRATE_FINALIZED_HEADS, HeadNotifier
from relayers.substrate.chain import ChainReader, SignedExtrinsic
from relayers.substrate.config import PhalaConfig
from relayers.substrate.deposits import RejectedDeposit, arrivals, recognize
from relayers.substrate.errors import ChainInconsistent
from relayers.substrate.session import ClientSession

log = structlog.get_logger("substrate.watcher")


@dataclass(frozen=True)
class PhalaWatchResult(WatchResult):
    """Kept for callers that name it; `WatchResult.rejected` carries the funds that arrived without a valid intent."""


class PhalaWatcher:
    """`SourceWatcher` for Phala."""

    def __init__(self, config: PhalaConfig, *, session: ClientSession | None = None) -> None:
        self.config = config
        self.name = config.name
        self.domain = config.domain
        self.session = session or ClientSession(config.url, timeout=config.rpc_timeout, para_id=config.para_id)
        self._recent: OrderedDict[int, ChainPosition] = OrderedDict()  # blocks this watcher read, by number
        # Finalized heads wake the pipeline's observe loop (run by the pipeline; a hint: every poll reads the
        # chain). Unused when the watcher is polled by other code (an enclave's source check, the client).
        self.heads = HeadNotifier(config.url, SUBSTRATE_FINALIZED_HEADS, name=config.name)

    async def poll(self, after: ChainPosition | None) -> PhalaWatchResult:
        return await self.session.run(lambda reader: self._poll(reader, after))

    def close(self) -> None:
        self.session.close()

    # -- on the session's thread -----------------------------------------------------------------------------------

    def _poll(self, reader: ChainReader, after: ChainPosition | None) -> PhalaWatchResult:
        head = reader.finalized_head()
        reorg_from: int | None = None
        if after is None:
            position = self._origin(reader)
        elif after.block_number > head.block_number:
            return PhalaWatchResult([], after, head.block_number)  # this node lags the cursor; nothing final yet
        elif reader.block_hash(after.block_number) != after.block_hash:
            position = self._rewind(reader, after)
            reorg_from = position.block_number + 1
            log.warning("watcher_rewound", chain=self.name, cursor=after.block_number, rescan_from=reorg_from)
        else:
            position = after
        messages: list[BridgeMessage] = []
        rejected: list[RejectedDeposit] = []
        last = min(head.block_number, position.block_number + self.config.max_blocks_per_poll)
        for number in range(position.block_number + 1, last + 1):
            try:
                found, refused, position = self._read_block(reader, number, position)
            except ChainInconsistent as exc:
                log.warning("watcher_chain_inconsistent", chain=self.name, block=number, error=str(exc))
                break  # keep what was read; the next poll checks the cursor again
            messages.extend(found)
            rejected.extend(refused)
        return PhalaWatchResult(messages, position, head.block_number, reorg_from, rejected)

    def read_block(
        self, reader: ChainReader, number: int, prev: ChainPosition
    ) -> tuple[list[BridgeMessage], list[RejectedDeposit], ChainPosition]:
        """One block's deposits, numbered on from `prev.sequence` (`prev` is its parent): what a scan reaching this
        block would give. An enclave resumed from a checkpoint re-reads an old deposit's block this way."""
        return self._read_block(reader, number, prev)

    def _read_block(
        self, reader: ChainReader, number: int, prev: ChainPosition
    ) -> tuple[list[BridgeMessage], list[RejectedDeposit], ChainPosition]:
        block_hash = _require(reader.block_hash(number), number)
        block = reader.block(block_hash)
        first_nonce = prev.sequence + 1
        if block.parent_hash != prev.block_hash:
            raise ChainInconsistent(f"block {number}'s parent is {block.parent_hash}, not {prev.block_hash}")
        events = reader.events(block_hash)
        candidates = arrivals(events, self.config.bridge_account)
        messages: list[BridgeMessage] = []
        rejected: list[RejectedDeposit] = []
        if candidates:
            decoded: dict[int, SignedExtrinsic | None] = {
                i: reader.decode_signed(block.extrinsics[i], block_hash) if i < len(block.extrinsics) else None
                for i in candidates
            }
            indices = reader.runtime_facts(block_hash).indices
            messages, rejected = recognize(block, events, decoded, self.config, indices, first_nonce)
        for m in messages:
            log.info(
                "deposit_observed",
                chain=self.name,
                message_id=m.id_hex,
                block=number,
                extrinsic=m.source.index,
                dest_domain=m.dest_domain,
                source_amount=m.source_amount,
            )
        for r in rejected:
            log.warning(
                "deposit_rejected",
                chain=self.name,
                block=number,
                extrinsic=r.extrinsic_index,
                extrinsic_hash=r.extrinsic_hash,
                sender="0x" + r.sender.hex() if r.sender else None,
                amount=r.amount,
                reason=r.reason,
            )
        position = ChainPosition(number, block_hash, prev.sequence + len(messages))
        self._remember(position)
        return messages, rejected, position

    def _remember(self, position: ChainPosition) -> None:
        self._recent[position.block_number] = position
        while len(self._recent) > self.config.rewind_depth:
            self._recent.popitem(last=False)

    def _origin(self, reader: ChainReader) -> ChainPosition:
        start = max(self.config.start_block, 1)  # the genesis block holds no extrinsics
        return ChainPosition(start - 1, _require(reader.block_hash(start - 1), start - 1), 0)

    def _rewind(self, reader: ChainReader, after: ChainPosition) -> ChainPosition:
        # The newest block this watcher read that is still canonical (its deposit count is known). Beyond that the
        # count is unknown, so the scan restarts from the start block: finalized blocks do not reorg on a GRANDPA
        # chain, so this is a defence for a misconfigured or lying node, not a routine path.
        for number in sorted((n for n in self._recent if n < after.block_number), reverse=True):
            if reader.block_hash(number) == self._recent[number].block_hash:
                return self._recent[number]
        self._recent.clear()
        return self._origin(reader)


def _require(block_hash: str | None, number: int) -> str:
    if block_hash is None:
        raise ChainInconsistent(f"the node has no block {number}")
    return block_hash


__all__ = ["PhalaWatchResult", "PhalaWatcher"]
