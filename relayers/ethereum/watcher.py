"""The Ethereum source watcher: final blocks after the cursor -> Deposit and MessageSent messages.

Final = at most `head - confirmations`, or the node's `finalized` block with `finality="finalized"`. Each poll reads
at most `max_block_range` final blocks after the cursor:

1. The cursor's block must still be the chain's block at that height; if not (a reorg deeper than the confirmation
   depth, or a node on another chain), rewind to the newest block this watcher read that is still canonical (or
   `rewind_depth` blocks back) and re-scan from there (`reorg_from`).
2. The range's headers are read in one JSON-RPC batch and must chain by parent hash from the cursor; the bridge's
   logs of the range come from one `eth_getLogs`, and each must sit in the block whose header was read. The last
   header is read again after the logs: if the chain moved meanwhile, nothing is passed on and the next poll retries.
3. Each log is decoded strictly (logs.py): a message, a `Rejection` (tokens locked without a deliverable message), or
   skipped with a logged reason. Never an exception for a bad log.

Message ids depend only on (source domain, bridge nonce), so a re-scan never duplicates; a deposit re-included in
another block after a reorg keeps its nonce, hence its id. The hand-off after a rewind (`reorg_from`) is the
pipeline's (relayers/daemon/pipeline.py, `observe_once`): a message handed over again with another body (another
block or transaction, or another deposit that took the nonce) replaces the stored one while it is not signed yet
(`SqlStore.record_observed`), and the unsigned messages of blocks at or after `reorg_from` that the re-scan does not
hand over again are set aside until it does (`SqlStore.set_aside_after_reorg`).
"""

from __future__ import annotations

from collections import OrderedDict

import structlog

from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition, Rejection, WatchResult
from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.errors import ChainInconsistent
from relayers.ethereum.logs import SOURCE_TOPICS, Skipped, decode_source_log
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import Header
from relayers.heads import ETHEREUM_NEW_HEADS, HeadNotifier, ws_url_of

log = structlog.get_logger("ethereum.watcher")


class EthereumWatcher:
    """`SourceWatcher` for Ethereum."""

    def __init__(self, config: EthereumConfig, *, rpc: EthRpc | None = None) -> None:
        self.config = config
        self.name = config.name
        self.domain = config.domain
        self.rpc = rpc or EthRpc(
            config.rpc_url, chain_id=config.chain_id, bridge=config.bridge_address, timeout=config.rpc_timeout
        )
        self._recent: OrderedDict[int, str] = OrderedDict()  # block number -> hash, of blocks this watcher read
        # New heads wake the pipeline's observe loop (run by the pipeline; a hint: every poll reads the chain, and
        # finality is computed from the head read then). Unused when the watcher is polled by other code.
        self.heads = HeadNotifier(ws_url_of(config.rpc_url), ETHEREUM_NEW_HEADS, name=config.name)

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        return await self.rpc.run(lambda r: self._poll(r, after))

    # -- on the RPC thread --------------------------------------------------------------------------------------

    def final_block(self, rpc: EthRpc, head: int) -> int:
        if self.config.finality == "finalized":
            final = rpc.header("finalized")
            return final.number if final is not None else -1
        return head - self.config.confirmations

    def _poll(self, rpc: EthRpc, after: ChainPosition | None) -> WatchResult:
        head = rpc.head_number()
        final = self.final_block(rpc, head)
        reorg_from: int | None = None
        if after is None:
            start = max(self.config.start_block, 1)  # the genesis block holds no logs of ours
            position = ChainPosition(start - 1, _require(rpc, start - 1).hash)
        elif after.block_number > final:
            return WatchResult([], after, head)  # nothing final after the cursor yet (or this node lags it)
        else:
            current = rpc.header(after.block_number)
            if current is None or current.hash != after.block_hash:
                position = self._rewind(rpc, after)
                reorg_from = position.block_number + 1
                log.warning("watcher_rewound", chain=self.name, cursor=after.block_number, rescan_from=reorg_from)
            else:
                position = after
        last = min(final, position.block_number + self.config.max_block_range)
        if last <= position.block_number:
            return WatchResult([], position, head, reorg_from)
        try:
            messages, rejected, position = self._read_range(rpc, position, last)
        except ChainInconsistent as exc:
            log.warning("watcher_chain_moved", chain=self.name, from_block=position.block_number + 1, error=str(exc))
            return WatchResult([], position, head, reorg_from)
        return WatchResult(messages, position, head, reorg_from, rejected)

    def _read_range(
        self, rpc: EthRpc, position: ChainPosition, last: int
    ) -> tuple[list[BridgeMessage], list[Rejection], ChainPosition]:
        first = position.block_number + 1
        headers = rpc.headers(list(range(first, last + 1)))
        parent = position.block_hash
        for h in headers:
            if h.parent_hash != parent:
                raise ChainInconsistent(f"block {h.number}'s parent is {h.parent_hash}, not {parent}")
            parent = h.hash
        by_number: dict[int, Header] = {h.number: h for h in headers}
        logs = rpc.logs(SOURCE_TOPICS, first, last)
        again = rpc.header(last)
        if again is None or again.hash != headers[-1].hash:
            raise ChainInconsistent(f"block {last} changed while its range was read")
        messages: list[BridgeMessage] = []
        rejected: list[Rejection] = []
        for entry in sorted(logs, key=lambda e: (e.block_number, e.log_index)):
            block = by_number.get(entry.block_number)
            if block is None or block.hash != entry.block_hash or entry.removed:
                raise ChainInconsistent(f"a log of block {entry.block_number} is not in the block read")
            found = decode_source_log(
                entry, bridge=self.config.bridge_address, resources=self.config.resources, domain=self.domain
            )
            if isinstance(found, Skipped):
                log.warning(
                    "log_skipped", chain=self.name, block=entry.block_number, tx=entry.tx_hash,
                    log_index=entry.log_index, reason=found.reason,
                )  # fmt: skip
            elif isinstance(found, Rejection):
                log.error(
                    "deposit_rejected", chain=self.name, block=entry.block_number, tx=entry.tx_hash,
                    log_index=entry.log_index, amount=found.amount, reason=found.reason,
                )  # fmt: skip
                rejected.append(found)
            else:
                log.info(
                    "message_observed", chain=self.name, message_id=found.id_hex, kind=found.kind.value,
                    nonce=found.nonce, dest_domain=found.dest_domain, block=entry.block_number,
                    source_amount=found.source_amount, amount=found.amount,
                )  # fmt: skip
                messages.append(found)
        for h in headers[-self.config.rewind_depth :]:
            self._remember(h.number, h.hash)
        return messages, rejected, ChainPosition(last, headers[-1].hash)

    def _remember(self, number: int, block_hash: str) -> None:
        self._recent[number] = block_hash
        self._recent.move_to_end(number)
        while len(self._recent) > self.config.rewind_depth:
            self._recent.popitem(last=False)

    def _rewind(self, rpc: EthRpc, after: ChainPosition) -> ChainPosition:
        # The newest block this watcher read that is still canonical; else `rewind_depth` blocks back.
        for number in sorted((n for n in self._recent if n < after.block_number), reverse=True):
            current = rpc.header(number)
            if current is not None and current.hash == self._recent[number]:
                return ChainPosition(number, current.hash)
            del self._recent[number]
        number = max(after.block_number - self.config.rewind_depth, max(self.config.start_block, 1) - 1)
        return ChainPosition(number, _require(rpc, number).hash)


def _require(rpc: EthRpc, number: int) -> Header:
    found = rpc.header(number)
    if found is None:
        raise ChainInconsistent(f"the node has no block {number}")
    return found


__all__ = ["EthereumWatcher"]
