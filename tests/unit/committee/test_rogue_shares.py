"""A rogue member that the leader picks does not halt signing or threshold decryption: a signature share that is
out of range or does not decode, and a decryption share whose DLEQ proof fails, each drop that member (logged and
counted) and the session completes with the honest members.

Members 4 and 5 hold their answer until the rogue member 2 has sent its bad value, so the leader (1) first picks
exactly 1, 2 and 3: the rogue member is always among the chosen (no timing assumption).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import structlog

from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from enclave_signer.committee.channel import Sent
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.sessions import tdec as tdec_session
from enclave_signer.committee.sessions.signing import SigningParticipant, _MemberSession
from enclave_signer.committee.sessions.tdec import parse_decryption_share
from enclave_signer.contracts import Registry, SealedBidAuction
from enclave_signer.frost import ED25519, SECP256K1, verify
from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.process.confidential import ConfidentialEngine
from enclave_signer.tdec import encrypt, threshold_decrypt
from enclave_signer.tdec.dleq import DleqProof
from enclave_signer.tdec.threshold import DecryptionShare, decryption_share
from tests.unit.committee.helpers import Cluster, batch, cluster, metric, run, with_dkg

ROGUE = 2
SUITES = [("secp256k1", SECP256K1), ("ed25519", ED25519)]


class _Gate:
    """A verifier (signing and decryption) that answers only once the rogue member has misbehaved."""

    def __init__(self, event: asyncio.Event) -> None:
        self.event = event

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        await self.event.wait()

    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        await self.event.wait()


def _opened() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


def _gate_members(c: object, event: asyncio.Event, members: Sequence[int] = (4, 5)) -> None:
    for m in members:
        node: CommitteeNode = c.node(m)  # type: ignore[attr-defined]
        node.verifier = _Gate(event)
        node.decryption_verifier = _Gate(event)


class _Unreduced(SigningParticipant):
    """z + n: the same value mod n, still 32 bytes (it decodes), but not a canonical scalar."""

    def __init__(self, node: CommitteeNode, sent: asyncio.Event) -> None:
        super().__init__(node)
        self.sent = sent

    def _share_value(self, order: int, z: int) -> int:
        self.sent.set()
        return z + order if z + order < 2**256 else order + 5


class _Undecodable(SigningParticipant):
    """A `sign.share` whose z is not a hex scalar: the payload does not decode."""

    def __init__(self, node: CommitteeNode, sent: asyncio.Event) -> None:
        super().__init__(node)
        self.sent = sent

    async def _send(self, s: _MemberSession, sid: bytes, kind: str, body: bytes) -> Sent:
        if kind == "sign.share":
            body = body.replace(b'"z":"', b'"z":"zz', 1)
            self.sent.set()
        return await super()._send(s, sid, kind, body)


@pytest.mark.parametrize("rogue", [_Unreduced, _Undecodable])
@pytest.mark.parametrize(("key", "suite"), SUITES)
def test_a_rogue_signature_share_drops_its_member_and_signing_completes(
    key: str, suite: Ciphersuite, rogue: type[_Unreduced] | type[_Undecodable]
) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            sent = asyncio.Event()
            c.node(ROGUE).signing = rogue(c.node(ROGUE), sent)
            _gate_members(c, sent)
            leader = c.node(1)
            request, msgs = batch()
            with structlog.testing.capture_logs() as logs:
                out = await leader.sign(key, request, msgs)  # type: ignore[arg-type]
            record = leader.keys.record  # type: ignore[union-attr]
            assert ROGUE not in out.signers and len(set(out.signers)) == 3 and out.attempts >= 2
            assert verify(suite, record.group_keys.get(key), request.payload, out.signature)  # type: ignore[arg-type]
            what = "bad_share" if rogue is _Unreduced else "malformed"
            assert metric(leader, "misbehaviour", kind="sign", what=what) == 1
            dropped = [e for e in logs if e["event"] == "member_dropped"]
            assert [e["member"] for e in dropped] == [ROGUE]
            # the rogue member was dropped, not waited for: no "silent" signer was reported
            assert not [e for e in logs if e["event"] == "signers_silent"]

    run(scenario)


def _bad_dleq(monkeypatch: pytest.MonkeyPatch, sent: asyncio.Event) -> None:
    """Only the rogue member's enclave answers with a wrong DLEQ response."""
    honest = decryption_share

    def rogue(share: object, ct: object, **kw: object) -> DecryptionShare:
        s = honest(share, ct, **kw)  # type: ignore[arg-type]
        if s.identifier != ROGUE:
            return s
        sent.set()
        return DecryptionShare(s.identifier, s.d, DleqProof(s.proof.c, (s.proof.z + 1) % ED25519.group.order))

    monkeypatch.setattr(tdec_session, "decryption_share", rogue)


async def _with_a_rogue_decrypter(c: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys made; the rogue member's decryption shares carry a bad DLEQ proof; members 4 and 5 answer only once it
    has sent one, so the requester meets the bad share before it has t good ones."""
    await with_dkg(c)
    sent = asyncio.Event()
    _bad_dleq(monkeypatch, sent)
    for m in (1, 2, 3):
        c.node(m).decryption_verifier = _Gate(_opened())
    _gate_members(c, sent)


def test_a_bad_decryption_share_drops_its_member_and_the_session_collects_t_valid_shares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await _with_a_rogue_decrypter(c, monkeypatch)
            leader = c.node(1)
            rec = leader.keys.record  # type: ignore[union-attr]
            ct = encrypt(rec.group_keys.encryption, b"secret bid", aad=b"a")
            with structlog.testing.capture_logs() as logs:  # the requester is the leading enclave itself
                got = await leader.decryption_shares(ct.to_bytes(), leader.identity.x25519_public_key)
            assert ROGUE not in got.shares and len(got.shares) == rec.threshold
            opened = [leader.identity.open_sealed_box(s) for s in got.shares.values()]
            shares = [parse_decryption_share(body, got.session_id) for body in opened]
            plain = threshold_decrypt(
                rec.group_keys.encryption, ct, shares, rec.verifying_shares["encryption"], rec.threshold, aad=b"a"
            )
            assert plain == b"secret bid"
            assert metric(leader, "misbehaviour", kind="tdec", what="bad_share") == 1
            rejected = [e for e in logs if e["event"] == "decryption_share_rejected"]
            assert [(e["member"], e["reason"]) for e in rejected] == [(ROGUE, "DLEQ proof fails")]

    run(scenario)


class _NoChain:
    async def notes_after(self, position: int) -> object:
        raise AssertionError("not read")

    async def final_calls(self) -> list[BridgeMessage]:
        return []


def test_the_confidential_state_key_is_recovered_despite_a_member_with_bad_decryption_shares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await _with_a_rogue_decrypter(c, monkeypatch)
            engine = ConfidentialEngine(c.node(1), Registry([SealedBidAuction(b"\x42" * 20)]), _NoChain())  # type: ignore[arg-type]
            keyring = await engine.keyring()
            assert keyring.key_id()
            assert metric(c.node(1), "misbehaviour", kind="tdec", what="bad_share") == 1

    run(scenario)
