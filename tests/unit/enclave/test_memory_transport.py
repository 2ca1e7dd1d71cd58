"""Five members over the in-memory hub: broadcast and direct envelopes, with a hostile party on the hub."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from enclave_signer.committee import (
    BROADCAST_TOPIC,
    EnvelopeRejectedError,
    EnvelopeVerifier,
    Inbound,
    MemoryHub,
    MemoryTransport,
    Transport,
    TransportClosedError,
    member_topic,
)
from tests.unit.enclave.helpers import SESSION, Committee


async def _collect(transport: Transport, verifier: EnvelopeVerifier, want: int) -> list[Inbound]:
    got: list[Inbound] = []
    async for raw in transport.messages():
        try:
            got.append(verifier.open(raw.payload))
        except EnvelopeRejectedError:
            continue
        if len(got) == want:
            break
    return got


async def _collect_rest(transport: Transport, verifier: EnvelopeVerifier) -> list[Inbound]:
    got: list[Inbound] = []
    stream = transport.messages()
    while True:
        try:
            raw = await asyncio.wait_for(anext(stream), 0.05)
        except TimeoutError:
            return got
        with contextlib.suppress(EnvelopeRejectedError):
            got.append(verifier.open(raw.payload))


def test_five_parties_broadcast_and_direct(committee: Committee) -> None:
    async def scenario() -> None:
        hub = MemoryHub()
        members = committee.roster.member_ids
        transports = {m: hub.connect(f"member-{m}") for m in members}
        attacker = hub.connect("attacker")
        verifiers = {m: committee.receiver(m) for m in members}
        for m, t in transports.items():
            assert isinstance(t, Transport)
            await t.subscribe(BROADCAST_TOPIC)
            await t.subscribe(member_topic(m))
        await attacker.subscribe(BROADCAST_TOPIC)
        for m in members:
            await attacker.subscribe(member_topic(m))

        # Each member broadcasts once and sends one encrypted share to every other member: 4 + 4 = 8 each.
        for m in members:
            signer = committee.signer(m)
            await transports[m].publish(BROADCAST_TOPIC, signer.broadcast(session_id=SESSION, kind="r1", payload=b"c"))
            for other in members:
                if other != m:
                    raw = signer.send_to(other, session_id=SESSION, kind="r2", payload=f"{m}->{other}".encode())
                    await transports[m].publish(member_topic(other), raw)
        # The attacker replays everything it saw, to everyone, and injects garbage.
        seen: list[bytes] = []
        for _ in range(len(members) * len(members)):
            seen.append((await anext(attacker.messages())).payload)
        for raw in seen:
            await attacker.publish(BROADCAST_TOPIC, raw)
        await attacker.publish(BROADCAST_TOPIC, b"garbage")

        async with asyncio.timeout(5):
            results = await asyncio.gather(*(_collect(transports[m], verifiers[m], 8) for m in members))
        for m, got in zip(members, results, strict=True):
            direct = sorted(i.payload for i in got if not i.envelope.is_broadcast)
            assert direct == sorted(f"{o}->{m}".encode() for o in members if o != m)
            assert sum(i.envelope.is_broadcast for i in got) == 4
        # Left: the attacker's 25 replays (8 to us, 12 for others, 5 of ours), its garbage, our echo: all refused.
        for m in members:
            leftover = await _collect_rest(transports[m], verifiers[m])
            assert leftover == []
            rejected = verifiers[m].rejections
            assert rejected["replay"] == 8 and rejected["malformed"] == 1 and rejected["own_message"] == 6
            assert rejected["wrong_recipient"] == 12
        for t in [*transports.values(), attacker]:
            await t.close()
        # After close, iteration ends and publishing is refused.
        assert [m async for m in transports[1].messages()] == []
        with pytest.raises(TransportClosedError):
            await transports[1].publish(BROADCAST_TOPIC, b"x")

    asyncio.run(scenario())


def test_topic_suffixes_are_checked() -> None:
    async def scenario() -> None:
        t: MemoryTransport = MemoryHub().connect()
        for bad in ["#", "member/+", "", "_presence/1", "a//b", "x" * 200]:
            with pytest.raises(ValueError):
                await t.subscribe(bad)

    asyncio.run(scenario())
