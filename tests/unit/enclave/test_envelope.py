"""Committee envelopes: canonical encoding, signatures, addressing, encryption, replay; every rejection typed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer.attestation import Roster, SimulatedPlatform, new_nonce
from enclave_signer.committee import (
    BadSignatureError,
    ClosedSessionError,
    Envelope,
    EnvelopeRejectedError,
    EnvelopeSigner,
    EnvelopeVerifier,
    MalformedEnvelopeError,
    OwnMessageError,
    PayloadDecryptionError,
    ReplayedMessageError,
    ReplayGuard,
    StaleMessageError,
    UnknownSenderError,
    UnknownSessionError,
    UnsupportedVersionError,
    WrongCommitteeError,
    WrongRecipientError,
)
from enclave_signer.committee.envelope import _decrypt
from enclave_signer.identity import IdentityKey
from tests.unit.enclave.helpers import SESSION, Committee, build_committee

OTHER_SESSION = b"\x11" * 32


def _resign(raw: bytes, key: IdentityKey, **changes: object) -> bytes:
    env = dataclasses.replace(Envelope.from_bytes(raw), **changes)  # type: ignore[arg-type]
    return dataclasses.replace(env, signature=key.sign(env.signing_bytes())).to_bytes()


def test_broadcast_good(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="dkg.round1", payload=b"commitments")
    for member in (2, 3, 4, 5):
        inbound = committee.receiver(member).open(raw)
        assert inbound.payload == b"commitments"
        assert inbound.envelope.sender == 1 and inbound.envelope.is_broadcast and not inbound.envelope.encrypted
    env = Envelope.from_bytes(raw)
    assert env.to_bytes() == raw  # one encoding
    assert "commitments" not in repr(env)


def test_direct_encrypted_good(committee: Committee) -> None:
    raw = committee.signer(1).send_to(3, session_id=SESSION, kind="dkg.round2", payload=b"secret share for 3")
    assert b"secret share" not in raw
    inbound = committee.receiver(3).open(raw)
    assert inbound.payload == b"secret share for 3" and inbound.envelope.encrypted


def test_direct_plaintext_when_asked(committee: Committee) -> None:
    raw = committee.signer(1).send_to(3, session_id=SESSION, kind="ack", payload=b"ok", encrypt=False)
    assert committee.receiver(3).open(raw).payload == b"ok"


@given(st.binary(max_size=2048), st.booleans())
@settings(max_examples=25, deadline=None)
def test_payloads_round_trip(payload: bytes, encrypt: bool) -> None:
    c = build_committee(n=2)
    raw = c.signer(1).send_to(2, session_id=SESSION, kind="k", payload=payload, encrypt=encrypt)
    assert c.receiver(2).open(raw).payload == payload


def test_tampered_payload(committee: Committee) -> None:
    raw = bytearray(committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"amount=100"))
    i = bytes(raw).index(b"amount=100") + 7
    raw[i] = ord("9")
    with pytest.raises(BadSignatureError):
        committee.receiver(2).open(bytes(raw))


def test_every_header_byte_is_protected(committee: Committee) -> None:
    raw = committee.signer(1).send_to(2, session_id=SESSION, kind="k", payload=b"p")
    header_len = len(Envelope.from_bytes(raw).header())
    for i in range(header_len):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(EnvelopeRejectedError):
            committee.receiver(2).open(bytes(bad))


@pytest.mark.parametrize("field", ["kind", "seq", "timestamp_ms", "session_id", "recipient", "epoch"])
def test_tampered_header_fields(committee: Committee, field: str) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    env = Envelope.from_bytes(raw)
    changes: dict[str, Any] = {"kind": "k2", "seq": env.seq + 1, "timestamp_ms": env.timestamp_ms + 1,
                               "session_id": OTHER_SESSION, "recipient": 2, "epoch": 2}  # fmt: skip
    bad = dataclasses.replace(env, **{field: changes[field]}).to_bytes()
    with pytest.raises((BadSignatureError, WrongCommitteeError)):
        committee.receiver(2).open(bad)


def test_replayed(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    receiver = committee.receiver(2)
    receiver.open(raw)
    with pytest.raises(ReplayedMessageError):
        receiver.open(raw)
    assert receiver.rejections["replay"] == 1 and receiver.accepted == 1


def test_out_of_order_is_accepted_once(committee: Committee) -> None:
    signer, receiver = committee.signer(1), committee.receiver(2)
    first = signer.broadcast(session_id=SESSION, kind="k", payload=b"1")
    second = signer.broadcast(session_id=SESSION, kind="k", payload=b"2")
    assert receiver.open(second).payload == b"2"
    assert receiver.open(first).payload == b"1"
    for raw in (first, second):
        with pytest.raises(ReplayedMessageError):
            receiver.open(raw)


def test_unknown_sender(committee: Committee) -> None:
    outsider = IdentityKey.generate()
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(UnknownSenderError):
        committee.receiver(2).open(_resign(raw, outsider, sender=9))


def test_impersonation_with_own_key(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    forged = _resign(raw, IdentityKey.generate())  # claims to be member 1, signed by an unattested key
    with pytest.raises(BadSignatureError):
        committee.receiver(2).open(forged)
    forged_by_3 = _resign(raw, committee.identities[3])  # a real member cannot speak for another
    with pytest.raises(BadSignatureError):
        committee.receiver(2).open(forged_by_3)


def test_unsigned(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(BadSignatureError):
        committee.receiver(2).open(raw[:-64] + bytes(64))
    with pytest.raises(MalformedEnvelopeError):
        committee.receiver(2).open(raw[:-64])


def test_wrong_session(committee: Committee) -> None:
    signer = committee.signer(1)
    raw = signer.broadcast(session_id=OTHER_SESSION, kind="k", payload=b"p")
    receiver = committee.receiver(2)
    with pytest.raises(UnknownSessionError):
        receiver.open(raw)
    # Closed sessions stay closed, also for envelopes signed before the close.
    late = signer.broadcast(session_id=SESSION, kind="k", payload=b"late")
    receiver._replay.close_session(SESSION)
    with pytest.raises(ClosedSessionError):
        receiver.open(late)
    assert receiver.rejections == {"unknown_session": 1, "closed_session": 1}


def test_session_opener_hook(committee: Committee) -> None:
    guard = ReplayGuard(clock=committee.clock)
    opened: list[bytes] = []

    def coordinator_may_open(env: Envelope) -> bool:
        opened.append(env.session_id)
        return env.sender == 1 and env.kind == "sign.request"

    me = committee.identities[2]
    receiver = EnvelopeVerifier(me, committee.roster, 2, guard, session_opener=coordinator_may_open)
    with pytest.raises(UnknownSessionError):
        receiver.open(committee.signer(3).broadcast(session_id=OTHER_SESSION, kind="sign.request", payload=b""))
    receiver.open(committee.signer(1).broadcast(session_id=OTHER_SESSION, kind="sign.request", payload=b""))
    assert guard.is_open(OTHER_SESSION)


def test_encrypted_for_another_recipient(committee: Committee) -> None:
    raw = committee.signer(1).send_to(2, session_id=SESSION, kind="dkg.round2", payload=b"share for 2")
    with pytest.raises(WrongRecipientError):
        committee.receiver(3).open(raw)
    # Even past the addressing check, member 3's key does not open it.
    with pytest.raises(PayloadDecryptionError):
        _decrypt(Envelope.from_bytes(raw), committee.identities[3])
    # And re-addressing it breaks the sender's signature.
    env = Envelope.from_bytes(raw)
    with pytest.raises(BadSignatureError):
        committee.receiver(3).open(dataclasses.replace(env, recipient=3).to_bytes())


def test_ciphertext_bound_to_its_envelope(committee: Committee) -> None:
    """A sender cannot lift a ciphertext into another envelope (the header is the AEAD's associated data)."""
    signer = committee.signer(1)
    original = Envelope.from_bytes(signer.send_to(2, session_id=SESSION, kind="dkg.round2", payload=b"share"))
    other = signer.send_to(2, session_id=SESSION, kind="dkg.other", payload=b"x")
    lifted = _resign(other, committee.identities[1], payload=original.payload)
    with pytest.raises(PayloadDecryptionError):
        committee.receiver(2).open(lifted)


def test_own_message_echo(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(OwnMessageError):
        committee.receiver(1).open(raw)


def test_wrong_committee_or_epoch(committee: Committee) -> None:
    other = build_committee(committee_id="other")
    raw = other.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(WrongCommitteeError):
        committee.receiver(2).open(raw)
    next_epoch = Roster("devnet", 2)
    for member in committee.roster:
        nonce = new_nonce()
        platform: SimulatedPlatform = committee.platforms[member.member_id]
        quote = platform.quote(identity_public_key=member.identity_public_key, nonce=nonce)
        next_epoch.admit(member.member_id, quote, committee.verifier, expected_nonce=nonce)
    raw = EnvelopeSigner(committee.identities[1], next_epoch, 1).broadcast(session_id=SESSION, kind="k", payload=b"")
    with pytest.raises(WrongCommitteeError):
        committee.receiver(2).open(raw)


def test_timestamps_outside_the_window(committee: Committee) -> None:
    signer, receiver = committee.signer(1), committee.receiver(2)
    old = signer.broadcast(session_id=SESSION, kind="k", payload=b"p")
    committee.clock.advance(120_001)
    with pytest.raises(StaleMessageError):
        receiver.open(old)
    committee.clock.advance(-120_001 - 10_001)
    with pytest.raises(StaleMessageError):
        receiver.open(old)  # "from the future" for a receiver whose clock is behind


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw[:10],
        lambda raw: raw + b"\x00",
        lambda raw: b"XXXX" + raw[4:],
        lambda raw: raw[:5] + b"\x02" + raw[6:],  # unknown flag
        lambda raw: raw[:6] + b"\x00" + raw[7:],  # empty committee id
        lambda raw: b"",
    ],
)
def test_malformed(committee: Committee, mutate: object) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(MalformedEnvelopeError):
        committee.receiver(2).open(mutate(raw))  # type: ignore[operator]


def test_unsupported_version(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p")
    with pytest.raises(UnsupportedVersionError):
        committee.receiver(2).open(raw[:4] + b"\x02" + raw[5:])


def test_oversized(committee: Committee) -> None:
    raw = committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"p" * 2000)
    receiver = EnvelopeVerifier(committee.identities[2], committee.roster, 2, ReplayGuard(), max_size=1000)
    with pytest.raises(MalformedEnvelopeError, match="exceeds"):
        receiver.open(raw)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_garbage_never_crashes(data: bytes) -> None:
    c = _GARBAGE_COMMITTEE
    with pytest.raises(EnvelopeRejectedError):
        c.receiver(2).open(data)


_GARBAGE_COMMITTEE = build_committee(n=2)


def test_signer_requires_admission(committee: Committee) -> None:
    with pytest.raises(ValueError, match="not admitted"):
        EnvelopeSigner(IdentityKey.generate(), committee.roster, 1)
    with pytest.raises(ValueError, match="recipient 9"):
        committee.signer(1).send_to(9, session_id=SESSION, kind="k", payload=b"")
    with pytest.raises(ValueError, match="kind"):
        committee.signer(1).broadcast(session_id=SESSION, kind="Bad Kind", payload=b"")


def test_sequence_numbers_rise_across_restarts(committee: Committee) -> None:
    before = Envelope.from_bytes(committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"")).seq
    after = Envelope.from_bytes(committee.signer(1).broadcast(session_id=SESSION, kind="k", payload=b"")).seq
    assert after > before


def test_identity_key_repr_and_pickle() -> None:
    key = IdentityKey.generate()
    assert key.public_key.hex() in repr(key) and "sealed" in str(key)
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(key)
