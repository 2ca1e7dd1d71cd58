"""The MQTT transport with no broker at all: it keeps trying, holds what is published (up to its bound), refuses
more with a typed error, and still closes promptly. The broker-backed behaviour is in tests/devnet."""

from __future__ import annotations

import asyncio
import socket

import pytest

from enclave_signer.committee import (
    BROADCAST_TOPIC,
    OutgoingQueueFullError,
    Transport,
    TransportClosedError,
    TransportError,
    member_topic,
)
from enclave_signer.committee.mqtt_transport import MqttTransport, MqttTransportConfig


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens here now: connections are refused at once


def _config(**kw: object) -> MqttTransportConfig:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": _closed_port(),
        "committee_id": "devnet",
        "client_id": "offline-1",
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "outgoing_queue_size": 3,
        "close_timeout": 0.2,
    }
    return MqttTransportConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_outage_queue_is_bounded_and_close_is_prompt() -> None:
    async def scenario() -> None:
        transport = MqttTransport(_config())
        assert isinstance(transport, Transport)
        async with transport:
            await transport.subscribe(BROADCAST_TOPIC)
            for i in range(3):
                await transport.publish(member_topic(2), f"m{i}".encode())
            with pytest.raises(OutgoingQueueFullError):
                await transport.publish(BROADCAST_TOPIC, b"one too many")
            await asyncio.sleep(0.2)  # several refused connection attempts
            assert not transport.connected and transport.queued == 3
        assert transport.queued == 3  # close waited close_timeout for a broker, then gave up (and logged it)
        # Closed: iteration ends, publishing is refused, closing again is harmless.
        async with asyncio.timeout(1):
            assert [m async for m in transport.messages()] == []
        with pytest.raises(TransportClosedError):
            await transport.publish(BROADCAST_TOPIC, b"x")
        await transport.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_publish_may_wait_for_room() -> None:
    async def scenario() -> None:
        transport = MqttTransport(_config(outgoing_queue_size=1, enqueue_timeout=0.1))
        await transport.publish(BROADCAST_TOPIC, b"a")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OutgoingQueueFullError):
            await transport.publish(BROADCAST_TOPIC, b"b")
        assert loop.time() - started >= 0.09
        await transport.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "bad",
    [
        {"committee_id": "Bad/Id"},
        {"topic_prefix": "a/#"},
        {"topic_prefix": ""},
        {"presence_id": "+"},
        {"wait_for_peers": ("ok", "#")},
        {"outgoing_queue_size": 0},
    ],
)
def test_config_is_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _config(**bad)


def test_topics() -> None:
    cfg = _config(topic_prefix="phala-bridge/test")
    transport = MqttTransport(cfg)
    assert transport._topic(member_topic(3)) == "phala-bridge/test/devnet/member/3"
    assert transport._presence_topic("3") == "phala-bridge/test/devnet/_presence/3"
    with pytest.raises(ValueError):
        transport._topic("member/#")


def test_a_bug_in_the_runner_surfaces_as_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: MqttTransport, attempt: int) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(MqttTransport, "_connection", broken)

    async def scenario() -> None:
        async with MqttTransport(_config()) as transport:
            with pytest.raises(TransportError, match="RuntimeError"):
                async with asyncio.timeout(2):
                    async for _ in transport.messages():
                        pass
            with pytest.raises(TransportError):
                await transport.publish(BROADCAST_TOPIC, b"x")

    asyncio.run(scenario())
