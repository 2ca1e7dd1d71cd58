"""Confidential contracts wired from a node's config (the application edge): the registry every member runs, and
the member's OWN chain view its enclave executes against (final confidential calls on Ethereum, the bridge
account's finalized records on Phala)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from bridge.cli.wiring import ethereum_config, index_checkpoints, phala_config
from bridge.confidential import is_confidential_call
from bridge.config.schema import NodeConfig
from bridge.domains import Domain
from bridge.enclave_api import GroupKeys
from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts import Registry, shipped_registry
from relayers.ethereum import EthereumWatcher
from relayers.substrate.index_checkpoint import CheckpointStore
from relayers.substrate.replies import ReplyView

_MAX_POLLS = 10_000


def registry_of(cfg: NodeConfig) -> Registry:
    settlement = cfg.confidential.auction_settlement
    return shipped_registry(auction_settlement=None if settlement is None else bytes.fromhex(settlement[2:]))


class MemberChainView:
    """`enclave_signer.process.confidential.ConfidentialChain` from this member's own endpoints."""

    def __init__(
        self,
        cfg: NodeConfig,
        group_keys: Callable[[], GroupKeys | None],
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.group_keys = group_keys
        self.checkpoints = checkpoints
        self._eth = EthereumWatcher(ethereum_config(cfg))
        self._eth_position: ChainPosition | None = None
        self._calls: dict[str, BridgeMessage] = {}
        self._eth_lock = asyncio.Lock()
        self._phala: ReplyView | None = None
        self._phala_key: bytes | None = None
        self._phala_lock = asyncio.Lock()

    async def final_calls(self) -> Sequence[BridgeMessage]:
        async with self._eth_lock:
            for _ in range(_MAX_POLLS):
                result = await self._eth.poll(self._eth_position)
                for m in result.messages:
                    if m.dest_domain == Domain.PHALA and is_confidential_call(m):
                        self._calls[m.id_hex] = m
                moved = self._eth_position is None or result.position.block_number != self._eth_position.block_number
                self._eth_position = result.position
                if not moved:
                    break
            return list(self._calls.values())

    def view(self) -> ReplyView:
        keys = self.group_keys()
        if keys is None:
            raise SigningRefusal("no_keys", "this member has no committee keys yet (no DKG)")
        if self._phala is None or self._phala_key != keys.ed25519:
            self._phala = ReplyView(
                phala_config(self.cfg, keys.ed25519),
                checkpoints=index_checkpoints(self.cfg, self.checkpoints, "replies"),
            )
            self._phala_key = keys.ed25519
        return self._phala

    @property
    def current_view(self) -> ReplyView | None:
        """The view built so far, if any (for a shutdown save; never builds one)."""
        return self._phala

    async def records(self) -> Sequence[bytes]:
        async with self._phala_lock:
            view = self.view()
            await view.session.run(view.sync)
            return view.notes()
