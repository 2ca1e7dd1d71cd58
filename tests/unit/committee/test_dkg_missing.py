"""The DKG ceremony and MISSING complaints: a withheld (or dropped) share is answered by the dealer's published
justification, so a false or broker-induced complaint excludes nobody honest, while a dealer that withholds and
does not justify is excluded; and a member refuses a `dkg.start` that is not its configured committee."""

from __future__ import annotations

import json

import pytest
import structlog

from enclave_signer.committee.channel import Received
from enclave_signer.committee.sessions.common import CeremonyFailedError
from enclave_signer.committee.sessions.dkg import DkgMemberSession
from enclave_signer.frost import SECP256K1, verify
from tests.unit.committee.helpers import Cluster, batch, cluster, playing, run, started

IDS = (1, 2, 3, 4, 5)
SUITE_NAMES = ("secp256k1", "ed25519", "encryption")


class _DeafTo4(DkgMemberSession):
    """Member 1 never gets dealer 4's round-2 envelope (as if the broker dropped it): a genuine MISSING_SHARE."""

    def on_message(self, msg: Received) -> None:
        if msg.kind == "dkg.round2" and msg.sender == 4:
            return
        super().on_message(msg)


class _NoJustification(DkgMemberSession):
    """Dealer 4 does not answer complaints against it (publishes an empty justification)."""

    async def _broadcast(self, kind: str, body: bytes) -> None:
        if kind == "dkg.justify":
            body = json.dumps({"shares": []}).encode()
        await super()._broadcast(kind, body)


class _LiarOnTheWire(DkgMemberSession):
    """Member 5 got every share, yet claims dealers 1 and 2 never sent theirs."""

    async def _broadcast(self, kind: str, body: bytes) -> None:
        if kind == "dkg.complaints":
            lies = [{"suite": s, "accused": j, "kind": "missing_share"} for j in (1, 2) for s in SUITE_NAMES]
            body = json.dumps({"complaints": lies}).encode()
        await super()._broadcast(kind, body)


async def _committee(c: Cluster, roles: dict[int, type[DkgMemberSession]], threshold: int = 3) -> None:
    for m in IDS:
        c.add(m, members=IDS, threshold=threshold, setup=playing(roles[m]) if m in roles else None)
    for m in IDS:
        await c.node(m).wait_started()
    await c.wait_attested(IDS)


def test_a_dropped_share_is_justified_and_nobody_is_excluded() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await _committee(c, {1: _DeafTo4})
            record, _ = await c.node(2).dkg(timeout_s=10)
            assert record.member_ids == IDS and record.excluded == ()
            for m in IDS:  # member 1 took dealer 4's revealed shares: its keys are the agreed ones
                assert c.node(m).keys.record.keys_digest() == record.keys_digest()  # type: ignore[union-attr]
            request, msgs = batch()
            out = await c.node(1).sign("secp256k1", request, msgs)
            assert verify(SECP256K1, record.group_keys.secp256k1, request.payload, out.signature)

    run(scenario)


def test_a_dealer_that_withholds_and_does_not_justify_is_excluded() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await _committee(c, {1: _DeafTo4, 4: _NoJustification})
            record, _ = await c.node(2).dkg(timeout_s=10)
            assert record.member_ids == (1, 2, 3, 5) and record.excluded == (4,)
            assert c.node(1).keys.record.keys_digest() == record.keys_digest()  # type: ignore[union-attr]

    run(scenario)


def test_a_false_missing_share_complaint_excludes_nobody() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await _committee(c, {5: _LiarOnTheWire})
            record, _ = await c.node(3).dkg(timeout_s=10)
            assert record.member_ids == IDS and record.excluded == ()
            for m in (1, 2):
                assert c.node(m).keys.record.keys_digest() == record.keys_digest()  # type: ignore[union-attr]

    run(scenario)


@pytest.mark.parametrize(
    ("configured_t", "participants", "threshold", "refusing", "reason"),
    [
        (3, IDS, 4, IDS, "threshold differs from the configured threshold"),
        (3, (1, 2, 3, 4), 3, (1, 2, 3, 4), "participants differ from the configured committee"),
    ],
)
def test_a_start_that_is_not_the_configured_committee_is_refused(
    configured_t: int, participants: tuple[int, ...], threshold: int, refusing: tuple[int, ...], reason: str
) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await started(c, IDS, threshold=configured_t)
            with structlog.testing.capture_logs() as logs, pytest.raises(CeremonyFailedError) as info:
                await c.node(1).dkg(participants, threshold, timeout_s=5)
            assert sorted(info.value.reasons) == list(refusing)
            assert all(reason in info.value.reasons[m] for m in refusing), info.value.reasons
            refused = [e for e in logs if e["event"] == "dkg_start_refused"]
            assert sorted(e["member_id"] for e in refused) == list(refusing)
            assert all(e["threshold"] == threshold and e["configured_threshold"] == configured_t for e in refused)
            assert all(c.node(m).keys is None for m in IDS)

    run(scenario)


def test_a_minority_threshold_is_refused_before_anything_starts() -> None:
    # The coordinator refuses it; members would too (`_check_start`), had another coordinator sent it.
    async def scenario() -> None:
        async with cluster() as c:
            await started(c, IDS, threshold=2)
            with pytest.raises(CeremonyFailedError, match="at least a majority"):
                await c.node(1).dkg(IDS, 2, timeout_s=5)
            assert all(c.node(m).keys is None for m in IDS)

    run(scenario)
