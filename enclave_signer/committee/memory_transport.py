"""An in-process hub: N transports in one event loop, for unit tests and single-process simulations.

It behaves like the broker where it matters to the protocol: a subscriber to a topic gets every publication to it,
its own included (MQTT 3.1.1 echoes them too), and payloads are opaque bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from enclave_signer.committee.errors import TransportClosedError
from enclave_signer.committee.transport import RawMessage, check_topic_suffix

__all__ = ["MemoryHub", "MemoryTransport"]


class MemoryHub:
    def __init__(self) -> None:
        self._transports: list[MemoryTransport] = []
        self.published = 0

    def connect(self, name: str = "") -> MemoryTransport:
        transport = MemoryTransport(self, name)
        self._transports.append(transport)
        return transport

    def _deliver(self, topic_suffix: str, payload: bytes) -> None:
        self.published += 1
        for transport in list(self._transports):
            transport._receive(topic_suffix, payload)

    def _detach(self, transport: MemoryTransport) -> None:
        if transport in self._transports:
            self._transports.remove(transport)


class MemoryTransport:
    def __init__(self, hub: MemoryHub, name: str) -> None:
        self._hub = hub
        self.name = name
        self._subscriptions: set[str] = set()
        self._queue: asyncio.Queue[RawMessage | None] = asyncio.Queue()
        self._closed = False

    async def publish(self, topic_suffix: str, payload: bytes) -> None:
        if self._closed:
            raise TransportClosedError(f"transport {self.name!r} is closed")
        self._hub._deliver(check_topic_suffix(topic_suffix), bytes(payload))

    async def subscribe(self, topic_suffix: str) -> None:
        if self._closed:
            raise TransportClosedError(f"transport {self.name!r} is closed")
        self._subscriptions.add(check_topic_suffix(topic_suffix))

    async def messages(self) -> AsyncIterator[RawMessage]:
        while True:
            item = await self._queue.get()
            if item is None:
                self._queue.put_nowait(None)  # let any other iterator end too
                return
            yield item

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub._detach(self)
            while not self._queue.empty():  # closed means done: undelivered messages are dropped
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def _receive(self, topic_suffix: str, payload: bytes) -> None:
        if not self._closed and topic_suffix in self._subscriptions:
            self._queue.put_nowait(RawMessage(topic_suffix, payload))
