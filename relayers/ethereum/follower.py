"""A local view of the Ethereum bridge's token limits, kept at the head by new-head notifications.

`TokenLimitsView.follow()` reads the limits on every new head (`eth_subscribe` newHeads; every `interval` while the
subscription is down), on a connection of its own so it never delays a batch's reads. The view carries the block
it was read at and `destination_facts` uses it only for reads at that same block: a late view costs the round trip
it would have saved, never a wrong fact. The relayer's destination and every enclave's batch check keep one each.
"""

from __future__ import annotations

import structlog

from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.state import TokenLimits, token_limits
from relayers.heads import ETHEREUM_NEW_HEADS, HeadNotifier, follow_heads, ws_url_of

log = structlog.get_logger("ethereum.follower")


class TokenLimitsView:
    def __init__(self, config: EthereumConfig) -> None:
        self.config = config
        self.limits: TokenLimits | None = None
        self.heads: HeadNotifier | None = None  # while following

    async def follow(self, interval: float = 0.5) -> None:
        """Run until cancelled."""
        c = self.config
        heads = HeadNotifier(ws_url_of(c.rpc_url), ETHEREUM_NEW_HEADS, poll_interval=interval, name=c.name)
        self.heads = heads
        rpc = EthRpc(c.rpc_url, chain_id=c.chain_id, bridge=c.bridge_address, timeout=c.rpc_timeout)

        async def read() -> None:  # the node may be down: the batch's own reads fail (or not) on their own
            self.limits = await rpc.run(lambda r: token_limits(r, c))

        await follow_heads(heads, read, "token_limits_follow_failed", chain=c.name)


__all__ = ["TokenLimitsView"]
