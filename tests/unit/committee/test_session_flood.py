"""Audit finding: session-table exhaustion. An envelope that opens a session here (sign.request, tdec.request,
dkg.start, reshare.start) takes a slot of the member's replay guard (1024 in all). One its handler then drops (a
payload that does not decode, a sender outside the key record) never gave its slot back, and nothing bounded one
sender's share: a single member sending openers with fresh session ids filled every other member's table, and from
then on no leader could open a session anywhere (until restarts). Now a sender's remote sessions are capped and
idle ones are closed (enclave_signer/committee/replay.py)."""

from __future__ import annotations

import os

import pytest

from enclave_signer.committee import ClosedSessionError, ReplayGuard, TooManySessionsError
from enclave_signer.committee.memory_transport import MemoryTransport
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.frost import SECP256K1, verify
from tests.unit.committee.helpers import batch, cluster, run, until, with_dkg
from tests.unit.enclave.helpers import FakeClock


def _drained(node: CommitteeNode) -> bool:
    transport = node.channel._transport
    assert isinstance(transport, MemoryTransport)
    return transport._queue.empty()


def test_one_member_flooding_session_openers_does_not_stop_the_committee() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            flooder = c.node(3)
            epoch = flooder.channel.epochs[-1]
            for _ in range(1100):  # more than a member's whole session table, each dropped by its handler
                await flooder.channel.broadcast(epoch, os.urandom(32), "sign.request", b"\x00not a request")
            others = [c.node(m) for m in (1, 2, 4, 5)]
            await until(lambda: all(_drained(n) for n in others), timeout=20.0, what="the flood handled")
            assert max(n.channel.replay.open_sessions for n in others) <= 1024 // 4 + 8
            leader = c.node(1)
            request, msgs = batch()
            out = await leader.sign("secp256k1", request, msgs)
            assert verify(SECP256K1, leader.keys.record.group_keys.secp256k1, request.payload, out.signature)  # type: ignore[union-attr]

    run(scenario, timeout=60.0)


S = [bytes([i]) * 32 for i in range(1, 10)]


def test_a_senders_remote_sessions_are_capped_and_its_own_sessions_are_not() -> None:
    guard = ReplayGuard(max_open_sessions=8, max_open_per_sender=2, clock=FakeClock())
    guard.open_session(S[0], opener=3)
    guard.open_session(S[1], opener=3)
    with pytest.raises(TooManySessionsError, match="member 3"):
        guard.open_session(S[2], opener=3)
    guard.open_session(S[2], opener=4)  # another member still opens
    for sid in S[3:8]:
        guard.open_session(sid)  # and so does this member, up to the whole table
    guard.close_session(S[0])
    guard.open_session(S[8], opener=3)  # a closed session frees its sender's slot


def test_idle_remote_sessions_are_closed_when_room_is_needed_and_stay_closed() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_open_sessions=8, max_open_per_sender=2, max_age_ms=1000, clock=clock)
    guard.open_session(S[0], opener=3)
    guard.open_session(S[1], opener=3)
    clock.advance(600)
    guard.record(sender=3, session_id=S[1], seq=1, timestamp_ms=clock())  # S[1] is in use, S[0] idle
    clock.advance(600)
    guard.open_session(S[2], opener=3)  # S[0], idle for 1.2 s, made room
    assert not guard.is_open(S[0]) and guard.is_open(S[1]) and guard.is_open(S[2])
    with pytest.raises(ClosedSessionError):  # a late envelope of the closed session is refused, not reopened
        guard.check(sender=3, session_id=S[0], seq=1, timestamp_ms=clock())
