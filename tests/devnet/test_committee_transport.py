"""Five committee members over a real MQTT broker: signed envelopes (broadcast and direct, encrypted), a hostile
client injecting replayed, tampered, unsigned and forged messages, and a broker restart mid-exchange whose outage
loses nothing the members published meanwhile."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import aiomqtt
import pytest

from bridge.devnet.broker import BrokerNode, start_broker
from bridge.devnet.processes import ProcessSupervisor
from enclave_signer.committee import (
    BROADCAST_TOPIC,
    Envelope,
    EnvelopeRejectedError,
    EnvelopeVerifier,
    Inbound,
    member_topic,
)
from enclave_signer.committee.mqtt_transport import MqttTransport, MqttTransportConfig
from enclave_signer.identity import IdentityKey
from tests.unit.enclave.helpers import SESSION, Committee, WallClock, build_committee

PREFIX = "phala-bridge-test"
COMMITTEE = "devnet"


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Member:
    def __init__(self, committee: Committee, member_id: int, broker: BrokerNode) -> None:
        self.id = member_id
        peers = tuple(str(m) for m in committee.roster.member_ids if m != member_id)
        self.transport = MqttTransport(
            MqttTransportConfig(
                host=broker.host,
                port=broker.port,
                committee_id=COMMITTEE,
                client_id=f"{PREFIX}-member-{member_id}",
                topic_prefix=PREFIX,
                presence_id=str(member_id),
                wait_for_peers=peers,
                peer_wait=15,
                backoff_initial=0.05,
                backoff_max=0.5,
                operation_timeout=3,
            )
        )
        self.signer = committee.signer(member_id)
        self.verifier: EnvelopeVerifier = committee.receiver(member_id)
        self.received: list[Inbound] = []

    def payloads(self) -> set[bytes]:
        return {i.payload for i in self.received}

    async def consume(self) -> None:
        async for raw in self.transport.messages():
            try:
                self.received.append(self.verifier.open(raw.payload))
            except EnvelopeRejectedError:
                continue  # counted in verifier.rejections

    async def exchange(self, phase: str, others: list[int]) -> None:
        bcast = self.signer.broadcast(session_id=SESSION, kind="test.bcast", payload=f"{phase} from {self.id}".encode())
        await self.transport.publish(BROADCAST_TOPIC, bcast)
        for other in others:
            share = f"{phase} {self.id}->{other}".encode()
            raw = self.signer.send_to(other, session_id=SESSION, kind="test.share", payload=share)
            await self.transport.publish(member_topic(other), raw)


def _expected(phase: str, me: int, ids: list[int]) -> set[bytes]:
    others = [o for o in ids if o != me]
    return {f"{phase} from {o}".encode() for o in others} | {f"{phase} {o}->{me}".encode() for o in others}


async def _scenario(committee: Committee, supervisor: ProcessSupervisor, broker: BrokerNode, work_dir: Path) -> None:
    ids = list(committee.roster.member_ids)
    members = {m: Member(committee, m, broker) for m in ids}
    async with asyncio.TaskGroup() as tg:
        for member in members.values():
            await member.transport.subscribe(BROADCAST_TOPIC)
            await member.transport.subscribe(member_topic(member.id))
            await member.transport.start()
            tg.create_task(member.consume())
        async with asyncio.timeout(20):
            await asyncio.gather(*(m.transport.wait_ready() for m in members.values()))

        # Phase 1: every member broadcasts and sends an encrypted share to every other member.
        for m in members.values():
            await m.exchange("p1", [o for o in ids if o != m.id])
        await _until(lambda: all(_expected("p1", i, ids) <= members[i].payloads() for i in ids), 10, "phase 1")

        # A hostile client on the broker: replay, tamper, strip and zero signatures, forge an unknown sender.
        await _inject(members, broker)

        def all_refused() -> bool:
            ok = members[2].verifier.rejections["bad_signature"] >= 2  # the tampered share was addressed to member 2
            for m in members.values():
                r = m.verifier.rejections
                # Member 1 sees its own replayed broadcast as an echo, the others as a replay.
                replayed = r["own_message"] >= 2 if m.id == 1 else r["replay"] >= 1
                ok = ok and replayed and r["bad_signature"] >= 1 and r["unknown_sender"] >= 1 and r["malformed"] >= 1
            return ok

        await _until(all_refused, 10, "every injected message to be refused")
        assert not any(m.payloads() & {b"tampered", b"forged"} for m in members.values())

        # Phase 2: the broker goes down; members keep publishing; it comes back on the same port.
        await asyncio.to_thread(supervisor.stop, broker.process)
        await _until(lambda: not any(m.transport.connected for m in members.values()), 10, "disconnection")
        for m in members.values():
            await m.exchange("p2", [o for o in ids if o != m.id])
            assert m.transport.queued == len(ids)  # 1 broadcast + n-1 shares, held for the broker
        restarted = await asyncio.to_thread(
            start_broker, supervisor, work_dir=work_dir, preference=broker.kind, port=broker.port, name="broker-2"
        )
        assert restarted.port == broker.port
        await _until(lambda: all(_expected("p2", i, ids) <= members[i].payloads() for i in ids), 30, "phase 2")
        for m in members.values():
            assert m.transport.stats.connection_losses >= 1 and m.transport.queued == 0
            # Exactly once at the envelope layer: each payload accepted once, even if the transport resent it.
            assert len(m.received) == len({(i.envelope.sender, i.envelope.seq) for i in m.received})

        for member in members.values():
            await member.transport.close()


async def _inject(members: dict[int, Member], broker: BrokerNode) -> None:
    base = f"{PREFIX}/{COMMITTEE}"
    captured = members[1].signer.broadcast(session_id=SESSION, kind="test.bcast", payload=b"genuine")
    share = Envelope.from_bytes(
        members[1].signer.send_to(2, session_id=SESSION, kind="test.share", payload=b"share", encrypt=False)
    )
    tampered = dataclasses.replace(share, payload=b"tampered").to_bytes()
    unsigned = dataclasses.replace(Envelope.from_bytes(captured), signature=bytes(64)).to_bytes()
    stripped = captured[:-64]
    outsider = IdentityKey.generate()
    forged_env = dataclasses.replace(Envelope.from_bytes(captured), sender=9, payload=b"forged")
    forged = dataclasses.replace(forged_env, signature=outsider.sign(forged_env.signing_bytes())).to_bytes()
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"{PREFIX}-attacker") as attacker:
        await members[1].transport.publish(BROADCAST_TOPIC, captured)
        await _until(lambda: all(b"genuine" in members[i].payloads() for i in (2, 3, 4, 5)), 10, "the genuine message")
        for topic, payload in [
            (f"{base}/broadcast", captured),  # replay
            (f"{base}/member/2", tampered),
            (f"{base}/broadcast", unsigned),
            (f"{base}/broadcast", forged),
            (f"{base}/broadcast", stripped),
        ]:
            await attacker.publish(topic, payload, qos=1)


@pytest.mark.devnet
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["auto", "embedded"])
def test_committee_over_a_real_broker_survives_a_restart(tmp_path: Path, kind: Literal["auto", "embedded"]) -> None:
    supervisor = ProcessSupervisor(tmp_path / "logs")
    try:
        broker = start_broker(supervisor, work_dir=tmp_path, preference=kind)
        committee = build_committee(clock=WallClock())
        asyncio.run(asyncio.wait_for(_scenario(committee, supervisor, broker, tmp_path), 75))
    finally:
        supervisor.stop_all()
