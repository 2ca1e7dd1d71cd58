"""The keystore seals the identity and the shares (0600 files in a 0700 directory); a restarted member unseals
them and signs again; nothing secret reaches a log, a repr or the status."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from bridge.telemetry import configure_logging
from enclave_signer.attestation import SimulatedPlatform
from enclave_signer.frost import SECP256K1, verify
from enclave_signer.keystore import EpochKeys, Keystore, KeystoreError
from enclave_signer.measurement import Measurement
from tests.unit.committee.helpers import batch, cluster, run, started, until

IDS = (1, 2, 3, 4, 5)


def test_shares_are_sealed_private_and_a_restarted_member_signs_again(tmp_path: Path) -> None:
    log = io.StringIO()
    configure_logging("json", "debug", stream=log)

    async def scenario() -> str:
        async with cluster() as c:
            await started(c, IDS, keystore_dir=None)
            for m in IDS:
                c.node(m).keystore = Keystore(c.platforms[m].sealer(), tmp_path / str(m))
            record, _ = await c.node(1).dkg(timeout_s=10)
            d = tmp_path / "3"
            assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
            assert {p.name for p in d.iterdir()} == {f"keys-e{record.epoch}.sealed", "current.sealed"}
            assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in d.iterdir())
            share = c.node(3).keys.share("secp256k1")  # type: ignore[union-attr]
            secret_hex = f"{share.secret:x}"
            assert secret_hex not in repr(c.node(3).keys) and secret_hex not in repr(share)
            assert secret_hex.encode() not in (d / f"keys-e{record.epoch}.sealed").read_bytes()

            # Member 3 restarts: a new process with the same platform, identity and sealed keys.
            identity = c.node(3).identity
            await c.stop(3)
            node = c.add(3, members=IDS, threshold=3, identity=identity, keystore_dir=tmp_path / "3")
            assert node.keys is not None and node.keys.record.keys_digest() == record.keys_digest()
            await node.wait_started()
            await until(lambda: set(IDS) <= set(node.channel.directory.member_ids), what="re-attestation")
            for m in (1, 2):  # two others are down: 3, 4, 5 must sign
                await c.stop(m)
            request, msgs = batch()
            out = await node.sign("secp256k1", request, msgs)
            assert set(out.signers) == {3, 4, 5}
            assert verify(SECP256K1, record.group_keys.secp256k1, request.payload, out.signature)
            status = node.status().model_dump_json()
            for name in ("secp256k1", "ed25519", "encryption"):
                assert f"{node.keys.share(name).secret:x}" not in status
            return secret_hex

    secret = None

    async def outer() -> None:
        nonlocal secret
        secret = await scenario()

    try:
        run(outer)
    finally:
        configure_logging("console", "warning")
    assert secret and secret not in log.getvalue()
    assert "epoch_keys_sealed" in log.getvalue()  # the log did capture the ceremony


def test_keystore_refuses_another_build_and_tampering(tmp_path: Path) -> None:
    platform = SimulatedPlatform.generate("node-1")
    store = Keystore(platform.sealer(), tmp_path)
    identity = store.identity()
    assert Keystore(platform.sealer(), tmp_path).identity().public_key == identity.public_key
    other_build = Keystore(platform.sealer(Measurement(b"\x01" * 32)), tmp_path)
    with pytest.raises(Exception, match=r"another enclave build|sealed by"):
        other_build.identity()
    (tmp_path / "current.sealed").write_bytes(b"garbage")
    os.chmod(tmp_path / "current.sealed", 0o600)
    with pytest.raises(KeystoreError, match=r"current\.sealed"):
        store.load()


def test_epoch_keys_cannot_be_pickled() -> None:
    import pickle

    keys = EpochKeys.__new__(EpochKeys)
    with pytest.raises(TypeError):
        pickle.dumps(keys)
