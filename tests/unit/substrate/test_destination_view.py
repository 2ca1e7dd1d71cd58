"""The Phala destination's local view: state remembered per finalized block hash (never reused for another hash),
filled by its follower, which polls when no head subscription is available."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from dataclasses import dataclass, field
from typing import Any

from bridge.ports import ChainPosition
from relayers.heads import SUBSTRATE_FINALIZED_HEADS, HeadNotifier
from relayers.substrate.chain import AccountState
from relayers.substrate.dispatcher import PhalaDestination
from tests.unit.substrate.helpers import CONFIG
from tests.unit.substrate.test_confirm import FakeIndex, FakeSession


@dataclass
class CountingReader:
    head: ChainPosition = field(default_factory=lambda: ChainPosition(10, "0x" + "10" * 32))
    nonce: int = 5
    account_reads: list[str] = field(default_factory=list)
    head_reads: int = 0
    runtime_reads: list[str] = field(default_factory=list)

    def finalized_head(self) -> ChainPosition:
        self.head_reads += 1
        return self.head

    def account(self, account: bytes, block_hash: str) -> AccountState:
        self.account_reads.append(block_hash)
        return AccountState(self.nonce, 10**18, True)

    def runtime_facts(self, block_hash: str) -> Any:
        self.runtime_reads.append(block_hash)
        return None


def setup(caught_up: bool = True) -> tuple[PhalaDestination, CountingReader, FakeIndex]:
    reader, index = CountingReader(), FakeIndex(caught_up=caught_up)
    dest = PhalaDestination(CONFIG, session=FakeSession(reader))  # type: ignore[arg-type]
    dest.index = index  # type: ignore[assignment]
    return dest, reader, index


def test_the_view_is_per_finalized_hash_never_reused_for_a_new_head() -> None:
    dest, reader, _ = setup()
    dest._warm(reader)  # type: ignore[arg-type]
    assert reader.account_reads == [reader.head.block_hash]
    # The batch built at the same finalized block finds the account there: no read.
    assert dest._bridge_at(reader, reader.head.block_hash).nonce == 5  # type: ignore[arg-type]
    assert len(reader.account_reads) == 1
    # A newer head (the batch needs it; the follower has not seen it yet): read there, whatever the view holds.
    reader.head, reader.nonce = ChainPosition(11, "0x" + "11" * 32), 6
    assert dest._bridge_at(reader, reader.head.block_hash).nonce == 6  # type: ignore[arg-type]
    assert reader.account_reads == ["0x" + "10" * 32, "0x" + "11" * 32]


def test_an_index_behind_the_head_leaves_the_view_unfilled() -> None:
    dest, reader, _ = setup(caught_up=False)
    dest._warm(reader)  # type: ignore[arg-type]
    assert reader.account_reads == [] and reader.runtime_reads == []


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}"  # nothing listens there now


def test_without_a_subscription_the_follower_polls() -> None:
    dest, reader, _ = setup()
    dest.config = dataclasses.replace(CONFIG, url=_dead_url())

    async def main() -> None:
        task = asyncio.create_task(dest.follow(interval=0.02))
        try:
            deadline = asyncio.get_running_loop().time() + 5
            while reader.head_reads < 4 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert reader.head_reads >= 4  # woken by the poll interval, the subscription being refused
    assert reader.account_reads == [reader.head.block_hash]  # one head: one read, however often it polls


def test_a_failing_read_does_not_stop_the_follower() -> None:
    dest, reader, _ = setup()
    dest.config = dataclasses.replace(CONFIG, url=_dead_url())
    calls = 0

    def flaky() -> ChainPosition:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise OSError("node down")
        return reader.head

    reader.finalized_head = flaky  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.create_task(dest.follow(interval=0.02))
        try:
            deadline = asyncio.get_running_loop().time() + 5
            while not reader.account_reads and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert calls >= 3 and reader.account_reads == [reader.head.block_hash]


def _with_heads(dest: PhalaDestination, connected: bool, latest: int | None) -> HeadNotifier:
    heads = HeadNotifier("ws://127.0.0.1:1", SUBSTRATE_FINALIZED_HEADS)
    heads.connected, heads.latest = connected, latest
    dest.heads = heads
    return heads


def test_prepare_plans_at_the_head_already_executed_synced_to_while_nothing_newer_is_announced() -> None:
    dest, reader, _ = setup()
    _with_heads(dest, True, 10)
    dest._executed_among(reader, [])  # type: ignore[arg-type]
    assert dest._planning_head(reader) == reader.head  # type: ignore[arg-type]
    assert reader.head_reads == 1
    assert dest._planning_head(reader) == reader.head  # type: ignore[arg-type]
    assert reader.head_reads == 2  # used once


def test_prepare_reads_the_head_again_after_a_newer_one_or_without_a_live_subscription() -> None:
    dest, reader, _ = setup()
    heads = _with_heads(dest, True, 10)
    dest._executed_among(reader, [])  # type: ignore[arg-type]
    heads.latest = 11  # announced between the two steps
    reader.head = ChainPosition(11, "0x" + "11" * 32)
    assert dest._planning_head(reader) == reader.head  # type: ignore[arg-type]
    assert reader.head_reads == 2
    for connected, latest in ((False, 10), (True, 9), (True, None)):
        dest, reader, _ = setup()
        _with_heads(dest, connected, latest)
        dest._executed_among(reader, [])  # type: ignore[arg-type]
        dest._planning_head(reader)  # type: ignore[arg-type]
        assert reader.head_reads == 2
