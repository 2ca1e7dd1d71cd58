"""Audit finding: the attest topic is unauthenticated, and every challenge naming this member cost a quote and a
published evidence (inline in the transport's read loop). Rationed only per claimed challenger, a flood claiming
member ids 2..65535 got one answer each: 9,990 quotes in 2.2 s, enough to fill the outgoing queue the member's own
envelopes wait in. Answers now come from a token bucket whatever the claimed sender; challengers this member does
not know of have a small bucket of their own. And evidence is admitted only for an id the challenge asked for."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import structlog

from enclave_signer.attestation import SimulatedPlatform, SimulatedQuoteVerifier
from enclave_signer.attestation.quote import Quote
from enclave_signer.committee.admission import (
    _ANSWER_BURST,
    _ANSWER_RATE,
    _STRANGER_BURST,
    Admission,
    Directory,
    admission_nonce,
)
from enclave_signer.committee.messages import AttestChallenge, AttestEvidence, encode
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import current_measurement
from tests.unit.committee.helpers import Clock

MEMBERS = (1, 2, 3, 4, 5)


class _CountingPlatform:
    def __init__(self, inner: SimulatedPlatform) -> None:
        self._inner = inner
        self.platform_id = inner.platform_id
        self.quotes = 0

    def quote(self, *, identity_public_key: bytes, nonce: bytes) -> Quote:
        self.quotes += 1
        return self._inner.quote(identity_public_key=identity_public_key, nonce=nonce)


class _Member:
    """One member's admission, with what it published."""

    def __init__(self, member_id: int, platform: SimulatedPlatform, clock: Clock) -> None:
        verifier = SimulatedQuoteVerifier(
            trusted_roots={platform.platform_id: platform.root_public_key},
            allowed_measurements=[current_measurement()],
        )
        self.platform = _CountingPlatform(platform)
        self.published: list[dict[str, Any]] = []
        self.directory = Directory("test", verifier)
        self.admission = Admission(
            committee_id="test",
            member_id=member_id,
            identity=IdentityKey.generate(),
            platform=self.platform,
            directory=self.directory,
            publish=self._publish,
            clock=clock,
        )

    async def _publish(self, topic: str, payload: bytes) -> None:
        self.published.append(json.loads(payload))

    def evidence_targets(self) -> list[int]:
        return [m["target"] for m in self.published if m["type"] == "evidence"]


def _challenge(sender: int, want: tuple[int, ...] = (1,)) -> bytes:
    nonce = secrets.token_bytes(32)
    return encode(AttestChallenge(committee_id="test", sender=sender, nonce=nonce, want=want))


def test_a_challenge_flood_under_any_claimed_senders_gets_a_bounded_number_of_answers() -> None:
    async def scenario() -> None:
        clock = Clock()
        me = _Member(1, SimulatedPlatform.generate("node-1"), clock)
        me.admission.expect(MEMBERS)
        with structlog.testing.capture_logs() as logs:
            for sender in range(2, 9992):  # the reviewer's flood, all at once
                await me.admission.on_message(_challenge(sender))
        # The four members it knows are answered; the 9,986 other ids share a bucket of four.
        assert me.platform.quotes == len(me.published) == 4 + _STRANGER_BURST
        assert sorted(me.evidence_targets())[:4] == [2, 3, 4, 5]
        dropped = [e for e in logs if e["event"] == "attest_messages_dropped"]
        assert dropped and dropped[0]["counts"] == {"stranger_rate": 1}  # logged once, as counts
        assert me.admission.dropped["stranger_rate"] == 9986 - _STRANGER_BURST

        # A flood claiming the members' own ids (fresh nonces, 100 a second for 20 s): the bucket holds, whoever
        # the challenges claim to be (per claimed member alone, it would have answered 400).
        answered = len(me.published)
        for i in range(2000):
            clock.now += 0.01
            await me.admission.on_message(_challenge(2 + i % 4))
        flood_answers = len(me.published) - answered
        assert flood_answers <= _ANSWER_BURST + _ANSWER_RATE * 20 + 1
        assert me.platform.quotes == len(me.published)

        # Once it stops, a genuine challenger is answered again.
        clock.now += 10
        before = len(me.published)
        await me.admission.on_message(_challenge(3))
        assert len(me.published) == before + 1 and me.evidence_targets()[-1] == 3

    asyncio.run(scenario())


def test_evidence_for_an_id_the_challenge_did_not_ask_for_is_not_admitted() -> None:
    """A genuine enclave on a trusted platform, answering under an unused member id (e.g. to a forged copy of our
    challenge with that id in `want`): its quote binds our nonce and that id, but we never asked for it."""

    async def scenario() -> None:
        clock = Clock()
        platform = SimulatedPlatform.generate("node-1")
        me = _Member(1, platform, clock)
        me.admission.expect([2])
        await me.admission._challenge(me.admission.missing())
        challenge = me.published[-1]
        assert challenge["type"] == "challenge" and challenge["want"] == [2]
        nonce = bytes.fromhex(str(challenge["nonce"]))

        def evidence(member_id: int) -> bytes:
            bound = admission_nonce("test", 1, member_id, nonce)
            quote = platform.quote(identity_public_key=IdentityKey.generate().public_key, nonce=bound)
            return encode(AttestEvidence(committee_id="test", sender=member_id, target=1, quote=quote))

        with structlog.testing.capture_logs() as logs:
            await me.admission.on_message(evidence(77))
        assert 77 not in me.directory
        assert me.directory.rejections["unrequested"] == 1
        assert [e["counts"] for e in logs if e["event"] == "attest_messages_dropped"] == [{"unrequested": 1}]
        await me.admission.on_message(evidence(2))  # the member it asked for, with the same challenge
        assert 2 in me.directory

    asyncio.run(scenario())
