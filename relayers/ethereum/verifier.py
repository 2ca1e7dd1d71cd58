"""Independent checks a committee member's enclave runs before signing, through its OWN Ethereum connection.

- `EthereumSourceVerifier.check(messages)`: every Ethereum-sourced message must be exactly what the chain says: the
  transaction's receipt (by tx hash) succeeded, sits in the claimed block, that block is canonical and final, the log
  at the claimed index is the bridge's Deposit or MessageSent, and the message decoded from it (with this member's
  own resource table) equals the claimed one field by field. `source_check.verify_source` is the pure core.
- `EthereumBatchVerifier.check(request, messages)`: reads `DestinationFacts` (key epoch, tokens, allow-listed
  targets, used nonces) and runs the pure `rebuild_and_check_batch`: the batch and digest rebuilt from the messages
  alone must equal the request's, byte for byte.

Both raise `VerificationRefused` (naming the message and the field) when the member must not sign.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.follower import TokenLimitsView
from relayers.ethereum.rebuild import DestinationFacts, rebuild_and_check_batch
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.source_check import mismatched_fields, verify_source
from relayers.ethereum.state import destination_facts


class EthereumSourceVerifier:
    def __init__(self, config: EthereumConfig, *, rpc: EthRpc | None = None) -> None:
        self.config = config
        self.rpc = rpc or EthRpc(
            config.rpc_url, chain_id=config.chain_id, bridge=config.bridge_address, timeout=config.rpc_timeout
        )

    async def check(self, messages: Sequence[BridgeMessage]) -> None:
        ours = [m for m in messages if m.source_domain == self.config.domain]
        if ours:
            await self.rpc.run(lambda r: self._check(r, ours))

    def _check(self, rpc: EthRpc, messages: list[BridgeMessage]) -> None:
        # One round trip for the final block, every receipt and every claimed block's canonical header.
        txs = list(dict.fromkeys("0x" + m.source.tx_hash.hex() for m in messages))
        numbers = list(dict.fromkeys(m.source.block_number for m in messages))
        final_tag = "finalized" if self.config.finality == "finalized" else None
        final, receipts, headers = rpc.source_reads(final_tag, txs, numbers)
        if final_tag is None:
            final -= self.config.confirmations
        for m in messages:
            verify_source(
                m,
                receipts["0x" + m.source.tx_hash.hex()],
                headers[m.source.block_number],
                final,
                bridge=self.config.bridge_address,
                resources=self.config.resources,
                domain=self.config.domain,
            )


class EthereumBatchVerifier:
    def __init__(self, config: EthereumConfig, *, rpc: EthRpc | None = None) -> None:
        self.config = config
        self.view = TokenLimitsView(config)  # filled only while `follow` runs
        self.rpc = rpc or EthRpc(
            config.rpc_url, chain_id=config.chain_id, bridge=config.bridge_address, timeout=config.rpc_timeout
        )

    async def follow(self, interval: float = 0.5) -> None:
        """Run until cancelled: keep the token limits at the head, so a check at that head reads one round trip."""
        await self.view.follow(interval)

    async def facts(self, messages: Sequence[BridgeMessage]) -> DestinationFacts:
        limits = self.view.limits
        facts, _ = await self.rpc.run(lambda r: destination_facts(r, self.config, list(messages), limits))
        return facts

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        """The digest to sign, when the request is exactly the batch for these messages; else VerificationRefused."""
        return rebuild_and_check_batch(request, messages, await self.facts(messages))


__all__ = [
    "EthereumBatchVerifier",
    "EthereumSourceVerifier",
    "mismatched_fields",
    "rebuild_and_check_batch",
    "verify_source",
]
