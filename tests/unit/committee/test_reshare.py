"""Resharing to a new committee keeps the three group keys; the new committee signs, the leaving member forgets."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from enclave_signer.committee.record import build_record
from enclave_signer.committee.sessions.common import CeremonyFailedError
from enclave_signer.committee.sessions.reshare import ReshareCoordinator
from enclave_signer.frost import ED25519, SECP256K1, verify
from tests.unit.committee.helpers import batch, cluster, run, started, with_dkg

OLD = (1, 2, 3, 4, 5)
NEW = (2, 3, 4, 5, 6)


def test_resharing_keeps_the_group_keys_and_moves_the_committee(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await started(c, OLD, keystore_dir=None)
            for m in OLD:  # keystores, to check what is sealed and erased
                c.node(m).keystore = _keystore(c, m, tmp_path)
            old, _ = await c.node(1).dkg(timeout_s=10)
            # Member 6 joins at the next epoch with no keys; it lists the committee it joins.
            c.add(6, members=(*OLD, 6), threshold=3, epoch=old.epoch + 1)
            c.node(6).keystore = _keystore(c, 6, tmp_path)
            await c.node(6).wait_started()
            for m in (*OLD, 6):  # every operator approves the new committee (member 1 coordinates: its own call)
                if m != 1:
                    c.node(m).approve_reshare(NEW, 4)
            new, _ = await c.node(1).reshare(NEW, 4, timeout_s=10)
            assert new.epoch == old.epoch + 1 and new.member_ids == NEW and new.threshold == 4
            assert new.group_keys == old.group_keys  # same keys: nothing to redeploy on either chain
            assert new.verifying_shares != old.verifying_shares  # fresh shares
            for m in NEW:
                keys = c.node(m).keys
                assert keys is not None and keys.epoch == new.epoch and keys.record.digest() == new.digest()
            assert c.node(1).keys is None and c.node(1).epoch == new.epoch  # member 1 left the committee
            assert not list((tmp_path / "1").glob("keys-e*.sealed"))  # and its shares are gone from disk
            assert [p.name for p in (tmp_path / "2").glob("keys-e*.sealed")] == [f"keys-e{new.epoch}.sealed"]
            request, msgs = batch()
            for key, suite in (("secp256k1", SECP256K1), ("ed25519", ED25519)):
                out = await c.node(6).sign(key, request, msgs)  # type: ignore[arg-type]
                assert len(out.signers) == 4 and 1 not in out.signers
                assert verify(suite, old.group_keys.get(key), request.payload, out.signature)  # type: ignore[arg-type]

    run(scenario)


def _keystore(c, member: int, tmp_path: Path):  # type: ignore[no-untyped-def]
    from enclave_signer.keystore import Keystore

    return Keystore(c.platforms[member].sealer(), tmp_path / str(member))


def test_a_member_deals_and_erases_only_for_a_committee_its_operator_approved(tmp_path: Path) -> None:
    # One operator cannot move the keys to a committee of its choosing (review: member 5 resharing to itself alone,
    # 1 of 1, got the whole secret and the others erased theirs).
    async def scenario() -> None:
        async with cluster() as c:
            await started(c, OLD, keystore_dir=None)
            old, _ = await c.node(1).dkg(timeout_s=10)
            with pytest.raises(CeremonyFailedError, match="at least a majority"):
                await c.node(5).reshare((4, 5), 1, timeout_s=5)
            with pytest.raises(CeremonyFailedError):
                await c.node(5).reshare((3, 4, 5), 2, timeout_s=5)  # nobody else approved it
            for m in OLD:  # nobody dealt or erased anything: the old committee still holds and signs
                keys = c.node(m).keys
                assert keys is not None and keys.epoch == old.epoch
            c.node(3).approve_reshare((3, 4, 5), 2)
            c.node(4).approve_reshare((3, 4, 5), 2)  # now the three involved... and the leavers?
            with pytest.raises(CeremonyFailedError):
                await c.node(5).reshare((3, 4, 5), 2, timeout_s=5)  # 1 and 2 (leaving) did not approve
            assert all(c.node(m).keys is not None for m in (1, 2))
            request, msgs = batch()
            out = await c.node(1).sign("secp256k1", request, msgs)
            assert verify(SECP256K1, old.group_keys.get("secp256k1"), request.payload, out.signature)

    run(scenario, timeout=60)


def test_a_commit_naming_another_committee_is_refused() -> None:
    # A rogue coordinator enclave runs an approved resharing, then commits a record listing only itself: the members
    # refuse it and keep their shares (review: every member erased its shares and the keys were lost).
    class Rogue(ReshareCoordinator):
        def _evaluate(self, old, epoch):  # type: ignore[no-untyped-def]
            honest = super()._evaluate(old, epoch)
            return build_record(
                committee_id=self.svc.committee_id,
                epoch=epoch,
                threshold=1,
                members=(5,),
                directory=self.svc.channel.directory,
                group_keys=old.group_keys,
                verifying_shares={k: {5: v[5]} for k, v in honest.verifying_shares.items()},
            )

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            for m in OLD:
                c.node(m).approve_reshare(OLD, 3)
            rogue = Rogue(c.node(5), new_members=OLD, new_threshold=3, old_signers=None, timeout=5)
            with contextlib.suppress(Exception):
                await c.node(5)._lead(rogue, rogue.run)
            for m in (1, 2, 3, 4):
                keys = c.node(m).keys
                assert keys is not None and keys.epoch == 1  # refused the commit: still the old epoch's shares
            request, msgs = batch()
            out = await c.node(1).sign("ed25519", request, msgs)
            assert len(out.signers) == 3

    run(scenario, timeout=60)
