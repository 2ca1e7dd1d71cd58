"""A committee of in-process nodes over the in-memory hub: simulated platforms, real attestation, fast timings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bridge.enclave_api import SigningRequestModel
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import SigningRequest
from enclave_signer.attestation import SimulatedPlatform, SimulatedQuoteVerifier
from enclave_signer.committee import MemoryHub
from enclave_signer.committee.node import CommitteeConfig, CommitteeNode
from enclave_signer.committee.sessions.common import SessionSettings
from enclave_signer.committee.sessions.dkg import DkgMembers, DkgMemberSession
from enclave_signer.committee.verification import BatchVerifier, SigningRefusal
from enclave_signer.identity import IdentityKey
from enclave_signer.keystore import Keystore
from enclave_signer.measurement import current_measurement

FAST = SessionSettings(
    session_timeout=3.0,
    retransmit_interval=0.05,
    round_timeout=0.5,
    poke_interval=0.2,
    attest_timeout=3.0,
)


class Clock:
    """A clock a test moves by hand (`now`), for code that takes `clock: Callable[[], float]`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RefusingVerifier:
    """A member whose chain does not have the messages."""

    def __init__(self, code: str = "absent", reason: str = "message absent from the source chain") -> None:
        self.code, self.reason = code, reason
        self.calls = 0

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        self.calls += 1
        raise SigningRefusal(self.code, self.reason)


class CountingVerifier:
    def __init__(self) -> None:
        self.calls = 0

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        self.calls += 1


@dataclass
class Cluster:
    hub: MemoryHub
    platforms: dict[int, SimulatedPlatform]
    trusted: dict[str, bytes]
    nodes: dict[int, CommitteeNode] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def node(self, member: int) -> CommitteeNode:
        return self.nodes[member]

    def add(
        self,
        member: int,
        *,
        members: Sequence[int],
        threshold: int,
        epoch: int = 1,
        verifier: BatchVerifier | None = None,
        keystore_dir: Path | None = None,
        identity: IdentityKey | None = None,
        setup: Callable[[CommitteeNode], None] | None = None,
        distrust_strikes: int = 3,
        distrust_ttl: float = 300.0,
        omission_grace: float = 60.0,
        stall_grace: float = 120.0,
        omission_check_interval: float = 5.0,
        **kw: object,
    ) -> CommitteeNode:
        platform = self.platforms.setdefault(member, SimulatedPlatform.generate(f"node-{member}"))
        self.trusted.setdefault(platform.platform_id, platform.root_public_key)
        quote_verifier = SimulatedQuoteVerifier(
            trusted_roots=self.trusted, allowed_measurements=[current_measurement()]
        )
        keystore = None if keystore_dir is None else Keystore(platform.sealer(), keystore_dir)
        ident = identity or (keystore.identity() if keystore is not None else IdentityKey.generate())
        config = CommitteeConfig(
            "test",
            member,
            tuple(members),
            threshold,
            epoch=epoch,
            heartbeat_interval=0.1,
            heartbeat_timeout=0.6,
            relayer_timeout=0.6,
            distrust_strikes=distrust_strikes,
            distrust_ttl=distrust_ttl,
            omission_grace=omission_grace,
            stall_grace=stall_grace,
            omission_check_interval=omission_check_interval,
            attest_interval=0.1,
            sessions=FAST,
        )
        node = CommitteeNode(
            config,
            identity=ident,
            platform=platform,
            quote_verifier=quote_verifier,
            transport=self.hub.connect(f"node-{member}"),
            keystore=keystore,
            verifier=verifier,
            **kw,  # type: ignore[arg-type]
        )
        if setup is not None:
            setup(node)
        self.nodes[member] = node
        self.tasks[member] = asyncio.create_task(node.run(), name=f"node-{member}")
        return node

    async def stop(self, member: int) -> None:
        task = self.tasks.pop(member)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.nodes[member].transport.close()

    async def wait_attested(self, members: Sequence[int], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            for m in members:
                missing = await self.nodes[m].admission.wait_admitted(members, timeout)
                assert not missing, f"member {m} has not attested {missing}"


@contextlib.asynccontextmanager
async def cluster(platform_ids: Sequence[int] = range(1, 8)) -> AsyncIterator[Cluster]:
    """Platforms for `platform_ids` exist (and are trusted) from the start; others are unknown to everyone."""
    platforms = {i: SimulatedPlatform.generate(f"node-{i}") for i in platform_ids}
    c = Cluster(MemoryHub(), platforms, {p.platform_id: p.root_public_key for p in platforms.values()})
    try:
        yield c
    finally:
        for member in list(c.tasks):
            await c.stop(member)


def message(nonce: int, dest: int = 2) -> BridgeMessage:
    return BridgeMessage(
        source_domain=1 if dest == 2 else 2,
        dest_domain=dest,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 20,
        recipient=b"\x22" * 32,
        resource_id=b"\x33" * 32,
        source_amount=10**18,
        amount=10**12,
        source=SourceRef(block_number=nonce, block_hash=b"\x44" * 32, tx_hash=b"\x55" * 32, index=0),
    )


def batch(count: int = 3, dest: int = 2, start: int = 1) -> tuple[SigningRequestModel, tuple[BridgeMessage, ...]]:
    msgs = tuple(message(start + i, dest) for i in range(count))
    payload = bytes(range(32)) + start.to_bytes(8, "big")
    request = SigningRequestModel(destination=dest, message_ids=tuple(m.id_hex for m in msgs), payload=payload)
    return request, msgs


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    """Run an async scenario with an overall bound (a hang fails the test instead of blocking the suite)."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await scenario()

    asyncio.run(bounded())


async def started(c: Cluster, members: Sequence[int], *, threshold: int = 3, **kw: object) -> None:
    """Add `members` as a committee with `threshold`, wait until everyone has attested everyone."""
    for m in members:
        c.add(m, members=members, threshold=threshold, **kw)  # type: ignore[arg-type]
    for m in members:
        await c.node(m).wait_started()
    await c.wait_attested(members)


async def with_dkg(c: Cluster, members: Sequence[int] = (1, 2, 3, 4, 5), threshold: int = 3, **kw: object) -> None:
    await started(c, members, threshold=threshold, **kw)
    await c.node(members[0]).dkg(timeout_s=10)


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for a condition (polling; the protocols run on the same loop)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def metric(node: CommitteeNode, name: str, **labels: str) -> float:
    """A committee metric's current value (0 when never incremented)."""
    value = node.metrics.registry.get_sample_value(f"phala_bridge_committee_{name}_total", labels)
    return value or 0.0


def playing(cls: type[DkgMemberSession]) -> Callable[[CommitteeNode], None]:
    """A node setup that runs the DKG with `cls` as this member's session (a scripted misbehaviour)."""

    def setup(node: CommitteeNode) -> None:
        node.dkg_members = DkgMembers(node)
        node.dkg_members.session_class = cls

    return setup
