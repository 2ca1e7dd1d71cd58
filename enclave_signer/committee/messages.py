"""Payload schemas of the committee protocol (the bytes inside envelopes, and the attestation handshake).

Every payload is a pydantic model serialized as JSON; bytes are hex, scalars are hex (big-endian, as in FROST's
secp256k1 encoding; the value is range-checked by the crypto layer). Models forbid unknown fields and bound every
collection, so a peer cannot make another member allocate without limit. Envelope kinds:

    kind               to            encrypted  payload
    hb                 broadcast     no         Heartbeat
    dkg.start          broadcast     no         DkgStart          (re-issued by the coordinator: "resend")
    dkg.round1         broadcast     no         DkgRound1
    dkg.round2         member        yes        DkgRound2         (the dealer's shares for that member)
    dkg.complaints     broadcast     no         DkgComplaints     (always sent, possibly empty)
    dkg.justify        broadcast     no         DkgJustifications (always sent: shares a dealer was said to withhold)
    dkg.result         coordinator   no         CeremonyReport
    reshare.start      broadcast     no         ReshareStart
    reshare.dealing    broadcast     no         ReshareDealingMsg
    reshare.share      member        yes        ReshareShares
    reshare.result     coordinator   no         CeremonyReport
    reshare.commit     broadcast     no         ReshareCommit
    reshare.ack        coordinator   no         ReshareAck
    sign.request       broadcast/m   no         SignRequest       (re-issued: "answer again")
    sign.commit        leader        no         SignCommit
    sign.refuse        leader        no         Refusal
    sign.round2        member        no         SignRound2
    sign.share         leader        no         SignShare
    sign.done          broadcast     no         Done
    tdec.request       broadcast/m   no         TdecRequest
    tdec.share         leader        no         TdecShare         (sealed to the requester, not to the leader)
    tdec.refuse        leader        no         Refusal
    tdec.done          broadcast     no         Done
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError

from bridge.enclave_api import CommitteeRecord, GroupKeyName, GroupKeys, KeyName, SigningRequestModel
from bridge.messages import BridgeMessage
from enclave_signer.attestation.quote import Quote

__all__ = [
    "MAX_MEMBERS",
    "AttestChallenge",
    "AttestEvidence",
    "CeremonyReport",
    "CommitmentModel",
    "ComplaintModel",
    "DkgComplaints",
    "DkgDone",
    "DkgJustifications",
    "DkgRound1",
    "DkgRound2",
    "DkgStart",
    "Done",
    "Heartbeat",
    "JustificationModel",
    "PayloadError",
    "Refusal",
    "ReshareAck",
    "ReshareCommit",
    "ReshareDealingMsg",
    "ReshareShares",
    "ReshareStart",
    "Round1Model",
    "SignCommit",
    "SignRequest",
    "SignRound2",
    "SignShare",
    "TdecRequest",
    "TdecShare",
    "decode",
    "encode",
]

MAX_MEMBERS = 64
_MAX_EVIDENCE = 8192


class PayloadError(ValueError):
    """A payload that does not match its kind's schema (names the kind and fields, never the content)."""


def _hex_bytes(lo: int, hi: int) -> PlainValidator:
    def check(value: object) -> bytes:
        if isinstance(value, bytes):
            raw = value
        elif isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise ValueError("not hex") from None
        else:
            raise ValueError("expected hex")
        if not lo <= len(raw) <= hi:
            raise ValueError(f"expected {lo}..{hi} bytes")
        return raw

    return PlainValidator(check)


def _scalar(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        raw = value
    elif isinstance(value, str) and 0 < len(value) <= 64:
        try:
            raw = int(value, 16)
        except ValueError:
            raise ValueError("not a hex scalar") from None
    else:
        raise ValueError("expected a hex scalar")
    if raw < 0:
        raise ValueError("negative scalar")
    return raw


_HEX = PlainSerializer(lambda b: b.hex(), return_type=str)
Point = Annotated[bytes, _hex_bytes(32, 33), _HEX]
Bytes32 = Annotated[bytes, _hex_bytes(32, 32), _HEX]
Scalar = Annotated[int, PlainValidator(_scalar), PlainSerializer(lambda k: f"{k:x}", return_type=str)]
MemberId = Annotated[int, Field(ge=1, le=0xFFFF)]
Members = Annotated[tuple[MemberId, ...], Field(min_length=1, max_length=MAX_MEMBERS)]
Reason = Annotated[str, Field(max_length=500)]
SuiteMap = dict[GroupKeyName, Scalar]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=_Payload)


def encode(payload: _Payload) -> bytes:
    return payload.model_dump_json().encode()


def decode(model: type[M], raw: bytes, *, kind: str = "") -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()})[:8]
        raise PayloadError(f"malformed {kind or model.__name__} payload: bad fields {fields}") from None


# ---- attestation handshake (raw JSON on the `attest` topic, not envelopes: no roster exists yet) -------------------


class AttestChallenge(_Payload):
    type: Literal["challenge"] = "challenge"
    committee_id: str
    sender: MemberId
    nonce: Bytes32
    want: Annotated[tuple[MemberId, ...], Field(max_length=MAX_MEMBERS)]  # who should answer (not yet admitted)


class AttestEvidence(_Payload):
    type: Literal["evidence"] = "evidence"
    committee_id: str
    sender: MemberId
    target: MemberId  # the challenger
    quote: Quote  # its nonce binds (committee, challenger, candidate, challenge nonce)


# ---- heartbeats ----------------------------------------------------------------------------------------------------


class Heartbeat(_Payload):
    epoch: Annotated[int, Field(ge=0, lt=2**64)]
    has_keys: bool
    relaying: bool = False  # this member's relayer is attached (see heartbeat.py: it decides the leader)
    # Members whose proposals this one kept refusing (distrust.py); absent in older heartbeats: no distrust.
    distrust: Annotated[tuple[MemberId, ...], Field(max_length=64)] = ()


class Done(_Payload):
    pass


class Refusal(_Payload):
    code: Annotated[str, Field(max_length=40, pattern=r"^[a-z0-9_]+$")]
    reason: Reason


# ---- DKG -----------------------------------------------------------------------------------------------------------


class DkgStart(_Payload):
    epoch: Annotated[int, Field(ge=0, lt=2**64)]
    participants: Members
    threshold: Annotated[int, Field(ge=1, le=MAX_MEMBERS)]
    timeout_ms: Annotated[int, Field(ge=100, le=3_600_000)]


class Round1Model(_Payload):
    commitment: Annotated[tuple[Point, ...], Field(min_length=1, max_length=MAX_MEMBERS)]
    proof_r: Point
    proof_mu: Scalar


class DkgRound1(_Payload):
    packages: dict[GroupKeyName, Round1Model]


class DkgRound2(_Payload):
    shares: SuiteMap


ComplaintKindName = Literal["bad_pok", "bad_commitment", "bad_share", "missing", "missing_share"]


class ComplaintModel(_Payload):
    suite: GroupKeyName
    accused: MemberId
    kind: ComplaintKindName
    # BAD_SHARE: the accused's signed dkg.round2 envelope to the accuser, and the payload key that opens it.
    evidence_envelope: Annotated[bytes, _hex_bytes(1, _MAX_EVIDENCE), _HEX] | None = None
    payload_key: Bytes32 | None = None


class DkgComplaints(_Payload):
    complaints: Annotated[tuple[ComplaintModel, ...], Field(max_length=3 * MAX_MEMBERS * 2)]


class JustificationModel(_Payload):
    """A dealer's answer to a `missing_share` complaint: the share f(recipient) it owes, published (the broadcast's
    signature makes it the dealer's word; everyone checks it against the dealer's commitment)."""

    suite: GroupKeyName
    recipient: MemberId
    share: Scalar


class DkgJustifications(_Payload):
    shares: Annotated[tuple[JustificationModel, ...], Field(max_length=3 * MAX_MEMBERS)]


class DkgDone(_Payload):
    """The coordinator's verdict: the agreed committee (`keys_digest` of its record), or None when it failed. A
    member whose keys from this session differ from the agreed ones discards them."""

    keys_digest: Bytes32 | None = None


class CeremonyReport(_Payload):
    """A member's outcome of a DKG or resharing, sent to the coordinator."""

    ok: bool
    error: Reason = ""
    epoch: Annotated[int, Field(ge=0, lt=2**64)] = 0
    threshold: Annotated[int, Field(ge=0, le=MAX_MEMBERS)] = 0
    group_keys: GroupKeys | None = None
    verifying_shares: dict[GroupKeyName, dict[MemberId, Point]] = {}
    qualified: Annotated[tuple[MemberId, ...], Field(max_length=MAX_MEMBERS)] = ()
    excluded: Annotated[tuple[MemberId, ...], Field(max_length=MAX_MEMBERS)] = ()


# ---- resharing -----------------------------------------------------------------------------------------------------


class ReshareStart(_Payload):
    old_record: CommitteeRecord  # the old epoch's public record: group keys, old verification shares
    old_signers: Members
    new_members: Members
    new_threshold: Annotated[int, Field(ge=1, le=MAX_MEMBERS)]
    timeout_ms: Annotated[int, Field(ge=100, le=3_600_000)]


class ReshareDealingMsg(_Payload):
    old_record_digest: Bytes32  # the dealer's own view of the old committee: must match the start message's
    commitments: dict[GroupKeyName, Annotated[tuple[Point, ...], Field(min_length=1, max_length=MAX_MEMBERS)]]


class ReshareShares(_Payload):
    shares: SuiteMap


class ReshareCommit(_Payload):
    record: CommitteeRecord  # the new epoch's record, as the coordinator assembled it


class ReshareAck(_Payload):
    record_digest: Bytes32


# ---- signing -------------------------------------------------------------------------------------------------------


class SignRequest(_Payload):
    attempt: Annotated[int, Field(ge=0, le=1000)]
    key: KeyName
    request: SigningRequestModel
    messages: Annotated[tuple[BridgeMessage, ...], Field(max_length=1000)]


class SignCommit(_Payload):
    attempt: Annotated[int, Field(ge=0, le=1000)]
    hiding: Point
    binding: Point


class CommitmentModel(_Payload):
    member: MemberId
    hiding: Point
    binding: Point


class SignRound2(_Payload):
    attempt: Annotated[int, Field(ge=0, le=1000)]
    commitments: Annotated[tuple[CommitmentModel, ...], Field(min_length=1, max_length=MAX_MEMBERS)]


class SignShare(_Payload):
    attempt: Annotated[int, Field(ge=0, le=1000)]
    z: Scalar


# ---- threshold decryption ------------------------------------------------------------------------------------------


class TdecRequest(_Payload):
    ciphertext: Annotated[bytes, _hex_bytes(72, 256 * 1024), _HEX]
    requester_public_key: Bytes32


class TdecShare(_Payload):
    sealed: Annotated[bytes, _hex_bytes(1, 4096), _HEX]
