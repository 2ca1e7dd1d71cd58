"""Wake-ups on new heads from a node's WebSocket subscription, for loops that otherwise poll a chain.

A notification is a hint to read, never the source of truth: the loop that waits here reads the chain itself after
each wake-up, exactly as after a poll, so a lost, late, duplicated or lying notification costs at most one poll
interval, never a wrong answer. While the subscription is down (refused, dropped, never offered by the node),
`wait` falls back to the poll interval and the subscription is re-opened with backoff (each failure logged). While
it is up, `wait` still returns after `idle_interval` without a notification: a node that stops notifying without
closing the socket degrades to slow polling, not to silence.

Substrate: `chain_subscribeFinalizedHeads` (notifications carry the finalized header). Ethereum:
`eth_subscribe(["newHeads"])` (the head; finality is computed from it by the reader: a confirmation depth or the
`finalized` tag). anvil serves WebSocket on its HTTP port, so `ws_url_of` derives the address from the HTTP one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect

log = structlog.get_logger("heads")


@dataclass(frozen=True)
class Subscription:
    method: str
    params: tuple[Any, ...] = ()


SUBSTRATE_FINALIZED_HEADS = Subscription("chain_subscribeFinalizedHeads")
ETHEREUM_NEW_HEADS = Subscription("eth_subscribe", ("newHeads",))


class SubscriptionRefused(Exception):
    """The node answered the subscribe request with an error (or not at all as expected)."""


def ws_url_of(url: str) -> str:
    """The WebSocket address of a JSON-RPC endpoint: ws(s):// as it is, http(s):// mapped to ws(s):// on the same
    host and port (anvil, geth and reth with WS on the HTTP port; elsewhere the subscription fails and the waiting
    loop polls)."""
    if url.startswith(("ws://", "wss://")):
        return url
    if url.startswith("https://"):
        return "wss://" + url.removeprefix("https://")
    if url.startswith("http://"):
        return "ws://" + url.removeprefix("http://")
    raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")


def head_number(notification: Any) -> int | None:
    """The block number a subscription notification carries (Substrate and Ethereum headers both name it `number`,
    as hex); None for anything else (a reply, a malformed message)."""
    if not isinstance(notification, dict):
        return None
    params = notification.get("params")
    if not isinstance(params, dict):
        return None
    result = params.get("result")
    if not isinstance(result, dict):
        return None
    number = result.get("number")
    try:
        return int(number, 16) if isinstance(number, str) else None
    except ValueError:
        return None


Connector = Callable[[str], Any]  # url -> an async context manager yielding a connection (tests pass their own)


class HeadNotifier:
    """One subscription, one consumer: `run()` as a task, `wait()` in the consumer's loop."""

    def __init__(
        self,
        url: str,
        subscription: Subscription,
        *,
        poll_interval: float = 0.5,
        idle_interval: float = 5.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 10.0,
        name: str = "",
        connector: Connector | None = None,
    ) -> None:
        self.url = url
        self.subscription = subscription
        self.poll_interval = poll_interval
        self.idle_interval = idle_interval
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.name = name or url
        self._connector = connector or _connect
        self._woken = asyncio.Event()
        self.connected = False
        self.latest: int | None = None  # the highest head number notified (a hint)
        self.notifications = 0
        self.reconnects = 0

    async def wait(self) -> bool:
        """Until the next notification (True), or until the interval runs out (False): the poll interval while the
        subscription is down, `idle_interval` while it is up. A notification that came while the consumer was busy
        wakes the next call at once, so nothing is missed between a read and the next wait."""
        interval = self.idle_interval if self.connected else self.poll_interval
        try:
            await asyncio.wait_for(self._woken.wait(), interval)
        except TimeoutError:
            return False
        self._woken.clear()
        return True

    async def run(self) -> None:
        """Keep the subscription open until cancelled: reconnect with doubling backoff after any failure."""
        delay = self.backoff
        while True:
            try:
                async with self._connector(self.url) as ws:
                    await self._subscribe(ws)
                    self.connected = True
                    log.info("head_subscription_open", chain=self.name, method=self.subscription.method)
                    delay = self.backoff
                    self._woken.set()  # heads may have passed while it was down: read once now
                    await self._listen(ws)
                error = "closed by the node"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the socket or the node: poll meanwhile, retry later
                error = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
            self.reconnects += 1
            log.warning("head_subscription_down", chain=self.name, error=error, retry_in=delay, fallback="polling")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def _subscribe(self, ws: ClientConnection) -> None:
        request = {"jsonrpc": "2.0", "id": 1, "method": self.subscription.method, "params": [*self.subscription.params]}
        await ws.send(json.dumps(request))
        while True:  # a notification may come before the reply only on a reused socket; skip anything else
            reply = json.loads(await asyncio.wait_for(ws.recv(), self.timeout))
            if isinstance(reply, dict) and reply.get("id") == 1:
                break
        if "error" in reply or reply.get("result") is None:
            raise SubscriptionRefused(f"{self.subscription.method}: {reply.get('error', reply)}")

    async def _listen(self, ws: ClientConnection) -> None:
        async for raw in ws:
            with contextlib.suppress(ValueError):
                number = head_number(json.loads(raw))
                if number is None:
                    continue
                self.notifications += 1
                if self.latest is None or number > self.latest:
                    self.latest = number
                self._woken.set()


async def follow_heads(heads: HeadNotifier, step: Callable[[], Awaitable[None]], event: str, **fields: Any) -> None:
    """Run `step` now and after every wake-up of `heads` (whose subscription runs beside it), until cancelled.
    A failing step is logged as `event` once per distinct error (a chain that is down is not a log flood) and tried
    again on the next wake-up: the followers' views may lag, never stop."""
    subscription = asyncio.create_task(heads.run(), name=f"{heads.name}-heads")
    last_error = ""
    try:
        while True:
            try:
                await step()
                last_error = ""
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if error != last_error:
                    log.warning(event, error=error, **fields)
                last_error = error
            await heads.wait()
    finally:
        subscription.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await subscription


def _connect(url: str) -> Any:
    # Pings detect a dead peer that never closes; the size limit fits any header.
    return connect(url, open_timeout=10, ping_interval=10, ping_timeout=10, max_size=2**22)


__all__ = [
    "ETHEREUM_NEW_HEADS",
    "SUBSTRATE_FINALIZED_HEADS",
    "HeadNotifier",
    "Subscription",
    "SubscriptionRefused",
    "head_number",
    "ws_url_of",
]
