"""A leader whose proposals t members keep refusing for their content loses the lead (distrust.py): liveness
against a rogue leader. On the in-memory committee (5 members, t = 3, DKG done), member 1 leads (lowest up)."""

from __future__ import annotations

import asyncio

import pytest

from enclave_signer.committee.channel import Sent
from enclave_signer.committee.distrust import CONTENT_REFUSALS, DistrustBook
from enclave_signer.committee.heartbeat import Liveness
from enclave_signer.committee.messages import Heartbeat, decode, encode
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.sessions.common import SessionRefusedError
from enclave_signer.committee.verification import SigningRefusal
from tests.unit.committee.helpers import Cluster, RefusingVerifier, batch, cluster, run, until, with_dkg

IDS = (1, 2, 3, 4, 5)


def _views(c: Cluster) -> list[CommitteeNode]:
    return [c.node(m) for m in IDS]


async def _propose(c: Cluster, leader: int, start: int) -> bool:
    """`leader` proposes a batch: True if signed, False if refused."""
    request, msgs = batch(start=start)
    try:
        await c.node(leader).sign("ed25519", request, msgs)
    except SessionRefusedError:
        return False
    return True


def test_a_leader_that_t_members_refuse_for_content_loses_the_lead_to_the_next() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            views = _views(c)
            await until(lambda: all(v.leader() == 1 for v in views), what="member 1 leading")
            for m in (2, 3, 4):  # member 1 proposes what these members' own rebuild contradicts
                c.node(m).verifier = RefusingVerifier("mismatch", "the bytes to sign are not the rebuilt batch")
            for i in range(2):
                assert not await _propose(c, 1, start=10 * (i + 1))
            assert [c.node(m).distrust.strikes_against(1) for m in (2, 3, 4)] == [2, 2, 2]
            assert all(v.leader() == 1 for v in views)  # two strikes: not yet
            assert not await _propose(c, 1, start=30)
            await until(lambda: all(v.leader() == 2 for v in views), what="member 2 leading, seen by everyone")
            assert all(v.members_up() == IDS for v in views)  # member 1 is up, only not leading
            assert all(v.metrics.distrusted._value.get() == 1 for v in views)
            # member 1's own enclave sees it too: its relayer stops acting as leader
            assert c.node(1).status().leader == 2
            # the honest members sign what member 2 proposes (their verifiers approve it again)
            for m in (2, 3, 4):
                c.node(m).verifier = c.node(5).verifier
            assert await _propose(c, 2, start=40)

    run(scenario)


def test_fewer_than_t_members_distrusting_do_not_move_the_lead() -> None:
    """Two members (rogues, say) refusing everything member 1 proposes: it keeps the lead, and still gets signed."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            views = _views(c)
            for m in (4, 5):
                c.node(m).verifier = RefusingVerifier("mismatch", "not the extrinsic of this member's own results")
            for i in range(4):
                assert await _propose(c, 1, start=10 * (i + 1))  # 1, 2, 3 sign
            await until(
                lambda: all({4, 5} <= {m for m, d in v.distrust.announcements.items() if 1 in d} for v in views[:3]),
                what="members 4 and 5 announcing their distrust of member 1",
            )
            assert all(v.leader() == 1 for v in views)
            assert all(v.skipped_leaders() == frozenset() for v in views)

    run(scenario)


@pytest.mark.parametrize("code", ["absent", "chain_unavailable", "verify_timeout", "executed", "no_keys"])
def test_transient_refusals_do_not_count(code: str) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            views = _views(c)
            for m in (2, 3, 4):
                c.node(m).verifier = RefusingVerifier(code, "this member cannot vouch right now")
            for i in range(4):
                assert not await _propose(c, 1, start=10 * (i + 1))
            assert all(c.node(m).distrust.strikes_against(1) == 0 for m in (2, 3, 4))
            assert all(v.distrust.distrusted() == frozenset() for v in views)
            assert all(v.leader() == 1 for v in views)

    assert code not in CONTENT_REFUSALS
    run(scenario)


def test_a_leader_interleaving_honest_batches_with_bad_ones_still_loses_the_lead() -> None:
    """Selective censorship: the leader gets honest batches signed in between, but proposes one message wrongly each
    time; the honest members' strikes stand (a share they send does not clear them) and the lead moves."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            views = _views(c)
            await until(lambda: all(v.leader() == 1 for v in views), what="member 1 leading")
            approve = c.node(2).verifier
            for i in range(3):
                for m in (2, 3, 4):
                    c.node(m).verifier = RefusingVerifier("mismatch", "the bytes to sign are not the rebuilt batch")
                assert not await _propose(c, 1, start=100 * (i + 1))  # the censored message, proposed wrongly
                for m in (2, 3, 4):
                    c.node(m).verifier = approve
                if i < 2:
                    assert await _propose(c, 1, start=100 * (i + 1) + 50)  # an honest batch: signed
                    assert [c.node(m).distrust.strikes_against(1) for m in (2, 3, 4)] == [i + 1] * 3
            await until(lambda: all(v.leader() == 2 for v in views), what="member 2 leading, seen by everyone")

    run(scenario)


def test_a_tdec_request_for_a_key_outside_the_committee_is_a_strike() -> None:
    """A member asking for decryption shares sealed to a key that is no enclave of the committee (an attempt to take
    plaintext out) is struck by every member that refuses it; a refusal for a lagging view is not."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            for m in IDS:
                c.node(m).decryption_verifier = _Refusing("not_an_enclave")
            ct = b"\x00" * 97
            for _ in range(2):
                with pytest.raises(SessionRefusedError):
                    await c.node(3).decryption_shares(ct, bytes(32 * [9]))
            await until(
                lambda: [c.node(m).distrust.strikes_against(3) for m in (1, 2, 4, 5)] == [2] * 4, what="two strikes"
            )
            for m in IDS:
                c.node(m).decryption_verifier = _Refusing("unknown_ciphertext")
            with pytest.raises(SessionRefusedError):
                await c.node(3).decryption_shares(ct, bytes(32 * [9]))
            await asyncio.sleep(0.2)  # the refusals are sent; none of them counts
            assert [c.node(m).distrust.strikes_against(3) for m in (1, 2, 4, 5)] == [2] * 4
            assert c.node(3).distrust.strikes_against(3) == 0

    run(scenario)


class _Refusing:
    def __init__(self, code: str) -> None:
        self.code = code

    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        raise SigningRefusal(self.code, "refused by the test")


def test_distrust_expires_and_the_member_leads_again() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c, distrust_strikes=2, distrust_ttl=2.0)
            views = _views(c)
            for m in (2, 3, 4):
                c.node(m).verifier = RefusingVerifier("policy", "a message the bridge does not carry")
            for i in range(2):
                assert not await _propose(c, 1, start=10 * (i + 1))
            await until(lambda: all(v.leader() == 2 for v in views), what="member 2 leading")
            await until(lambda: all(v.leader() == 1 for v in views), timeout=6.0, what="member 1 leading again")
            assert all(c.node(m).distrust.distrusted() == frozenset() for m in (2, 3, 4))
            assert all(v.metrics.distrusted._value.get() == 0 for v in views)

    run(scenario)


# ---- the pieces, without a committee ---------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_heartbeats_without_the_field_still_parse_and_mean_no_distrust() -> None:
    old = b'{"epoch":1,"has_keys":true,"relaying":true}'  # a heartbeat of the build before distrust existed
    beat = decode(Heartbeat, old, kind="hb")
    assert beat.relaying and beat.distrust == ()
    new = decode(Heartbeat, encode(Heartbeat(epoch=1, has_keys=True, distrust=(1, 4))), kind="hb")
    assert new.distrust == (1, 4)
    book = DistrustBook(3)
    book.announced(2, beat.distrust)
    assert book.skipped((1, 2, 3), threshold=1) == frozenset()


def test_a_node_leaves_the_field_out_of_heartbeats_when_it_distrusts_nobody() -> None:
    """So that members of the older build (extra fields forbidden) still read its heartbeats and relayer flag."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            sent: list[bytes] = []
            node = c.node(3)
            original = node.channel.broadcast

            async def spy(epoch: int, session_id: bytes, kind: str, payload: bytes) -> Sent:
                if kind == "hb":
                    sent.append(payload)
                return await original(epoch, session_id, kind, payload)

            node.channel.broadcast = spy  # type: ignore[method-assign]
            await until(lambda: len(sent) >= 1, what="a heartbeat")
            assert b"distrust" not in sent[0]
            for _ in range(3):
                node.distrust.refused(1, "mismatch")
            await until(lambda: b'"distrust":[1]' in sent[-1], what="a heartbeat announcing the distrust")

    run(scenario)


def test_strikes_distrust_and_expiry_of_the_book() -> None:
    clock = _Clock()
    book = DistrustBook(2, strikes=3, ttl=60.0, clock=clock)
    for code in ("absent", "chain_unavailable", "verify_timeout"):
        book.refused(1, code)
    assert book.strikes_against(1) == 0
    book.refused(2, "mismatch")  # its own proposal: never a strike against itself
    assert book.strikes_against(2) == 0
    for _ in range(3):
        book.refused(1, "mismatch")
    assert book.distrusted() == {1}
    clock.now += 59.0
    assert book.distrusted() == {1}
    clock.now += 1.0
    assert book.distrusted() == frozenset() and book.strikes_against(1) == 0


def test_strikes_older_than_the_window_expire() -> None:
    clock = _Clock()
    book = DistrustBook(2, strikes=3, ttl=300.0, window=60.0, clock=clock)
    book.refused(1, "mismatch")
    clock.now += 30.0
    book.refused(1, "duplicate")
    clock.now += 31.0  # the first strike is now 61 s old
    assert book.strikes_against(1) == 1
    book.refused(1, "policy")
    assert book.strikes_against(1) == 2 and book.distrusted() == frozenset()
    clock.now += 1.0
    book.refused(1, "not_an_enclave")
    assert book.distrusted() == {1}
    assert DistrustBook(2).window == 300.0  # by default the window is the ttl


def test_a_distrusted_member_restarted_with_another_build_is_trusted_again() -> None:
    builds = {1: b"\x01" * 32}
    book = DistrustBook(2, strikes=1, measurement_of=builds.get)
    book.refused(1, "mismatch")
    assert book.distrusted() == {1}
    book.readmitted(1, b"\x01" * 32)  # the same build again (a restart): still distrusted
    assert book.distrusted() == {1}
    book.readmitted(1, b"\x02" * 32)
    assert book.distrusted() == frozenset()


def test_leader_choice_skips_members_distrusted_by_t_members_up() -> None:
    clock = _Clock()
    live = Liveness(3, timeout=5.0, clock=clock)
    for m in (1, 2, 4, 5):
        live.saw(m, relaying=True)
    live.relayer_polled()
    book = DistrustBook(3, strikes=1, clock=clock)
    book.announced(4, (1,))
    book.announced(5, (1,))
    up = live.up(IDS)
    assert book.skipped(up, threshold=3) == frozenset()  # two distrust member 1: fewer than t
    book.refused(1, "mismatch")  # this member (3) is the third
    skip = book.skipped(up, threshold=3)
    assert skip == {1} and live.leader(IDS, skip=skip) == 2
    # a distrusting member that went silent no longer counts
    clock.now += 6.0
    live.saw(1, relaying=True)
    live.saw(2, relaying=True)
    live.saw(4, relaying=True)
    up = live.up(IDS)
    assert up == (1, 2, 3, 4) and book.skipped(up, threshold=3) == frozenset()
    # everyone up skipped: somebody must still lead
    assert live.leader(IDS, skip=set(up)) == 1
