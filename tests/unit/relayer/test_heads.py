"""HeadNotifier: wake-ups from a subscription, polling while it is down, reconnection after a drop, refusals.

The node is a small local WebSocket server speaking the two subscription dialects (the devnet test runs the same
notifier against Chopsticks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import structlog
import structlog.testing
from websockets.asyncio.server import Server, ServerConnection, serve

from relayers.heads import (
    ETHEREUM_NEW_HEADS,
    SUBSTRATE_FINALIZED_HEADS,
    HeadNotifier,
    follow_heads,
    head_number,
    ws_url_of,
)


class FakeNode:
    """Answers one subscribe request per connection, then sends what `push` is given; `drop` closes every socket."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.connections: list[ServerConnection] = []
        self.subscribed = asyncio.Event()
        self.requests: list[dict[str, object]] = []

    async def handler(self, ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        self.requests.append(request)
        if self.refuse:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601}}))
            return
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0xsub"}))
        self.connections.append(ws)
        self.subscribed.set()
        await ws.wait_closed()

    async def push(self, number: int, method: str = "chain_finalizedHead") -> None:
        params = {"subscription": "0xsub", "result": {"number": hex(number)}}
        note = {"jsonrpc": "2.0", "method": method, "params": params}
        for ws in list(self.connections):
            await ws.send(json.dumps(note))

    async def drop(self) -> None:
        for ws in self.connections:
            await ws.close()
        self.connections.clear()
        self.subscribed.clear()


@asynccontextmanager
async def node(fake: FakeNode, port: int = 0) -> AsyncIterator[tuple[Server, str]]:
    async with serve(fake.handler, "127.0.0.1", port) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        yield server, f"ws://127.0.0.1:{bound}"


async def _until(check: object, within: float = 5.0) -> None:
    async def loop() -> None:
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), within)


def test_head_number_reads_both_dialects_and_ignores_the_rest() -> None:
    substrate = {"method": "chain_finalizedHead", "params": {"subscription": "x", "result": {"number": "0x1f"}}}
    ethereum = {"method": "eth_subscription", "params": {"subscription": "x", "result": {"number": "0x2a"}}}
    assert head_number(substrate) == 31
    assert head_number(ethereum) == 42
    junk: object  # replies and garbage of any shape
    for junk in ({"id": 1, "result": "0xsub"}, {"params": {"result": {"number": "zz"}}}, [], "x", {"params": 3}):
        assert head_number(junk) is None


def test_ws_url_of() -> None:
    assert ws_url_of("http://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert ws_url_of("https://node.example/rpc") == "wss://node.example/rpc"
    assert ws_url_of("ws://h:1") == "ws://h:1"
    with pytest.raises(ValueError):
        ws_url_of("ftp://h")


def test_a_notification_wakes_the_waiter_and_carries_the_head() -> None:
    async def main() -> None:
        fake = FakeNode()
        async with node(fake) as (_, url):
            heads = HeadNotifier(url, SUBSTRATE_FINALIZED_HEADS, poll_interval=30, idle_interval=30)
            task = asyncio.create_task(heads.run())
            try:
                await asyncio.wait_for(fake.subscribed.wait(), 5)
                assert await asyncio.wait_for(heads.wait(), 5)  # the wake-up on (re)connection: read once
                await fake.push(7)
                assert await asyncio.wait_for(heads.wait(), 5)  # not the 30 s interval: the notification
                assert heads.latest == 7 and heads.connected
                await fake.push(5)  # an older head is still a wake-up, never a step back
                assert await asyncio.wait_for(heads.wait(), 5)
                assert heads.latest == 7
                assert fake.requests[0]["method"] == "chain_subscribeFinalizedHeads"
            finally:
                task.cancel()

    asyncio.run(main())


def test_a_notification_while_the_consumer_is_busy_is_not_lost() -> None:
    async def main() -> None:
        fake = FakeNode()
        async with node(fake) as (_, url):
            heads = HeadNotifier(url, ETHEREUM_NEW_HEADS, poll_interval=30, idle_interval=30)
            task = asyncio.create_task(heads.run())
            try:
                await asyncio.wait_for(fake.subscribed.wait(), 5)
                await heads.wait()
                await fake.push(3, "eth_subscription")  # nobody is waiting right now
                await _until(lambda: heads.latest == 3)
                assert await asyncio.wait_for(heads.wait(), 1)
                assert fake.requests[0]["params"] == ["newHeads"]
            finally:
                task.cancel()

    asyncio.run(main())


def test_a_dropped_subscription_falls_back_to_polling_then_reconnects() -> None:
    async def main() -> None:
        fake = FakeNode()
        async with node(fake) as (_, url):
            heads = HeadNotifier(url, SUBSTRATE_FINALIZED_HEADS, poll_interval=0.05, idle_interval=30, backoff=0.2)
            task = asyncio.create_task(heads.run())
            try:
                await asyncio.wait_for(fake.subscribed.wait(), 5)
                await heads.wait()
                await fake.drop()
                await _until(lambda: not heads.connected)
                # Down: the waiter returns after the poll interval, without a notification.
                assert not await asyncio.wait_for(heads.wait(), 1)
                await asyncio.wait_for(fake.subscribed.wait(), 5)  # re-opened after the backoff
                await _until(lambda: heads.connected)
                assert heads.reconnects == 1
                await fake.push(9)
                await _until(lambda: heads.latest == 9)
                assert len(fake.requests) == 2
            finally:
                task.cancel()

    asyncio.run(main())


def test_no_node_means_polling_and_doubling_backoff() -> None:
    async def main() -> None:
        fake = FakeNode()
        async with node(fake) as (server, url):
            pass  # the port is free again: nothing listens there
        del server
        heads = HeadNotifier(url, SUBSTRATE_FINALIZED_HEADS, poll_interval=0.05, backoff=0.01, max_backoff=0.04)
        task = asyncio.create_task(heads.run())
        try:
            assert not await heads.wait()
            await _until(lambda: heads.reconnects >= 4)
            assert not heads.connected
            # Then the node comes up on that port: the next retry (at most max_backoff later) subscribes.
            port = int(url.rsplit(":", 1)[1])
            async with node(fake, port):
                await asyncio.wait_for(fake.subscribed.wait(), 5)
                await _until(lambda: heads.connected)
        finally:
            task.cancel()

    asyncio.run(main())


def test_a_refused_subscription_is_retried_and_polled_meanwhile() -> None:
    async def main() -> None:
        fake = FakeNode(refuse=True)
        async with node(fake) as (_, url):
            heads = HeadNotifier(url, SUBSTRATE_FINALIZED_HEADS, poll_interval=0.05, backoff=0.01, max_backoff=0.02)
            task = asyncio.create_task(heads.run())
            try:
                await _until(lambda: len(fake.requests) >= 2)
                assert not heads.connected
                assert not await heads.wait()
            finally:
                task.cancel()

    asyncio.run(main())


def test_follow_heads_runs_the_step_on_every_wake_and_logs_each_new_failure_once() -> None:
    async def main() -> None:
        fake = FakeNode()
        outcomes = [OSError("down"), OSError("down"), OSError("down"), ValueError("garbled"), None, None]
        calls: list[int] = []

        async def step() -> None:
            calls.append(len(calls))
            outcome = outcomes[min(len(calls) - 1, len(outcomes) - 1)]
            if outcome is not None:
                raise outcome

        async with node(fake) as (_, url):
            heads = HeadNotifier(url, SUBSTRATE_FINALIZED_HEADS, poll_interval=0.02, idle_interval=0.02)
            with structlog.testing.capture_logs() as logs:
                task = asyncio.create_task(follow_heads(heads, step, "test_follow_failed", chain="x"))
                try:
                    await _until(lambda: len(calls) >= len(outcomes))  # failures did not stop the loop
                    assert heads.connected  # follow_heads opened the subscription beside the loop
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            assert not heads.connected  # and closed it with the loop
        failures = [e for e in logs if e["event"] == "test_follow_failed"]
        assert [f["error"] for f in failures] == ["OSError: down", "ValueError: garbled"]
        assert all(f["chain"] == "x" for f in failures)

    asyncio.run(main())
