"""Pipeline logic with in-memory chain fakes (the devnet tests prove it against real chains)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from bridge.batching import BatchPolicy
from bridge.domains import Domain
from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.policy import BridgePolicy, Resource
from bridge.ports import (
    BatchSigner,
    ChainPosition,
    Confirmation,
    SigningRequest,
    SigningUnavailable,
    SourceWatcher,
    WatchResult,
)
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.store import open_store

PHA = Resource("PHA", b"\x01" * 32, {Domain.ETHEREUM: 18, Domain.PHALA: 12})


def _msg(nonce: int, *, exact: bool = True) -> BridgeMessage:
    src = 10**18 * nonce + (0 if exact else 1)
    return BridgeMessage(
        source_domain=1,
        dest_domain=2,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 20,
        recipient=b"\x22" * 32,
        resource_id=PHA.resource_id,
        source_amount=src,
        amount=src // 10**6,
        source=SourceRef(block_number=nonce, block_hash=b"\x00" * 32, tx_hash=bytes([nonce % 256]) * 32, index=0),
    )


class FakeWatcher:
    name = "ethereum"
    domain = 1

    def __init__(self, messages: list[BridgeMessage]) -> None:
        self.messages = messages

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        start = after.block_number if after else 0
        new = [m for m in self.messages if m.source.block_number > start]
        top = max([start, *(m.source.block_number for m in new)])
        return WatchResult(new, ChainPosition(top, f"0x{top:x}"), head=top)


class FakeDestination:
    """Executes each message id at most once, like the nonce bitmap."""

    name = "phala"
    domain = 2

    def __init__(self, max_in_flight: int | None = None) -> None:
        self.max_in_flight = max_in_flight
        self.handed_over_at: float | None = None  # in memory: no node to hand anything to
        self.executed: list[str] = []
        self.submissions = 0
        self.drop_next = 0
        self.hold = False  # confirmations stay pending while set
        self.txs: dict[str, tuple[str, ...]] = {}

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        return frozenset(m.id_hex for m in messages if m.id_hex in self.executed)

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest:
        ids = tuple(m.id_hex for m in messages)
        return SigningRequest(self.domain, ids, ("|".join(ids)).encode())

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        assert signature == b"sig:" + request.payload
        self.submissions += 1
        tx = f"0x{self.submissions:064x}"
        if self.drop_next:
            self.drop_next -= 1
            self.txs[tx] = ()
        else:
            self.txs[tx] = request.message_ids
            self.executed.extend(i for i in request.message_ids if i not in self.executed)
        return tx

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation:
        if self.hold:
            return Confirmation(pending=True)
        if not self.txs[tx_hash]:
            return Confirmation(dropped=True)
        return Confirmation(executed=frozenset(self.txs[tx_hash]))

    def gas_of(self, message: BridgeMessage) -> int:
        return 30_000


class FakeSigner:
    def __init__(self, unavailable: int = 0) -> None:
        self.unavailable = unavailable
        self.calls = 0

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        self.calls += 1
        if self.unavailable:
            self.unavailable -= 1
            raise SigningUnavailable("2 of 3 members answered")
        return b"sig:" + request.payload


def _pipeline(
    tmp_path: Path, watcher: SourceWatcher, dest: FakeDestination, signer: BatchSigner, batch: int = 10
) -> Pipeline:
    cfg = PipelineConfig(poll_interval=0.01, confirm_interval=0.01, retry_backoff=0.01, batch=BatchPolicy(batch, 0.01))
    return Pipeline(
        store=open_store(f"sqlite:///{tmp_path}/s.db"),
        policy=BridgePolicy.of([PHA]),
        watchers=[watcher],
        destinations=[dest],
        signer=signer,
        config=cfg,
    )


async def _run_until(p: Pipeline, done: object, timeout: float = 10.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not done():  # type: ignore[operator]
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task


def _states(p: Pipeline) -> dict[str, int]:
    return p.store.counts()


def test_messages_flow_to_executed_once_and_bad_ones_fail(tmp_path: Path) -> None:
    msgs = [_msg(i) for i in range(1, 26)] + [_msg(99, exact=False)]
    dest = FakeDestination()
    p = _pipeline(tmp_path, FakeWatcher(msgs), dest, FakeSigner())
    asyncio.run(_run_until(p, lambda: _states(p).get("executed") == 25 and _states(p).get("failed") == 1))
    assert sorted(dest.executed) == sorted(m.id_hex for m in msgs[:25])
    assert len(dest.executed) == len(set(dest.executed))
    bad = p.store.get(msgs[-1].id_hex)
    assert bad is not None and bad.reason is not None and "does not convert exactly" in bad.reason
    assert p.metrics.overhead.labels("phala")._sum.get() > 0  # latency recorded for submitted messages


def test_dropped_transaction_is_signed_again(tmp_path: Path) -> None:
    dest = FakeDestination()
    dest.drop_next = 1
    p = _pipeline(tmp_path, FakeWatcher([_msg(1), _msg(2)]), dest, FakeSigner())
    asyncio.run(_run_until(p, lambda: _states(p).get("executed") == 2))
    assert dest.submissions == 2 and sorted(dest.executed) == sorted([_msg(1).id_hex, _msg(2).id_hex])


def test_signer_unavailable_is_retried(tmp_path: Path) -> None:
    signer = FakeSigner(unavailable=2)
    p = _pipeline(tmp_path, FakeWatcher([_msg(1)]), FakeDestination(), signer)
    asyncio.run(_run_until(p, lambda: _states(p).get("executed") == 1))
    assert signer.calls == 3


@pytest.mark.parametrize("crash_state", [MessageState.SIGNED, MessageState.SUBMITTED])
def test_restart_after_crash_executes_exactly_once(tmp_path: Path, crash_state: MessageState) -> None:
    dest = FakeDestination()
    watcher = FakeWatcher([_msg(1), _msg(2)])
    first = _pipeline(tmp_path, watcher, dest, FakeSigner())

    async def crash_midway() -> None:
        await first.observe_once(watcher)
        await first.verify_once()
        ids = [_msg(1).id_hex, _msg(2).id_hex]
        first.store.transition(ids, MessageState.SIGNED, batch_id="b")
        if crash_state is MessageState.SUBMITTED:
            request = await dest.prepare([_msg(1), _msg(2)])
            tx = await dest.submit(request, b"sig:" + request.payload)  # executed on chain, then the node dies
            first.store.transition(ids, MessageState.SUBMITTED, dest_tx=tx)

    asyncio.run(crash_midway())
    first.store.close()
    second = _pipeline(tmp_path, watcher, dest, FakeSigner())
    asyncio.run(_run_until(second, lambda: _states(second).get("executed") == 2))
    assert sorted(dest.executed) == sorted([_msg(1).id_hex, _msg(2).id_hex])
    assert dest.submissions == 1  # never a second submission: either recovered by confirm or by re-sign


@pytest.mark.parametrize("max_in_flight", [1, None])
def test_a_destination_with_one_batch_in_flight_gets_the_next_only_after_a_confirmation(
    tmp_path: Path, max_in_flight: int | None
) -> None:
    """Phala pays every batch at the bridge account's finalized nonce: a second batch prepared while the first is
    unconfirmed would carry the same nonce. With `max_in_flight = 1` the pipeline waits; without a limit it does not."""
    dest = FakeDestination(max_in_flight)
    dest.hold = True
    p = _pipeline(tmp_path, FakeWatcher([_msg(1), _msg(2), _msg(3)]), dest, FakeSigner(), batch=1)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        try:
            async with asyncio.timeout(10):
                while dest.submissions < 1:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # ~30 poll and confirm rounds with the first batch pending
            assert dest.submissions == (1 if max_in_flight == 1 else 3)
            dest.hold = False
            async with asyncio.timeout(10):
                while _states(p).get("executed") != 3:
                    await asyncio.sleep(0.01)
            assert dest.submissions == 3 and sorted(dest.executed) == sorted(_msg(i).id_hex for i in (1, 2, 3))
        finally:
            stop.set()
            await task

    asyncio.run(scenario())


def test_a_node_that_does_not_lead_follows_the_destination_without_submitting(tmp_path: Path) -> None:
    """The leader executed two of three messages; a follower's store learns it from the destination (its `status`
    then tells the truth) and never signs or submits anything itself."""
    msgs = [_msg(1), _msg(2), _msg(3)]
    dest = FakeDestination()
    dest.executed = [msgs[0].id_hex, msgs[1].id_hex]  # done by another node
    signer = FakeSigner()
    p = Pipeline(
        store=open_store(f"sqlite:///{tmp_path}/s.db"),
        policy=BridgePolicy.of([PHA]),
        watchers=[FakeWatcher(msgs)],
        destinations=[dest],
        signer=signer,
        config=PipelineConfig(poll_interval=0.01, confirm_interval=0.01, reconcile_interval=0.05),
        is_leader=lambda _domain: False,
    )
    asyncio.run(_run_until(p, lambda: _states(p).get("executed") == 2))
    assert _states(p).get("verified") == 1  # the third is still waiting for a leader
    assert dest.submissions == 0 and signer.calls == 0


class RefundingDestination(FakeDestination):
    """Settled some messages with a refund to their source (Phala: refused Ethereum deposits)."""

    def __init__(self, refunds: dict[str, str]) -> None:
        super().__init__()
        self.refunds = refunds

    async def refunded(self, messages: Sequence[BridgeMessage]) -> dict[str, str]:
        return {m.id_hex: self.refunds[m.id_hex] for m in messages if m.id_hex in self.refunds}


@pytest.mark.parametrize("leads", [True, False])
def test_a_message_the_destination_refunded_ends_failed_with_where_the_tokens_went(tmp_path: Path, leads: bool) -> None:
    msgs = [_msg(1), _msg(2)]
    how = "refunded to 0x" + "11" * 20 + " on Ethereum as message 0xabc: the recipient is the bridge account itself"
    dest = RefundingDestination({msgs[0].id_hex: how})
    if not leads:
        dest.executed = [msgs[1].id_hex]  # the leader's work, seen by a follower
    p = Pipeline(
        store=open_store(f"sqlite:///{tmp_path}/s.db"),
        policy=BridgePolicy.of([PHA]),
        watchers=[FakeWatcher(msgs)],
        destinations=[dest],
        signer=FakeSigner(),
        config=PipelineConfig(poll_interval=0.01, confirm_interval=0.01, reconcile_interval=0.05),
        is_leader=lambda _domain: leads,
    )
    asyncio.run(_run_until(p, lambda: _states(p).get("executed") == 1 and _states(p).get("failed") == 1))
    record = p.store.get(msgs[0].id_hex)
    assert record is not None and record.state is MessageState.FAILED
    assert record.reason == how  # as the leader's confirm of the refund batch records it
    assert dest.executed == [msgs[1].id_hex]  # the refunded one is never submitted again
