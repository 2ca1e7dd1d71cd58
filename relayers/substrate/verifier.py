"""An independent check of a Phala signing request, from a verifier's OWN chain connection and executed index.

A committee member runs this (or its pure core, `rebuild_and_check`, fed with facts its enclave gathered) before
it signs: nothing in the request is trusted except as something to compare against.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from relayers.substrate.chain import ChainReader
from relayers.substrate.config import PhalaConfig
from relayers.substrate.errors import IndexBehind
from relayers.substrate.executed_index import ExecutedIndex
from relayers.substrate.index_checkpoint import IndexCheckpoints
from relayers.substrate.plan import payee
from relayers.substrate.rebuild import ChainFacts, is_refund_request, rebuild_and_check
from relayers.substrate.session import ClientSession


async def facts_reaching(
    fetch: Callable[[], Awaitable[ChainFacts]], nonce: int | None, *, wait: float, poll: float = 0.2
) -> ChainFacts:
    """This member's facts, once its finalized bridge-account nonce has reached `nonce` (the leader's), waiting up to
    `wait` seconds. A member whose node has not yet seen the block the leader built on (one finalized block behind,
    common right after the previous batch finalizes) then signs a moment later instead of refusing with `mismatch`,
    a content code that distrust.py counts against the leader. A nonce still ahead after the wait is refused as
    before: that is no lag but a request for a future nonce (see rebuild.py)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        facts = await fetch()
        if nonce is None or facts.account_nonce >= nonce or loop.time() >= deadline:
            return facts
        await asyncio.sleep(min(poll, max(0.0, deadline - loop.time())))


def requested_nonce(request: SigningRequest) -> int | None:
    """The request's `account_nonce` when it is an integer (otherwise the rebuild refuses it, naming the field)."""
    value = request.context.get("account_nonce")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PhalaVerifier:
    def __init__(
        self,
        config: PhalaConfig,
        *,
        session: ClientSession | None = None,
        catch_up_wait: float = 3.0,
        checkpoints: IndexCheckpoints | None = None,
    ) -> None:
        self.config = config
        self.catch_up_wait = catch_up_wait
        self.session = session or ClientSession(config.url, timeout=config.rpc_timeout, para_id=config.para_id)
        self.index = ExecutedIndex(config, checkpoints=checkpoints)
        self._nonces: OrderedDict[str, int] = OrderedDict()  # finalized block hash -> the bridge account's nonce

    async def follow_once(self) -> None:
        """Bring the executed index (and the nonce at the head) up to the finalized head in the background, so a
        signing session finds them current and reads only the head."""
        await self.session.run(lambda r: self._facts(r, []))

    async def facts(self, ids: Sequence[str]) -> ChainFacts:
        return await self.session.run(lambda r: self._facts(r, list(ids)))

    async def facts_for(self, request: SigningRequest) -> ChainFacts:
        """The facts to check `request` against, once this member's view has reached the leader's nonce (bounded)."""
        return await facts_reaching(
            lambda: self.facts(request.message_ids), requested_nonce(request), wait=self.catch_up_wait
        )

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        """The payload to sign, when the request is exactly the batch for these messages; else `RebuildMismatch`."""
        facts = await self.facts_for(request)
        if is_refund_request(request):  # a refund needs the member's own reading of who has an account
            facts = await self.session.run(lambda r: self._with_accounts(r, facts, messages))
        return rebuild_and_check(request, messages, facts)

    def close(self) -> None:
        self.session.close()

    def _facts(self, reader: ChainReader, ids: list[str]) -> ChainFacts:
        head = reader.finalized_head()
        if not self.index.sync(reader, head):
            raise IndexBehind(f"the verifier's executed index has not reached block {head.block_number}")
        return ChainFacts(
            runtime=reader.runtime_facts(head.block_hash),
            domain=self.config.domain,
            bridge_account=self.config.bridge_account,
            resource_id=self.config.resource_id,
            account_nonce=self._nonce_at(reader, head.block_hash),
            executed=self.index.executed_among(ids),
            gateway=self.config.gateway,
        )

    def _with_accounts(self, reader: ChainReader, facts: ChainFacts, messages: Sequence[BridgeMessage]) -> ChainFacts:
        """`facts` with the existential deposit and whether each message's payee has an account, at this member's
        finalized head."""
        head = reader.finalized_head()
        payees = {p for m in messages if len(p := payee(m, self.config.gateway)) == 32}
        accounts = {p: reader.account(p, head.block_hash).exists for p in payees}
        return dataclasses.replace(facts, existential_deposit=reader.existential_deposit(), accounts=accounts)

    def _nonce_at(self, reader: ChainReader, block_hash: str) -> int:
        # A finalized block's state never changes: its nonce is read once.
        nonce = self._nonces.get(block_hash)
        if nonce is None:
            nonce = reader.account(self.config.bridge_account, block_hash).nonce
            self._nonces[block_hash] = nonce
            while len(self._nonces) > 64:
                self._nonces.popitem(last=False)
        return nonce


__all__ = ["PhalaVerifier", "facts_reaching", "requested_nonce"]
