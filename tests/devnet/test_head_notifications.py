"""Head notifications from the real nodes: Chopsticks' `chain_subscribeFinalizedHeads` and anvil's `eth_subscribe`
newHeads wake a follower with the new head; a follower whose subscription drops (a proxy between it and Chopsticks
is closed) keeps reading the chain by polling, and subscribes again when the way is back."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import pytest

from bridge.devnet import DevnetState
from relayers.heads import ETHEREUM_NEW_HEADS, SUBSTRATE_FINALIZED_HEADS, HeadNotifier, ws_url_of
from relayers.substrate import PhalaConfig, SubstrateClient
from relayers.substrate.chain import ChainReader
from relayers.substrate.dispatcher import PhalaDestination
from relayers.substrate.session import ClientSession

pytestmark = pytest.mark.devnet

RID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")


async def _until(check: Callable[[], bool], within: float = 60.0) -> None:
    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), within)


def _new_phala_block(url: str) -> int:
    """Build one block on Chopsticks (it finalizes at once); its number."""
    with SubstrateClient(url) as chain:
        chain.rpc("dev_newBlock", [{"count": 1}])
        return ChainReader(chain).finalized_head().block_number


class Proxy:
    """A TCP relay to the node; `cut()` closes every connection through it and stops listening, `restore()`
    listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()


def test_chopsticks_finalized_heads_wake_the_waiter(devnet: DevnetState) -> None:
    async def main() -> None:
        heads = HeadNotifier(devnet.phala.ws_url, SUBSTRATE_FINALIZED_HEADS, poll_interval=60, idle_interval=60)
        task = asyncio.create_task(heads.run())
        try:
            await _until(lambda: heads.connected)
            await heads.wait()  # the read-once wake-up on subscribing
            number = await asyncio.to_thread(_new_phala_block, devnet.phala.ws_url)
            assert await asyncio.wait_for(heads.wait(), 60)  # a notification, not the 60 s interval
            await _until(lambda: heads.latest is not None and heads.latest >= number)
        finally:
            task.cancel()

    asyncio.run(main())


def test_anvil_new_heads_wake_the_waiter(devnet: DevnetState) -> None:
    async def main() -> None:
        url = ws_url_of(devnet.ethereum.rpc_url)  # anvil serves WebSocket on its HTTP port
        heads = HeadNotifier(url, ETHEREUM_NEW_HEADS, poll_interval=60, idle_interval=60)
        task = asyncio.create_task(heads.run())
        try:
            await _until(lambda: heads.connected)
            await heads.wait()
            assert await asyncio.wait_for(heads.wait(), 60)  # anvil mines a block every second on the devnet
            first = heads.latest
            assert first is not None
            await _until(lambda: heads.latest is not None and heads.latest > first)
        finally:
            task.cancel()

    asyncio.run(main())


def test_a_dropped_subscription_falls_back_to_polling_and_comes_back(devnet: DevnetState) -> None:
    port = int(devnet.phala.ws_url.rsplit(":", 1)[1].split("/")[0])

    async def main() -> None:
        proxy = Proxy(port)
        await proxy.start()
        with SubstrateClient(devnet.phala.ws_url) as chain:
            head = ChainReader(chain).finalized_head().block_number
        # The subscription goes through the proxy; the reads go straight to the node.
        config = PhalaConfig(
            url=f"ws://127.0.0.1:{proxy.port}",
            bridge_account=os.urandom(32),
            resource_id=RID,
            start_block=head,
            index_start_block=head,
        )
        dest = PhalaDestination(config, session=ClientSession(devnet.phala.ws_url))
        task = asyncio.create_task(dest.follow(interval=0.2))
        try:
            await _until(lambda: dest.heads is not None and dest.heads.connected)
            heads = dest.heads
            assert heads is not None
            number = await asyncio.to_thread(_new_phala_block, devnet.phala.ws_url)
            await _until(lambda: dest.index.scanned is not None and dest.index.scanned.block_number >= number)
            assert heads.latest is not None and heads.latest >= number  # seen through the subscription

            await proxy.cut()
            await _until(lambda: not heads.connected)
            seen = heads.notifications
            number = await asyncio.to_thread(_new_phala_block, devnet.phala.ws_url)
            # No notification can arrive now: the follower reads the block by polling.
            await _until(lambda: dest.index.scanned is not None and dest.index.scanned.block_number >= number)
            assert heads.notifications == seen and not heads.connected

            await proxy.restore()
            await _until(lambda: heads.connected)  # re-subscribed after its backoff
            number = await asyncio.to_thread(_new_phala_block, devnet.phala.ws_url)
            await _until(lambda: heads.latest is not None and heads.latest >= number)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            dest.session.close()
            await proxy.cut()

    asyncio.run(main())
