"""A leader that censors by never proposing a message loses the lead (omission.py, code `skipped`), on the in-memory
committee (5 members, t = 3, DKG done; member 1 leads): the members' verifiers are a shared fake chain that also
answers `OmissionView.outstanding`. An honest leader, proposing in order while some members' views lag, is not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bridge.enclave_api import SigningRequestModel
from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.omission import Lane, lane_of
from enclave_signer.committee.verification import SigningRefusal
from tests.unit.committee.helpers import Cluster, cluster, message, metric, run, until

IDS = (1, 2, 3, 4, 5)
GRACE = 0.4


class Chain:
    """The source chain's final messages and what the destination executed, as every member's own view reads it;
    `lagging` members do not see a message final until `caught_up` is called."""

    def __init__(self) -> None:
        self.final: list[BridgeMessage] = []
        self.executed: set[str] = set()
        self.hidden: set[str] = set()


class ChainVerifier:
    def __init__(self, chain: Chain, *, lagging: bool = False) -> None:
        self.chain, self.lagging = chain, lagging

    def _final(self) -> list[BridgeMessage]:
        return [m for m in self.chain.final if not (self.lagging and m.id_hex in self.chain.hidden)]

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        known = {m.id_hex for m in self._final()}
        for m in messages:
            if m.id_hex not in known:
                raise SigningRefusal("absent", f"message {m.id_hex} is absent from the source chain")

    async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
        out = [
            m for m in self._final() if lane_of(m) == lane and m.nonce < below and m.id_hex not in self.chain.executed
        ]
        return sorted(out, key=lambda m: m.nonce)[:limit]


def _views(c: Cluster) -> list[CommitteeNode]:
    return [c.node(m) for m in IDS]


async def _deliver(c: Cluster, chain: Chain, leader: int, nonces: Sequence[int]) -> bool:
    """`leader`'s relayer proposes these messages; signed ones are executed on the destination."""
    msgs = tuple(message(n) for n in nonces)
    payload = bytes(range(32)) + bytes(8) + nonces[0].to_bytes(8, "big")
    request = SigningRequestModel(destination=2, message_ids=tuple(m.id_hex for m in msgs), payload=payload)
    try:
        await c.node(leader).sign("ed25519", request, msgs)
    except Exception:
        return False
    chain.executed |= {m.id_hex for m in msgs}
    return True


async def _committee(c: Cluster, chain: Chain, lagging: Sequence[int] = ()) -> None:
    for m in IDS:
        c.add(
            m,
            members=IDS,
            threshold=3,
            verifier=ChainVerifier(chain, lagging=m in lagging),
            omission_grace=GRACE,
            omission_check_interval=0.05,
        )
    for m in IDS:
        await c.node(m).wait_started()
    await c.wait_attested(IDS)
    await c.node(1).dkg(timeout_s=10)


def test_a_leader_that_never_proposes_one_message_loses_the_lead_and_the_next_delivers_it() -> None:
    async def scenario() -> None:
        chain = Chain()
        async with cluster() as c:
            await _committee(c, chain)
            views = _views(c)
            await until(lambda: all(v.leader() == 1 for v in views), what="member 1 leading")
            chain.final = [message(n) for n in range(1, 8)]
            censored = message(2).id_hex
            assert await _deliver(c, chain, 1, [1])
            assert await _deliver(c, chain, 1, [3, 4])  # 2 passed over
            await until(
                lambda: all(c.node(m).distrust.strikes_against(1) >= 1 for m in (2, 3, 4, 5)),
                timeout=GRACE * 4,
                what="a first `skipped` strike",
            )
            assert all(v.leader() == 1 for v in views)  # one strike: not yet
            assert await _deliver(c, chain, 1, [5, 6])  # honest batches in between do not clear it
            await until(lambda: all(v.leader() == 2 for v in views), timeout=GRACE * 10, what="member 2 leading")
            assert all(v.members_up() == IDS for v in views)  # member 1 is up, only not leading
            assert all(metric(c.node(m), "skipped_messages", destination="2", lane="message") >= 3 for m in (2, 3, 4))
            assert not chain.executed >= {censored}
            # The next leader proposes the waiting message with the rest, in order: delivered, and nobody strikes it.
            assert await _deliver(c, chain, 2, [2, 7])
            assert censored in chain.executed
            await asyncio.sleep(GRACE * 3)
            assert all(v.distrust.strikes_against(2) == 0 for v in views)
            assert all(v.leader() == 2 for v in views)

    run(scenario)


def test_an_honest_leader_with_lagging_members_is_not_struck() -> None:
    """Members 4 and 5 see messages final late: they refuse (`absent`) and, for them, the messages do not wait yet;
    the leader proposes in lane order, batches split and retried. Nobody is struck over several grace periods."""

    async def scenario() -> None:
        chain = Chain()
        async with cluster() as c:
            await _committee(c, chain, lagging=(4, 5))
            views = _views(c)
            await until(lambda: all(v.leader() == 1 for v in views), what="member 1 leading")
            chain.final = [message(n) for n in range(1, 13)]
            chain.hidden = {message(n).id_hex for n in range(7, 13)}
            assert await _deliver(c, chain, 1, [1, 2, 3])
            assert await _deliver(c, chain, 1, [5, 6])  # the batcher split the lane: 4 follows at once
            assert await _deliver(c, chain, 1, [4])
            assert await _deliver(c, chain, 1, [7, 8, 9])  # 2 and 3 approve (t = 3 with the leader)
            chain.hidden.clear()  # the laggards catch up
            await asyncio.sleep(GRACE * 2)
            assert await _deliver(c, chain, 1, [10, 11, 12])
            await asyncio.sleep(GRACE * 3)
            assert all(v.distrust.strikes_against(1) == 0 for v in views)
            assert all(metric(v, "skipped_messages", destination="2", lane="message") == 0 for v in views)
            assert all(v.leader() == 1 for v in views)

    run(scenario)


class CoveringVerifier(ChainVerifier):
    """Names the lanes it enumerates (`LaneCoverage`): a leader proposing nothing there is seen stalling."""

    def omission_lanes(self) -> frozenset[Lane]:
        return frozenset({Lane(2, 1, "message")})


def test_a_leader_that_proposes_nothing_loses_the_lead_and_the_next_delivers() -> None:
    async def scenario() -> None:
        chain = Chain()
        async with cluster() as c:
            for m in IDS:
                c.add(
                    m,
                    members=IDS,
                    threshold=3,
                    verifier=CoveringVerifier(chain),
                    omission_grace=GRACE,
                    stall_grace=GRACE,
                    omission_check_interval=0.05,
                )
            for m in IDS:
                await c.node(m).wait_started()
            await c.wait_attested(IDS)
            await c.node(1).dkg(timeout_s=10)
            views = _views(c)
            await until(lambda: all(v.leader() == 1 for v in views), what="member 1 leading")
            chain.final = [message(n) for n in (1, 2)]  # member 1's relayer proposes neither
            await until(lambda: all(v.leader() == 2 for v in views), timeout=GRACE * 12, what="member 2 leading")
            assert all(v.members_up() == IDS for v in views)  # member 1 is up, only not leading
            assert all(metric(c.node(m), "stalled_lanes", destination="2", lane="message") >= 1 for m in (2, 3, 4))
            assert all(metric(c.node(m), "skipped_messages", destination="2", lane="message") == 0 for m in IDS)
            assert await _deliver(c, chain, 2, [1, 2])
            await asyncio.sleep(GRACE * 3)
            assert all(v.distrust.strikes_against(2) == 0 for v in views)
            assert all(v.leader() == 2 for v in views)

    run(scenario)
