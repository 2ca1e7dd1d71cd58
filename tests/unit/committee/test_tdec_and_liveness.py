"""Threshold-decryption sessions (shares sealed to the requester, each with its DLEQ proof), and the leader view
from heartbeats."""

from __future__ import annotations

import asyncio
import contextlib

import nacl.public
import pytest

from enclave_signer.committee.sessions.common import SessionRefusedError
from enclave_signer.committee.sessions.tdec import open_decryption_share
from enclave_signer.committee.verification import AllowAllDecryptions
from enclave_signer.tdec import encrypt, threshold_decrypt, verify_decryption_share
from tests.unit.committee.helpers import cluster, run, until, with_dkg

IDS = (1, 2, 3, 4, 5)


def test_a_requester_gets_t_sealed_decryption_shares_and_decrypts() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            for m in IDS:
                c.node(m).decryption_verifier = AllowAllDecryptions()
            record = c.node(1).keys.record  # type: ignore[union-attr]
            ct = encrypt(record.group_keys.encryption, b"a confidential call", aad=b"contract-7")
            requester = nacl.public.PrivateKey.generate()
            got = await c.node(2).decryption_shares(ct.to_bytes(), bytes(requester.public_key))
            assert len(got.shares) == 3
            shares = [open_decryption_share(sealed, requester, got.session_id) for sealed in got.shares.values()]
            vs = record.verifying_shares["encryption"]
            assert [s.identifier for s in shares] == sorted(got.shares)
            assert all(verify_decryption_share(vs[s.identifier], ct, s) for s in shares)
            plain = threshold_decrypt(record.group_keys.encryption, ct, shares, vs, 3, aad=b"contract-7")
            assert plain == b"a confidential call"
            # Sealed to the requester: nobody else opens them, and they are bound to their session.
            with pytest.raises(ValueError):
                open_decryption_share(
                    next(iter(got.shares.values())), nacl.public.PrivateKey.generate(), got.session_id
                )
            with pytest.raises(ValueError):
                open_decryption_share(next(iter(got.shares.values())), requester, bytes(32))

    run(scenario)


def test_decryption_is_refused_by_default() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            record = c.node(1).keys.record  # type: ignore[union-attr]
            ct = encrypt(record.group_keys.encryption, b"x")
            with pytest.raises(SessionRefusedError) as info:
                await c.node(1).decryption_shares(ct.to_bytes(), bytes(32 * [9]))
            assert all(r.startswith("decryption_disabled") for r in info.value.reasons.values())

    run(scenario)


def test_members_up_and_the_leader_follow_heartbeats() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            node = c.node(3)
            await until(lambda: node.members_up() == IDS, what="every member heard")
            assert node.leader() == 1 and node.status().leader == 1
            await c.stop(1)
            await until(lambda: node.leader() == 2, what="member 2 to lead once member 1 is silent")
            assert node.members_up() == (2, 3, 4, 5)
            await until(lambda: node.metrics.members_up._value.get() == 4, what="the gauge")

    run(scenario)


def test_the_leader_is_the_lowest_member_whose_relayer_is_attached() -> None:
    """An enclave alive behind a dead relayer must hand over the lead: otherwise nobody relays."""

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            polling = {1, 2, 3}  # members whose relayer polls `status(relayer=True)`

            async def relayers() -> None:
                while True:
                    for m in tuple(polling):
                        c.node(m).status(relayer=True)
                    await asyncio.sleep(0.05)

            task = asyncio.create_task(relayers())
            try:
                views = [c.node(m) for m in IDS]
                await until(lambda: all(v.status().relaying == (1, 2, 3) for v in views), what="relayers 1-3 seen")
                assert {v.leader() for v in views} == {1}
                polling.discard(1)  # member 1's relayer dies; its enclave keeps beating
                await until(lambda: all(v.leader() == 2 for v in views), what="member 2 to lead")
                assert all(v.members_up() == IDS for v in views)  # enclave 1 is still up, only not leading
                assert all(v.status().relaying == (2, 3) for v in views)
                polling.add(1)  # the relayer returns: member 1 leads again
                await until(lambda: all(v.leader() == 1 for v in views), what="member 1 to lead again")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    run(scenario)


def test_without_any_relayer_attached_the_lowest_member_up_leads() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            node = c.node(4)
            await until(lambda: node.members_up() == IDS, what="every member heard")
            assert node.status().relaying == () and node.leader() == 1

    run(scenario)
