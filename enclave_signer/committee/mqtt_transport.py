"""The committee transport over MQTT (aiomqtt 2.x): QoS 1, reconnection with backoff, a bounded outgoing queue.

Topics: `{prefix}/{committee}/{suffix}` (`broadcast`, `member/{id}`), and `{prefix}/{committee}/_presence/{id}` for
the transport's own presence marks. Delivery guarantees, and how each one is kept:

- publish() only queues; one sender task drains the queue in order, and an item leaves the queue only after the
  broker's PUBACK. A broker outage therefore loses nothing already accepted (up to the queue bound; past it,
  publish() raises `OutgoingQueueFullError` and the caller decides). Unacknowledged items are sent again after
  reconnecting: at-least-once, duplicates are the envelope layer's to drop.
- Persistent sessions (clean_session=False, stable client id) let the broker keep QoS 1 messages for a member
  that is briefly disconnected.
- A broker that restarts without persistence forgets every subscription, so messages flushed before a peer has
  resubscribed would be lost. Each transport marks itself present (a retained message, cleared by its will or on
  close) only after its subscriptions are acknowledged, and a transport with `wait_for_peers` holds its queue after
  each (re)connection until those peers are present, or `peer_wait` elapses. The marks are not authenticated: a
  hostile broker can drop messages anyway; they only make an honest broker's restart lossless.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt
import structlog

from enclave_signer.attestation.roster import check_committee_id
from enclave_signer.committee.errors import OutgoingQueueFullError, TransportClosedError, TransportError
from enclave_signer.committee.transport import RawMessage, check_topic_suffix

__all__ = ["MqttTransport", "MqttTransportConfig", "MqttTransportStats"]

_log = structlog.get_logger(__name__)
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
_PRESENCE = "_presence"
_PRESENT = b"1"


@dataclass(frozen=True)
class MqttTransportConfig:
    host: str
    port: int
    committee_id: str
    client_id: str  # unique per member: it names the broker-side persistent session
    topic_prefix: str = "phala-bridge"
    presence_id: str | None = None  # mark this transport present under this id once subscribed
    wait_for_peers: tuple[str, ...] = ()  # presence ids to wait for before flushing after each (re)connection
    peer_wait: float = 10.0
    persistent_session: bool = True
    keepalive: int = 15
    outgoing_queue_size: int = 10_000
    incoming_queue_size: int = 10_000
    enqueue_timeout: float = 0.0  # how long publish() may wait for room in a full queue
    connect_timeout: float = 5.0
    operation_timeout: float = 10.0  # PUBACK / SUBACK
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    close_timeout: float = 5.0

    def __post_init__(self) -> None:
        check_committee_id(self.committee_id)
        if not _PREFIX.fullmatch(self.topic_prefix):
            raise ValueError(f"bad topic prefix {self.topic_prefix!r}")
        for ident in (self.presence_id, *self.wait_for_peers):
            if ident is not None:
                check_topic_suffix(ident)
        if min(self.outgoing_queue_size, self.incoming_queue_size) <= 0 or self.backoff_initial <= 0:
            raise ValueError("queue sizes and backoff must be positive")

    @property
    def base_topic(self) -> str:
        return f"{self.topic_prefix}/{self.committee_id}"


@dataclass
class MqttTransportStats:
    connections: int = 0
    connection_losses: int = 0
    published: int = 0
    received: int = 0
    dropped_foreign_topic: int = 0


class _ConnectionLostError(Exception):
    pass


class MqttTransport:
    def __init__(self, config: MqttTransportConfig) -> None:
        self.config = config
        self.stats = MqttTransportStats()
        self._outgoing: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(config.outgoing_queue_size)
        self._inflight: tuple[str, bytes] | None = None
        self._incoming: asyncio.Queue[RawMessage | None] = asyncio.Queue(config.incoming_queue_size)
        self._subscriptions: list[str] = []
        self._peers: set[str] = set()
        self._client: aiomqtt.Client | None = None
        self._peers_changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: BaseException | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"mqtt-transport-{self.config.client_id}")

    async def __aenter__(self) -> MqttTransport:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def peers_present(self) -> frozenset[str]:
        return frozenset(self._peers)

    @property
    def queued(self) -> int:
        return self._outgoing.qsize() + (self._inflight is not None)

    async def wait_ready(self) -> None:
        """Wait until connected, subscribed and (if configured) every awaited peer is present (or `peer_wait` has
        passed); bound it with `asyncio.timeout`."""
        await self._ready.wait()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self.queued and self._failure is None:
            # Best effort: give the sender (and a reconnection in progress) close_timeout to flush.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.close_timeout):
                    await self._outgoing.join()
        client = self._client
        if client is not None and self.config.presence_id is not None:
            # A graceful disconnect does not fire the will, so clear our presence mark ourselves.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(self._presence_topic(self.config.presence_id), b"", qos=1, retain=True, timeout=1)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._end_incoming()
        _log.info("mqtt_transport_closed", client_id=self.config.client_id, unsent=self.queued, **self._counts())

    # ---- the Transport port -------------------------------------------------------------------------------------

    async def publish(self, topic_suffix: str, payload: bytes) -> None:
        self._check_usable()
        item = (self._topic(topic_suffix), bytes(payload))
        try:
            self._outgoing.put_nowait(item)
            return
        except asyncio.QueueFull:
            if self.config.enqueue_timeout <= 0:
                raise OutgoingQueueFullError(f"{self.config.outgoing_queue_size} messages await the broker") from None
        try:
            async with asyncio.timeout(self.config.enqueue_timeout):
                await self._outgoing.put(item)
        except TimeoutError:
            raise OutgoingQueueFullError(f"{self.config.outgoing_queue_size} messages await the broker") from None

    async def subscribe(self, topic_suffix: str) -> None:
        self._check_usable()
        topic = self._topic(topic_suffix)
        if topic in self._subscriptions:
            return
        self._subscriptions.append(topic)
        client = self._client
        if client is not None:
            # On failure the connection is going down; the next connection subscribes to everything.
            with contextlib.suppress(aiomqtt.MqttError):
                await client.subscribe(topic, qos=1, timeout=self.config.operation_timeout)

    async def messages(self) -> AsyncIterator[RawMessage]:
        while True:
            item = await self._incoming.get()
            if item is None:
                self._incoming.put_nowait(None)  # let any other iterator end too
                if self._failure is not None:
                    raise TransportError(f"transport stopped: {type(self._failure).__name__}") from self._failure
                return
            yield item

    # ---- connection management ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.config.backoff_initial
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    await self._connection(attempt)
                except (aiomqtt.MqttError, _ConnectionLostError, TimeoutError, OSError) as exc:
                    if self._client is not None or attempt == 1:
                        delay = self.config.backoff_initial
                    if self._client is not None:
                        self.stats.connection_losses += 1
                        _log.warning("mqtt_connection_lost", client_id=self.config.client_id, error=str(exc))
                    self._client = None
                    self._ready.clear()
                    sleep = delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
                    _log.info("mqtt_reconnect_backoff", client_id=self.config.client_id, delay=round(sleep, 3))
                    await asyncio.sleep(sleep)
                    delay = min(delay * 2, self.config.backoff_max)
        except Exception as exc:
            # A bug, not a network problem: stop, and let publish/subscribe/messages() raise TransportError.
            self._failure = exc
            _log.exception("mqtt_transport_failed", client_id=self.config.client_id)
            self._end_incoming()
        finally:
            self._client = None
            self._ready.clear()

    async def _connection(self, attempt: int) -> None:
        cfg = self.config
        will = None
        if cfg.presence_id is not None:
            will = aiomqtt.Will(self._presence_topic(cfg.presence_id), b"", qos=1, retain=True)
        client = aiomqtt.Client(
            cfg.host,
            cfg.port,
            identifier=cfg.client_id,
            clean_session=not cfg.persistent_session,
            keepalive=cfg.keepalive,
            will=will,
            timeout=cfg.connect_timeout,
            max_queued_incoming_messages=cfg.incoming_queue_size,
        )
        # Bounded without cancelling: paho times out the TCP connect (5 s) and aiomqtt the CONNACK (connect_timeout).
        # Cancelling the executor-thread connect instead could leave a late connection that takes over our session.
        await client.__aenter__()
        _disable_nagle(client)
        try:
            self._peers.clear()  # relearnt from the retained marks after subscribing
            await self._subscribe_all(client)
            if cfg.presence_id is not None:
                await client.publish(
                    self._presence_topic(cfg.presence_id), _PRESENT, qos=1, retain=True, timeout=cfg.operation_timeout
                )
            self._client = client
            self.stats.connections += 1
            _log.info("mqtt_connected", client_id=cfg.client_id, host=cfg.host, port=cfg.port, attempt=attempt)
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._receive(client))
                    tg.create_task(self._send(client))
            except* (aiomqtt.MqttError, TimeoutError, OSError) as group:
                raise _ConnectionLostError(str(group.exceptions[0])) from None
        finally:
            # Graceful DISCONNECT when the connection is up (close, cancellation); a no-op once it is lost.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError, OSError):
                async with asyncio.timeout(2):
                    await client.__aexit__(None, None, None)

    async def _subscribe_all(self, client: aiomqtt.Client) -> None:
        wanted = list(self._subscriptions)
        if self.config.wait_for_peers:
            wanted.append(self._presence_topic("+"))
        done: set[str] = set()
        # subscribe() may add topics while we await: loop until nothing is left.
        while pending := [t for t in [*wanted, *self._subscriptions] if t not in done]:
            codes = await client.subscribe([(t, 1) for t in pending], timeout=self.config.operation_timeout)
            refused = [t for t, code in zip(pending, codes or [], strict=False) if getattr(code, "is_failure", False)]
            if refused:
                _log.error("mqtt_subscription_refused", client_id=self.config.client_id, topics=refused)
            done.update(pending)

    async def _send(self, client: aiomqtt.Client) -> None:
        await self._wait_for_peers()
        self._ready.set()
        while True:
            if self._inflight is None:
                self._inflight = await self._outgoing.get()
            topic, payload = self._inflight
            await client.publish(topic, payload, qos=1, timeout=self.config.operation_timeout)
            self._inflight = None
            self.stats.published += 1
            self._outgoing.task_done()

    async def _receive(self, client: aiomqtt.Client) -> None:
        base = self.config.base_topic + "/"
        presence = self._presence_topic("")
        async for message in client.messages:
            topic = message.topic.value
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            if topic.startswith(presence):
                self._on_presence(topic[len(presence) :], bool(payload))
            elif topic.startswith(base):
                self.stats.received += 1
                await self._incoming.put(RawMessage(topic[len(base) :], bytes(payload)))
            else:
                self.stats.dropped_foreign_topic += 1

    async def _wait_for_peers(self) -> None:
        peers = set(self.config.wait_for_peers)
        if not peers:
            return
        try:
            async with asyncio.timeout(self.config.peer_wait):
                while not peers <= self._peers:
                    self._peers_changed.clear()
                    await self._peers_changed.wait()
        except TimeoutError:
            missing = sorted(peers - self._peers)
            _log.warning("mqtt_peers_missing", client_id=self.config.client_id, missing=missing, queued=self.queued)

    def _on_presence(self, ident: str, present: bool) -> None:
        if present:
            self._peers.add(ident)
        else:
            self._peers.discard(ident)
        self._peers_changed.set()

    # ---- helpers ------------------------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closing:
            raise TransportClosedError(f"transport {self.config.client_id} is closed")
        if self._failure is not None:
            raise TransportError(f"transport stopped: {type(self._failure).__name__}")

    def _topic(self, suffix: str) -> str:
        return f"{self.config.base_topic}/{check_topic_suffix(suffix)}"

    def _presence_topic(self, ident: str) -> str:
        return f"{self.config.base_topic}/{_PRESENCE}/{ident}"

    def _end_incoming(self) -> None:
        while not self._incoming.empty():  # closed means done: undelivered messages are dropped
            self._incoming.get_nowait()
        self._incoming.put_nowait(None)

    def _counts(self) -> dict[str, int]:
        s = self.stats
        return {"published": s.published, "received": s.received, "connection_losses": s.connection_losses}


def _disable_nagle(client: aiomqtt.Client) -> None:
    """Committee messages are small and each round waits for the previous one: Nagle's algorithm meeting the peer's
    delayed ACK would add ~40 ms per hop (paho leaves it on). Best effort: TLS or unusual sockets may refuse."""
    sock = client._client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
