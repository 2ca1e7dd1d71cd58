"""What an enclave checks before it signs anything that carries Phala deposits: its OWN watcher, reading the
finalized chain through its OWN endpoint with the same deterministic code every relayer runs, must have produced
exactly the same message (same nonce, sender, recipient, amounts, place on chain). A lying relayer cannot invent,
alter or renumber a deposit without t enclaves agreeing to the lie.

The view is kept in memory and rebuilt from the start block when the enclave restarts; for a long-lived chain it
would be checkpointed (docs/phala-side.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition, VerificationRefused
from relayers.substrate.config import PhalaConfig
from relayers.substrate.session import ClientSession
from relayers.substrate.watcher import PhalaWatcher

log = structlog.get_logger("substrate.source_verifier")

_MAX_CATCH_UP_POLLS = 10_000


class PhalaSourceVerifier:
    def __init__(self, config: PhalaConfig, *, session: ClientSession | None = None) -> None:
        self.config = config
        self._watcher = PhalaWatcher(config, session=session)
        self._position: ChainPosition | None = None
        self._seen: dict[str, BridgeMessage] = {}
        self._reading = asyncio.Lock()  # the background follower and a signing session both catch up

    async def catch_up(self) -> ChainPosition | None:
        """Read every finalized block not read yet."""
        async with self._reading:
            return await self._catch_up()

    async def _catch_up(self) -> ChainPosition | None:
        for _ in range(_MAX_CATCH_UP_POLLS):
            result = await self._watcher.poll(self._position)
            for m in result.messages:
                self._seen[m.id_hex] = m
            moved = self._position is None or result.position.block_number != self._position.block_number
            self._position = result.position
            if not moved or result.position.block_number >= result.head:
                break
        return self._position

    async def check_messages(self, messages: Sequence[BridgeMessage]) -> None:
        ours = [m for m in messages if m.source_domain == self.config.domain]
        if not ours:
            return
        if any(m.id_hex not in self._seen for m in ours):
            await self.catch_up()
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
