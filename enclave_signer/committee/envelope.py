"""Signed committee envelopes: the only thing members say to each other over the (untrusted) broker.

Wire format, version 1 (integers big-endian; the header is everything before the payload length):

    b"PBCE" | version u8 | flags u8 (bit 0: encrypted) | len u8 + committee id | epoch u64 | session id (32)
    | len u8 + kind | sender u16 | seq u64 | timestamp_ms u64 | recipient u16 (0 = broadcast)
    | payload len u32 | payload | Ed25519 signature (64)

The signature covers b"phala-bridge/committee/envelope/v1\\0" | header | payload len | payload. Decoding is strict
(exact lengths, no trailing bytes, no unknown flags), so each envelope has one encoding. An encrypted payload is
ephemeral X25519 public key (32) | nonce (24) | XChaCha20-Poly1305 ciphertext, under HKDF-SHA256 of
X25519(ephemeral, recipient's identity key in X25519 form), with the domain-separated header as associated data:
it only opens for that recipient, in that envelope.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import nacl.bindings
import nacl.exceptions
import nacl.public

from enclave_signer.attestation.roster import COMMITTEE_ID_PATTERN, Member, Roster, check_member_id
from enclave_signer.committee.errors import (
    BadSignatureError,
    EnvelopeRejectedError,
    MalformedEnvelopeError,
    OwnMessageError,
    PayloadDecryptionError,
    TooManySessionsError,
    UnknownSenderError,
    UnknownSessionError,
    UnsupportedVersionError,
    WrongCommitteeError,
    WrongRecipientError,
)
from enclave_signer.committee.replay import SESSION_ID_SIZE, ReplayGuard
from enclave_signer.identity import SIGNATURE_SIZE, IdentityKey, InvalidIdentityKeyError, verify_signature
from enclave_signer.sealing import hkdf_sha256

__all__ = [
    "BROADCAST",
    "MAX_ENVELOPE_SIZE",
    "PROTOCOL_VERSION",
    "Envelope",
    "EnvelopeSigner",
    "EnvelopeVerifier",
    "Inbound",
    "disclose_payload_key",
    "open_with_payload_key",
]

PROTOCOL_VERSION = 1
BROADCAST = 0
MAX_ENVELOPE_SIZE = 1 << 20
_MAGIC = b"PBCE"
_SIGN_DOMAIN = b"phala-bridge/committee/envelope/v1\x00"
_AEAD_DOMAIN = b"phala-bridge/committee/payload/v1\x00"
_KDF_SALT = b"phala-bridge/committee/payload-key/v1"
_FLAG_ENCRYPTED = 0x01
_KIND = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_NONCE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_TAIL = struct.Struct(">HQQH")  # sender, seq, timestamp_ms, recipient


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, repr=False)
class Envelope:
    committee_id: str
    epoch: int
    session_id: bytes
    kind: str
    sender: int
    seq: int
    timestamp_ms: int
    recipient: int  # BROADCAST or a member id
    encrypted: bool
    payload: bytes  # the ciphertext when `encrypted`
    signature: bytes = b""
    version: int = PROTOCOL_VERSION

    @property
    def is_broadcast(self) -> bool:
        return self.recipient == BROADCAST

    def header(self) -> bytes:
        cid, kind = self.committee_id.encode("ascii"), self.kind.encode("ascii")
        return b"".join(
            (
                _MAGIC,
                bytes([self.version, _FLAG_ENCRYPTED if self.encrypted else 0, len(cid)]),
                cid,
                self.epoch.to_bytes(8, "big"),
                self.session_id,
                bytes([len(kind)]),
                kind,
                _TAIL.pack(self.sender, self.seq, self.timestamp_ms, self.recipient),
            )
        )

    def signing_bytes(self) -> bytes:
        return _SIGN_DOMAIN + self.header() + len(self.payload).to_bytes(4, "big") + self.payload

    def to_bytes(self) -> bytes:
        return self.header() + len(self.payload).to_bytes(4, "big") + self.payload + self.signature

    def message_id(self) -> str:
        """A short id for logs (hash of the signed bytes)."""
        return hashlib.sha256(self.signing_bytes()).hexdigest()[:16]

    @classmethod
    def from_bytes(cls, data: bytes, *, max_size: int = MAX_ENVELOPE_SIZE) -> Envelope:
        if len(data) > max_size:
            raise MalformedEnvelopeError(f"envelope of {len(data)} bytes exceeds {max_size}")
        r = _Reader(data)
        if r.take(4) != _MAGIC:
            raise MalformedEnvelopeError("not a committee envelope")
        version, flags = r.u8(), r.u8()
        if version != PROTOCOL_VERSION:
            raise UnsupportedVersionError(f"envelope version {version} (this member speaks {PROTOCOL_VERSION})")
        if flags & ~_FLAG_ENCRYPTED:
            raise MalformedEnvelopeError(f"unknown envelope flags {flags:#x}")
        committee_id = r.label(COMMITTEE_ID_PATTERN)
        epoch = r.uint(8)
        session_id = r.take(SESSION_ID_SIZE)
        kind = r.label(_KIND)
        sender, seq, timestamp_ms, recipient = _TAIL.unpack(r.take(_TAIL.size))
        payload = r.take(r.uint(4))
        signature = r.take(SIGNATURE_SIZE)
        if not r.done():
            raise MalformedEnvelopeError("trailing bytes after the signature")
        encrypted = bool(flags & _FLAG_ENCRYPTED)
        if sender == BROADCAST or (encrypted and recipient == BROADCAST):
            raise MalformedEnvelopeError("sender 0, or an encrypted broadcast")
        return cls(
            committee_id, epoch, session_id, kind, sender, seq, timestamp_ms, recipient, encrypted, payload, signature
        )

    def __repr__(self) -> str:
        to = "broadcast" if self.is_broadcast else f"member {self.recipient}"
        return (
            f"Envelope(kind={self.kind!r}, committee={self.committee_id}/{self.epoch}, "
            f"session={self.session_id.hex()[:16]}, sender={self.sender}, seq={self.seq}, to={to}, "
            f"encrypted={self.encrypted}, payload=<{len(self.payload)} bytes>)"
        )


@dataclass(frozen=True)
class Inbound:
    """An accepted envelope and its payload (decrypted when it was encrypted)."""

    envelope: Envelope
    payload: bytes

    def __repr__(self) -> str:
        return f"Inbound({self.envelope!r})"


class EnvelopeSigner:
    """Builds and signs this member's envelopes; sequence numbers start at the clock in microseconds so they keep
    rising across restarts (peers refuse anything at or below what they have seen)."""

    def __init__(self, identity: IdentityKey, roster: Roster, member_id: int, *, clock: Callable[[], int] = _now_ms):
        me = roster.get(check_member_id(member_id))
        if me is None or me.identity_public_key != identity.public_key:
            raise ValueError(f"member {member_id} is not admitted to the roster with this identity key")
        self._identity, self._roster, self.member_id, self._clock = identity, roster, member_id, clock
        self._seq = time.time_ns() // 1000

    def broadcast(self, *, session_id: bytes, kind: str, payload: bytes) -> bytes:
        return self._build(session_id, kind, payload, BROADCAST, encrypt=False)

    def send_to(self, recipient: int, *, session_id: bytes, kind: str, payload: bytes, encrypt: bool = True) -> bytes:
        """A direct envelope; encrypted to the recipient unless `encrypt=False` (for non-secret payloads)."""
        if recipient == BROADCAST:
            raise ValueError("use broadcast() for broadcast envelopes")
        return self._build(session_id, kind, payload, recipient, encrypt=encrypt)

    def _build(self, session_id: bytes, kind: str, payload: bytes, recipient: int, *, encrypt: bool) -> bytes:
        if len(session_id) != SESSION_ID_SIZE:
            raise ValueError(f"a session id is {SESSION_ID_SIZE} bytes")
        if not _KIND.fullmatch(kind):
            raise ValueError(f"bad message kind {kind!r}: 1-64 of [a-z0-9._-]")
        self._seq += 1
        if len(payload) > MAX_ENVELOPE_SIZE:
            raise ValueError(f"payload exceeds {MAX_ENVELOPE_SIZE} bytes")
        roster = self._roster
        env = Envelope(
            roster.committee_id, roster.epoch, session_id, kind, self.member_id, self._seq, self._clock(), recipient,
            encrypt, b"",
        )  # fmt: skip
        body = bytes(payload)
        if encrypt:
            target = self._roster.get(recipient)
            if target is None:
                raise ValueError(f"recipient {recipient} is not on the roster")
            body = _encrypt(env.header(), body, target)
        env = replace(env, payload=body)
        env = replace(env, signature=self._identity.sign(env.signing_bytes()))
        if len(env.to_bytes()) > MAX_ENVELOPE_SIZE:
            raise ValueError(f"envelope would exceed {MAX_ENVELOPE_SIZE} bytes")
        return env.to_bytes()


class EnvelopeVerifier:
    """Accepts an envelope only if it is well formed, for this committee and epoch, signed by the roster key of its
    sender, addressed to us (or broadcast), fresh, new, and its payload opens. Rejections are counted by reason
    (`rejections`) and raised as typed errors; the caller logs them."""

    def __init__(
        self,
        identity: IdentityKey,
        roster: Roster,
        member_id: int,
        replay: ReplayGuard,
        *,
        session_opener: Callable[[Envelope], bool] | None = None,
        max_size: int = MAX_ENVELOPE_SIZE,
    ) -> None:
        self._identity, self._roster, self.member_id, self._replay = identity, roster, member_id, replay
        # Decides whether an authenticated envelope may open a session not yet open here (e.g. a signing request
        # from the round's coordinator). None: only sessions opened locally are accepted.
        self._session_opener = session_opener
        self._max_size = max_size
        self.rejections: Counter[str] = Counter()
        self.accepted = 0

    def open(self, raw: bytes) -> Inbound:
        try:
            inbound = self._open(raw)
        except EnvelopeRejectedError as exc:
            self.rejections[exc.reason] += 1
            raise
        self.accepted += 1
        return inbound

    def _open(self, raw: bytes) -> Inbound:
        env = Envelope.from_bytes(bytes(raw), max_size=self._max_size)
        if env.committee_id != self._roster.committee_id or env.epoch != self._roster.epoch:
            raise WrongCommitteeError(f"envelope for committee {env.committee_id}/{env.epoch}")
        sender = self._roster.get(env.sender)
        if sender is None:
            raise UnknownSenderError(f"member {env.sender} is not on the roster")
        if not verify_signature(sender.identity_public_key, env.signing_bytes(), env.signature):
            raise BadSignatureError(f"signature does not verify under member {env.sender}'s identity key")
        if env.sender == self.member_id:
            raise OwnMessageError("our own envelope echoed back")
        if not env.is_broadcast and env.recipient != self.member_id:
            raise WrongRecipientError(f"addressed to member {env.recipient}")
        opener = self._session_opener
        if not self._replay.is_open(env.session_id) and opener is not None and opener(env):
            try:
                self._replay.open_session(env.session_id, opener=env.sender)
            except (TooManySessionsError, ValueError) as exc:
                raise UnknownSessionError(f"cannot open session: {exc}") from None
        replay = self._replay
        replay.check(sender=env.sender, session_id=env.session_id, seq=env.seq, timestamp_ms=env.timestamp_ms)
        payload = _decrypt(env, self._identity) if env.encrypted else env.payload
        replay.record(sender=env.sender, session_id=env.session_id, seq=env.seq, timestamp_ms=env.timestamp_ms)
        return Inbound(env, payload)


def _payload_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    if not any(shared):
        raise PayloadDecryptionError("low-order ephemeral key")
    return hkdf_sha256(shared, salt=_KDF_SALT, info=ephemeral_public + recipient_public)


def _encrypt(header: bytes, plaintext: bytes, recipient: Member) -> bytes:
    eph = nacl.public.PrivateKey.generate()
    eph_pub = bytes(eph.public_key)
    shared = nacl.bindings.crypto_scalarmult(bytes(eph), recipient.x25519_public_key)
    key = _payload_key(shared, eph_pub, recipient.x25519_public_key)
    nonce = secrets.token_bytes(_NONCE)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, _AEAD_DOMAIN + header, nonce, key)
    return eph_pub + nonce + ct


def _decrypt(env: Envelope, identity: IdentityKey) -> bytes:
    body = env.payload
    if len(body) < 32 + _NONCE + 16:
        raise PayloadDecryptionError("encrypted payload is truncated")
    eph_pub, nonce, ct = body[:32], body[32 : 32 + _NONCE], body[32 + _NONCE :]
    try:
        shared = identity.key_agreement(eph_pub)
    except InvalidIdentityKeyError:
        raise PayloadDecryptionError("invalid ephemeral key") from None
    key = _payload_key(shared, eph_pub, identity.x25519_public_key)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, _AEAD_DOMAIN + env.header(), nonce, key)
    except nacl.exceptions.CryptoError:
        raise PayloadDecryptionError("encrypted payload does not open for this member") from None


def disclose_payload_key(env: Envelope, identity: IdentityKey) -> bytes:
    """The symmetric key of an encrypted envelope addressed to `identity`: what a DKG complaint discloses so every
    member can open that one ciphertext (and nothing else). An AEAD tag over a ciphertext the accuser did not make
    cannot be satisfied by another key, so the disclosed key cannot frame the sender with a made-up plaintext."""
    if not env.encrypted or len(env.payload) < 32 + _NONCE + 16:
        raise PayloadDecryptionError("not an encrypted envelope")
    try:
        shared = identity.key_agreement(env.payload[:32])
    except InvalidIdentityKeyError:
        raise PayloadDecryptionError("invalid ephemeral key") from None
    return _payload_key(shared, env.payload[:32], identity.x25519_public_key)


def open_with_payload_key(env: Envelope, key: bytes) -> bytes:
    """Decrypt an encrypted envelope's payload with a disclosed payload key (raises PayloadDecryptionError)."""
    body = env.payload
    if not env.encrypted or len(body) < 32 + _NONCE + 16 or len(key) != 32:
        raise PayloadDecryptionError("not an encrypted envelope, or a bad key")
    nonce, ct = body[32 : 32 + _NONCE], body[32 + _NONCE :]
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, _AEAD_DOMAIN + env.header(), nonce, key)
    except nacl.exceptions.CryptoError:
        raise PayloadDecryptionError("the disclosed key does not open this envelope") from None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise MalformedEnvelopeError("envelope is truncated")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def label(self, pattern: re.Pattern[str]) -> str:
        text = self.take(self.u8()).decode("ascii", errors="replace")
        if not pattern.fullmatch(text):
            raise MalformedEnvelopeError("bad committee id or kind label")
        return text

    def done(self) -> bool:
        return self._pos == len(self._data)
