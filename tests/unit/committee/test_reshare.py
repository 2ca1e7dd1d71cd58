"""Resharing to a new committee keeps the three group keys; the new committee signs, the leaving member forgets."""

from __future__ import annotations

from pathlib import Path

from enclave_signer.frost import ED25519, SECP256K1, verify
from tests.unit.committee.helpers import batch, cluster, run, started

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
