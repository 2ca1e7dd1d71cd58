"""The committee gets a batch's messages as the destination planned them: in the request's order, without what the
destination left out. Members refuse anything else (`check_consistency`), so a batch of several messages whose
canonical order differs from their arrival order was never signed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bridge.batching import BatchPolicy
from bridge.messages import BridgeMessage
from bridge.policy import BridgePolicy
from bridge.ports import Confirmation, SigningRequest
from enclave_signer.committee.verification import check_consistency
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.store import open_store
from tests.unit.relayer.test_pipeline import PHA, FakeWatcher, _msg, _run_until


class ReorderingDestination:
    """Plans in a canonical order (by id, not by arrival) and leaves one message out, like the real adapters."""

    name = "phala"
    domain = 2
    max_in_flight: int | None = None
    handed_over_at = None

    def __init__(self, left_out: str) -> None:
        self.left_out = left_out
        self.signed: list[tuple[str, ...]] = []

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        return frozenset()

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest:
        ids = tuple(sorted(m.id_hex for m in messages if m.id_hex != self.left_out))
        return SigningRequest(self.domain, ids, "|".join(ids).encode())

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        self.signed.append(request.message_ids)
        return "0x" + "11" * 32

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation:
        return Confirmation(executed=frozenset(i for s in self.signed for i in s))

    def gas_of(self, message: BridgeMessage) -> int:
        return 30_000


class ConsistencyCheckingSigner:
    """Runs the check every member runs before it signs."""

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        check_consistency(request, messages)
        return b"sig"


def test_members_get_the_messages_in_the_request_order(tmp_path: Path) -> None:
    msgs = [_msg(i) for i in range(1, 6)]
    assert [m.id_hex for m in msgs] != sorted(m.id_hex for m in msgs)  # arrival order is not the canonical one
    dest = ReorderingDestination(left_out=msgs[2].id_hex)
    p = Pipeline(
        store=open_store(f"sqlite:///{tmp_path}/s.db"),
        policy=BridgePolicy.of([PHA]),
        watchers=[FakeWatcher(msgs)],
        destinations=[dest],
        signer=ConsistencyCheckingSigner(),
        config=PipelineConfig(poll_interval=0.01, confirm_interval=0.01, retry_backoff=0.01, batch=BatchPolicy(10, 0)),
    )
    asyncio.run(_run_until(p, lambda: p.store.counts().get("executed") == 4))
    assert dest.signed and dest.signed[0] == tuple(sorted(m.id_hex for m in msgs if m is not msgs[2]))
