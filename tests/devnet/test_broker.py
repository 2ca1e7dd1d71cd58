"""The devnet broker (and the embedded fallback): a publish/subscribe round trip through a real MQTT broker."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiomqtt
import pytest

from bridge.devnet import DevnetState
from bridge.devnet.broker import start_broker
from bridge.devnet.processes import ProcessSupervisor


async def _round_trip(host: str, port: int) -> list[bytes]:
    topic = f"phala-bridge/test/{os.getpid()}"
    payloads = [b"first", b"\x00binary\xff", b"x" * 65_536]
    async with (
        aiomqtt.Client(host, port, identifier="sub") as sub,
        aiomqtt.Client(host, port, identifier="pub") as pub,
    ):
        await sub.subscribe(topic, qos=1)
        for p in payloads:
            await pub.publish(topic, p, qos=1)
        got: list[bytes] = []
        async with asyncio.timeout(10):
            async for message in sub.messages:
                assert isinstance(message.payload, bytes | bytearray)
                got.append(bytes(message.payload))
                if len(got) == len(payloads):
                    break
    assert got == payloads
    return got


def test_devnet_broker_round_trip(devnet: DevnetState) -> None:
    asyncio.run(_round_trip(devnet.broker.host, devnet.broker.port))


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_each_broker_kind_round_trip(kind: str, tmp_path: Path) -> None:
    if kind == "mosquitto":
        from bridge.devnet.broker import mosquitto_binary

        if mosquitto_binary() is None:
            pytest.skip("mosquitto is not installed on this machine")
    sup = ProcessSupervisor(tmp_path)
    try:
        broker = start_broker(sup, work_dir=tmp_path, preference=kind)  # type: ignore[arg-type]
        assert broker.kind == kind
        asyncio.run(_round_trip(broker.host, broker.port))
    finally:
        sup.stop_all()
