"""Audit finding: session-table exhaustion. An envelope that opens a session here (sign.request, tdec.request,
dkg.start, reshare.start) takes a slot of the member's replay guard (1024 in all). One its handler then drops (a
payload that does not decode, a sender outside the key record) never gave its slot back, and nothing bounded one
sender's share: a single member sending openers with fresh session ids filled every other member's table, and from
then on no leader could open a session anywhere (until restarts). Now a sender's remote sessions are capped and
idle ones are closed (enclave_signer/committee/replay.py)."""

from __future__ import annotations

import os

import pytest
import structlog

from enclave_signer.attestation import SimulatedPlatform, SimulatedQuoteVerifier
from enclave_signer.committee import (
    ClosedSessionError,
    MemoryHub,
    ReplayGuard,
    TooManySessionsError,
    UnknownSessionError,
)
from enclave_signer.committee.heartbeat import heartbeat_session
from enclave_signer.committee.memory_transport import MemoryTransport
from enclave_signer.committee.messages import DkgStart, ReshareStart
from enclave_signer.committee.node import MAX_CEREMONY_TIMEOUT_MS, CommitteeConfig, CommitteeNode
from enclave_signer.committee.replay import MAX_REMOTE_SESSION_MS
from enclave_signer.committee.sessions.common import SessionSettings
from enclave_signer.frost import SECP256K1, verify
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import current_measurement
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


S = [bytes([i]) * 32 for i in range(1, 40)]


def _opened(guard: ReplayGuard, sid: bytes, opener: int, clock: FakeClock, seq: int = 1) -> None:
    """A remote session opened by an envelope that was then accepted (as EnvelopeVerifier does: open, then record)."""
    guard.open_session(sid, opener=opener)
    guard.record(sender=opener, session_id=sid, seq=seq, timestamp_ms=clock())


def test_a_senders_remote_sessions_are_capped_and_its_own_sessions_are_not() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_open_sessions=8, max_open_per_sender=2, clock=clock)
    _opened(guard, S[0], 3, clock)
    _opened(guard, S[1], 3, clock)
    with pytest.raises(TooManySessionsError, match="member 3"):
        guard.open_session(S[2], opener=3)
    _opened(guard, S[2], 4, clock)  # another member still opens
    for sid in S[3:8]:
        guard.open_session(sid)  # and so does this member, up to the whole table
    guard.close_session(S[0])
    guard.open_session(S[8], opener=3)  # a closed session frees its sender's slot


def test_idle_remote_sessions_are_closed_when_room_is_needed_and_stay_closed() -> None:
    clock = FakeClock()
    guard = ReplayGuard(max_open_sessions=8, max_open_per_sender=2, max_age_ms=1000, clock=clock)
    _opened(guard, S[0], 3, clock)
    _opened(guard, S[1], 3, clock)
    clock.advance(600)
    guard.record(sender=3, session_id=S[1], seq=2, timestamp_ms=clock())  # S[1] is in use, S[0] idle
    clock.advance(600)
    guard.open_session(S[2], opener=3)  # S[0], idle for 1.2 s, made room
    assert not guard.is_open(S[0]) and guard.is_open(S[1]) and guard.is_open(S[2])
    with pytest.raises(ClosedSessionError):  # a late envelope of the closed session is refused, not reopened
        guard.check(sender=3, session_id=S[0], seq=1, timestamp_ms=clock())


def test_remote_sessions_kept_busy_by_their_openers_end_at_the_lifetime_and_never_take_our_reserve() -> None:
    """The finding, on the guard: members fill every slot other members may take and keep each one busy (one
    envelope per session more often than the idle timeout). This member still opens its own sessions, and once the
    lifetime has passed an honest member opens again, whatever the traffic."""
    clock = FakeClock()
    guard = ReplayGuard(
        max_open_sessions=16,
        max_open_per_sender=4,
        reserved_local=4,
        max_age_ms=1000,
        max_remote_lifetime_ms=10_000,
        clock=clock,
    )
    flooders = (2, 3, 4)
    held = {m: S[4 * i : 4 * i + 4] for i, m in enumerate(flooders)}
    for m, sids in held.items():
        for sid in sids:
            _opened(guard, sid, m, clock)
    with pytest.raises(TooManySessionsError, match="other members"):
        guard.open_session(S[20], opener=5)  # the honest member 5: the remote share is full
    for sid in S[24:28]:
        guard.open_session(sid)  # this member's own sessions: the reserve is still there

    def keep_busy(seq: int) -> None:
        for m, sids in held.items():
            for sid in sids:
                guard.record(sender=m, session_id=sid, seq=seq, timestamp_ms=clock())

    for seq in range(2, 13):  # 11 x 0.9 s: 9.9 s, every session busy well inside the idle timeout
        clock.advance(900)
        keep_busy(seq)
        with pytest.raises(TooManySessionsError):
            guard.open_session(S[20], opener=5)
    clock.advance(900)  # 10.8 s after they opened, and still busy
    keep_busy(13)
    guard.open_session(S[20], opener=5)  # past the lifetime: the busy sessions were closed for good
    with pytest.raises(ClosedSessionError):
        guard.check(sender=2, session_id=held[2][0], seq=14, timestamp_ms=clock())
    assert guard.open_sessions == 4 + 1  # ours and member 5's: the table does not stay full


def test_a_remote_session_whose_opener_was_refused_is_dropped_and_not_remembered() -> None:
    """EnvelopeVerifier opens the session before the freshness check: a stale (or undecryptable) opener leaves an
    empty session, which gives its slot back as soon as room is needed, without waiting out the idle timeout and
    without filling the bounded closed set."""
    clock = FakeClock()
    guard = ReplayGuard(max_open_sessions=8, max_open_per_sender=2, clock=clock)
    guard.open_session(S[0], opener=3)  # then refused as stale: nothing recorded
    _opened(guard, S[1], 3, clock)
    guard.open_session(S[2], opener=3)  # needs room: S[0] is dropped at once
    assert not guard.is_open(S[0]) and guard.is_open(S[1]) and guard.is_open(S[2])
    with pytest.raises(UnknownSessionError):  # not "closed": a genuine opener may still open it
        guard.check(sender=3, session_id=S[0], seq=1, timestamp_ms=clock())
    guard.record(sender=3, session_id=S[2], seq=1, timestamp_ms=clock())
    guard.open_session(S[3], opener=4)
    assert guard.opener_of(S[3]) == 4 and guard.opener_of(S[4]) is None


OPENERS = ("sign.request", "tdec.request", "dkg.start", "reshare.start")


def test_members_flooding_openers_with_bad_payloads_and_keeping_them_busy_do_not_stop_the_committee() -> None:
    """The finding: from each of four members, more openers than a member's share of the table, payload `{}` (no
    handler takes them), then one envelope into each of those sessions to keep it busy. Before, every slot stayed
    taken (4 x 256 = 1024) and neither the local API nor another member's request could open a session."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            flooders = [c.node(m) for m in (2, 3, 4, 5)]
            sessions: dict[int, list[bytes]] = {}
            for node in flooders:
                epoch = node.channel.epochs[0]
                sessions[node.member_id] = [os.urandom(32) for _ in range(300)]
                for i, sid in enumerate(sessions[node.member_id]):
                    await node.channel.broadcast(epoch, sid, OPENERS[i % len(OPENERS)], b"{}")
            everyone = [c.node(m) for m in (1, 2, 3, 4, 5)]
            await until(lambda: all(_drained(n) for n in everyone), timeout=60.0, what="the flood handled")
            before = c.node(1).channel.rejections["unknown_session"]
            for node in flooders:  # keep-alive traffic into each session
                epoch = node.channel.epochs[0]
                for sid in sessions[node.member_id]:
                    await node.channel.broadcast(epoch, sid, "sign.round2", b"{}")
            await until(lambda: all(_drained(n) for n in everyone), timeout=60.0, what="the keep-alives handled")
            # Nothing took those sessions, so they were dropped at once: the keep-alives find no session.
            assert c.node(1).channel.rejections["unknown_session"] - before >= 4 * 300
            assert max(n.replay.open_sessions for n in everyone) <= 8
            # The local API opens sessions, and an honest leader's request opens one at every member.
            leader = c.node(1)
            request, msgs = batch()
            out = await leader.sign("secp256k1", request, msgs)
            assert verify(SECP256K1, leader.keys.record.group_keys.secp256k1, request.payload, out.signature)  # type: ignore[union-attr]

    run(scenario, timeout=120.0)


def test_the_node_keeps_remote_sessions_no_longer_than_its_longest_ceremony() -> None:
    """The lifetime the node gives the replay guard covers a resharing's member side at the largest timeout a start
    message may carry (two timeouts plus the grace period: ReshareMembers.ttl)."""
    for model in (DkgStart, ReshareStart):
        assert model.model_json_schema()["properties"]["timeout_ms"]["maximum"] == MAX_CEREMONY_TIMEOUT_MS
    assert 2 * MAX_CEREMONY_TIMEOUT_MS + int(SessionSettings().member_session_ttl * 1000) == MAX_REMOTE_SESSION_MS


def _standalone_node() -> CommitteeNode:
    platform = SimulatedPlatform.generate("node-1")
    verifier = SimulatedQuoteVerifier(
        trusted_roots={platform.platform_id: platform.root_public_key}, allowed_measurements=[current_measurement()]
    )
    config = CommitteeConfig("test", 1, (1, 2, 3), 2)
    return CommitteeNode(
        config,
        identity=IdentityKey.generate(),
        platform=platform,
        quote_verifier=verifier,
        transport=MemoryHub().connect("node-1"),
    )


def test_a_full_session_table_does_not_fail_installing_keys_and_heartbeats_open_later() -> None:
    node = _standalone_node()
    ours = [os.urandom(32) for _ in range(1024)]
    for sid in ours:
        node.replay.open_session(sid)  # this member's own sessions fill the table
    with structlog.testing.capture_logs() as logs:
        node.install_keys(None, 1)  # before: TooManySessionsError out of install_keys (at the end of a ceremony)
    assert [e["epoch"] for e in logs if e["event"] == "heartbeat_session_not_opened"] == [1, 2]
    for sid in ours[:2]:
        node.replay.close_session(sid)
    node._open_heartbeat_sessions()  # what housekeeping does every second
    assert all(node.replay.is_open(heartbeat_session("test", e)) for e in (1, 2))
