"""The DKG ceremony over the committee channel: three group keys, a cheating dealer excluded by evidence, a false
accuser excluded instead, and no ceremony with a member that is not attested."""

from __future__ import annotations

import nacl.signing
import pytest

from enclave_signer.committee.sessions.common import NotReadyError
from enclave_signer.committee.sessions.dkg import DkgMemberSession
from enclave_signer.dkg.complaints import Complaint, ComplaintKind
from enclave_signer.frost import ED25519, SECP256K1, verify
from enclave_signer.tdec import encrypt, threshold_decrypt, verify_decryption_share
from enclave_signer.tdec.threshold import decryption_share
from tests.unit.committee.helpers import batch, cluster, playing, run, started, until

IDS = (1, 2, 3, 4, 5)


def test_dkg_among_five_yields_three_group_keys_that_sign_and_decrypt() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await started(c, IDS)
            record, _ = await c.node(1).dkg(timeout_s=10)
            assert record.member_ids == IDS and record.threshold == 3 and record.excluded == ()
            keys = record.group_keys
            assert len(keys.secp256k1) == 33 and len(keys.ed25519) == 32 and len(keys.encryption) == 32
            assert len({keys.ed25519, keys.encryption}) == 2  # the encryption key is its own DKG run
            for m in IDS:  # every member holds its shares and the same keys
                node_keys = c.node(m).keys
                assert node_keys is not None and node_keys.record.keys_digest() == record.keys_digest()
                for name in ("secp256k1", "ed25519", "encryption"):
                    share = node_keys.share(name)
                    assert share.public == record.verifying_shares[name][m]
            request, msgs = batch()
            for key, suite in (("secp256k1", SECP256K1), ("ed25519", ED25519)):
                out = await c.node(3).sign(key, request, msgs)  # type: ignore[arg-type]
                assert verify(suite, keys.get(key), request.payload, out.signature)  # type: ignore[arg-type]
            # The Ed25519 group key is a plain Ed25519 key (the Phala bridge account): libsodium verifies.
            out = await c.node(2).sign("ed25519", request, msgs)
            nacl.signing.VerifyKey(keys.ed25519).verify(request.payload, out.signature.to_bytes())
            # The encryption key decrypts with t members' shares (threshold ECIES).
            ct = encrypt(keys.encryption, b"confidential", aad=b"contract-1")
            shares = [decryption_share(c.node(m).keys.share("encryption"), ct) for m in (2, 4, 5)]  # type: ignore[union-attr]
            vs = record.verifying_shares["encryption"]
            assert all(verify_decryption_share(vs[s.identifier], ct, s) for s in shares)
            assert threshold_decrypt(keys.encryption, ct, shares, vs, 3, aad=b"contract-1") == b"confidential"

    run(scenario)


class _CorruptShareFor1(DkgMemberSession):
    """A dealer that sends member 1 a wrong secp256k1 share (correctly signed and encrypted)."""

    async def _send(self, to: int, kind: str, body: bytes, *, encrypt: bool = False):  # type: ignore[no-untyped-def]
        if kind == "dkg.round2" and to == 1:
            import json

            data = json.loads(body)
            data["shares"]["secp256k1"] = f"{(int(data['shares']['secp256k1'], 16) + 1) % SECP256K1.group.order:x}"
            body = json.dumps(data).encode()
        return await super()._send(to, kind, body, encrypt=encrypt)


class _FalseAccuser(DkgMemberSession):
    """Accuses honest dealer 2 of a bad share, with evidence that does not hold up."""

    async def _broadcast(self, kind: str, body: bytes) -> None:
        if kind == "dkg.complaints":
            import json

            received = self.round2[2][1]
            assert received.raw is not None and received.envelope is not None  # it came over the wire
            fake = {
                "suite": "ed25519",
                "accused": 2,
                "kind": "bad_share",
                "evidence_envelope": received.raw.hex(),
                "payload_key": self.svc.channel.disclose_key(received.envelope).hex(),
            }
            body = json.dumps({"complaints": [fake]}).encode()
        await super()._broadcast(kind, body)


def test_a_cheating_dealer_is_identified_by_evidence_and_the_rest_finish() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            for m in IDS:
                c.add(m, members=IDS, threshold=3, setup=playing(_CorruptShareFor1) if m == 4 else None)
            for m in IDS:
                await c.node(m).wait_started()
            await c.wait_attested(IDS)
            record, _ = await c.node(1).dkg(timeout_s=10)
            assert record.member_ids == (1, 2, 3, 5) and record.excluded == (4,)
            assert c.node(4).keys is None  # the cheater finishes nothing
            for m in (2, 3, 5):  # everyone judged member 1's evidence the same way
                assert c.node(m).keys.record.keys_digest() == record.keys_digest()  # type: ignore[union-attr]
            assert 4 not in record.verifying_shares["ed25519"]  # excluded from all three runs
            request, msgs = batch()
            out = await c.node(5).sign("secp256k1", request, msgs)
            assert 4 not in out.signers
            assert verify(SECP256K1, record.group_keys.secp256k1, request.payload, out.signature)

    run(scenario)


def test_a_false_accusation_excludes_the_accuser() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            for m in IDS:
                c.add(m, members=IDS, threshold=3, setup=playing(_FalseAccuser) if m == 3 else None)
            for m in IDS:
                await c.node(m).wait_started()
            await c.wait_attested(IDS)
            record, _ = await c.node(1).dkg(timeout_s=10)
            assert record.member_ids == (1, 2, 4, 5) and record.excluded == (3,)
            assert c.node(2).keys is not None
            # The accuser finished with its own (outvoted) view; the coordinator's verdict makes it discard it.
            await until(lambda: c.node(3).keys is None, what="the outvoted member to discard its keys")

    run(scenario)


def test_complaint_evidence_must_be_the_dealers_own_signed_envelope() -> None:
    # The judging function on its own: a complaint whose evidence lacks the envelope or the key frames nobody.
    session = DkgMemberSession.__new__(DkgMemberSession)
    from enclave_signer.committee.messages import ComplaintModel

    c = ComplaintModel(suite="secp256k1", accused=2, kind="bad_share")
    assert session._evidence(1, c) is None
    judged = session._complaint(1, c)
    assert judged == Complaint(1, 2, ComplaintKind.BAD_SHARE, evidence=None)


def test_no_ceremony_with_a_member_that_is_not_attested() -> None:
    async def scenario() -> None:
        async with cluster(platform_ids=IDS) as c:  # member 6's platform is not trusted by anyone
            await started(c, IDS)
            c.add(6, members=(*IDS, 6), threshold=3)
            with pytest.raises(NotReadyError) as info:
                await c.node(1).dkg((*IDS, 6), 4, timeout_s=1.5)  # 4 of 6: a majority
            assert info.value.reasons[6].startswith("unknown_root")
            assert c.node(1).channel.directory.rejections["unknown_root"] >= 1
            assert c.node(1).keys is None  # nothing started

    run(scenario)
