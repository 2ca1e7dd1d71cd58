"""The enclave process's local API: pure pydantic schemas, so the relayer and the CLI speak it without importing
`enclave_signer` (which holds key material) and the enclave validates every request with the same models.

Wire: a Unix socket (mode 0600), newline-delimited JSON; one request object per line, one response per line, matched
by `id` (a connection may carry several requests at once). Requests are `{"id": 1, "method": "status", "params":
{...}}`; responses `{"id": 1, "ok": true, "result": {...}}` or `{"id": 1, "ok": false, "error": {"code": ...,
"message": ..., "reasons": {...}}}`. No method ever returns a key share or a private key.

    method              params                                       result
    status              relayer? (the member's relayer polling)      StatusResult
    attest              nonce                                        AttestResult (a quote over the identity key)
    dkg                 participants?, threshold?, timeout_s         CeremonyResult (the committee record)
    reshare             new_members, new_threshold, old_signers?     CeremonyResult (the new epoch's record)
    approve_reshare     new_members, new_threshold, ttl_s            ApprovalResult (this member takes part in it)
    sign                key, request, messages, timeout_s?           SignResult, or error refused / unavailable
    decryption_share    ciphertext, requester_public_key, ...        DecryptionSharesResult (encrypted to requester)
    metrics             -                                            MetricsResult (Prometheus text)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, TypeAdapter

from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest

__all__ = [
    "API_VERSION",
    "MAX_LINE_BYTES",
    "MAX_MESSAGES_PER_SIGN",
    "ApiError",
    "ApiRequest",
    "ApiResponse",
    "ApprovalResult",
    "ApproveReshareParams",
    "AttestParams",
    "AttestResult",
    "CeremonyResult",
    "CommitteeRecord",
    "DecryptionShareParams",
    "DecryptionSharesResult",
    "DkgParams",
    "EncryptedDecryptionShare",
    "ErrorCode",
    "GroupKeyName",
    "GroupKeys",
    "KeyName",
    "MetricsResult",
    "QuoteInfo",
    "RecordMember",
    "ReshareParams",
    "SignParams",
    "SignResult",
    "SigningRequestModel",
    "StatusResult",
    "parse_request",
    "request_adapter",
]

API_VERSION = 1
MAX_LINE_BYTES = 2 * 1024 * 1024  # one request or response line; longer ones are refused
MAX_MESSAGES_PER_SIGN = 1000
_MAX_MEMBERS = 64

KeyName = Literal["secp256k1", "ed25519"]
GroupKeyName = Literal["secp256k1", "ed25519", "encryption"]
ErrorCode = Literal[
    "bad_request",  # malformed JSON, unknown method, invalid params: fix the request
    "too_large",  # a line over MAX_LINE_BYTES, or a batch that does not fit a committee message
    "not_ready",  # no keys yet, a member not attested, the committee not reachable: try later or run dkg
    "refused",  # members' independent checks refused: `reasons` has member id -> reason
    "unavailable",  # fewer than t members answered in time: retry later
    "failed",  # a ceremony (dkg/reshare) failed: `reasons` says who and why
    "busy",  # too many requests in flight on this connection
    "internal",  # a bug: the enclave logged it
]


def _to_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise ValueError("not hex") from None
    raise ValueError(f"expected a hex string, got {type(value).__name__}")


def _sized(lo: int, hi: int) -> PlainValidator:
    def check(value: object) -> bytes:
        raw = _to_bytes(value)
        if not lo <= len(raw) <= hi:
            raise ValueError(f"expected {lo}..{hi} bytes, got {len(raw)}" if lo != hi else f"expected {lo} bytes")
        return raw

    return PlainValidator(check)


_HEX = PlainSerializer(lambda b: "0x" + b.hex(), return_type=str)
Hex32 = Annotated[bytes, _sized(32, 32), _HEX]
HexKey = Annotated[bytes, _sized(32, 33), _HEX]  # a group key: 33 bytes (secp256k1) or 32 (edwards25519)
HexBlob = Annotated[bytes, _sized(0, MAX_LINE_BYTES), _HEX]
MemberId = Annotated[int, Field(ge=1, le=0xFFFF)]
Timeout = Annotated[float, Field(gt=0, le=3600)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- shared values -----------------------------------------------------------------------------------------------


class SigningRequestModel(_Model):
    """`bridge.ports.SigningRequest` on the wire."""

    destination: Annotated[int, Field(ge=1, le=255)]
    message_ids: Annotated[tuple[Annotated[str, Field(max_length=80)], ...], Field(max_length=MAX_MESSAGES_PER_SIGN)]
    payload: Annotated[bytes, _sized(1, 256 * 1024), _HEX]
    context: Annotated[dict[Annotated[str, Field(max_length=64)], str | int], Field(max_length=32)] = {}

    @classmethod
    def of(cls, request: SigningRequest) -> SigningRequestModel:
        return cls(
            destination=request.destination,
            message_ids=tuple(request.message_ids),
            payload=request.payload,
            context=dict(request.context),
        )

    def to_port(self) -> SigningRequest:
        return SigningRequest(self.destination, tuple(self.message_ids), self.payload, dict(self.context))


class GroupKeys(_Model):
    secp256k1: Annotated[bytes, _sized(33, 33), _HEX]
    ed25519: Hex32
    encryption: Hex32

    def get(self, name: GroupKeyName) -> bytes:
        value: bytes = getattr(self, name)
        return value


class RecordMember(_Model):
    member_id: MemberId
    identity_public_key: Hex32
    quote_digest: Hex32
    platform_id: Annotated[str, Field(min_length=1, max_length=64)]
    measurement: Hex32


class CommitteeRecord(_Model):
    """What the operator records on the Phala chain: who the committee is (attested identities), which epoch, and
    its group keys; plus every member's public verification shares (needed to check signature shares)."""

    committee_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    epoch: Annotated[int, Field(ge=0, lt=2**64)]
    threshold: Annotated[int, Field(ge=1, le=_MAX_MEMBERS)]
    members: Annotated[tuple[RecordMember, ...], Field(min_length=1, max_length=_MAX_MEMBERS)]
    group_keys: GroupKeys
    verifying_shares: dict[GroupKeyName, dict[MemberId, HexKey]]
    excluded: tuple[MemberId, ...] = ()

    @property
    def member_ids(self) -> tuple[int, ...]:
        return tuple(m.member_id for m in self.members)

    def member(self, member_id: int) -> RecordMember | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    def digest(self) -> bytes:
        """SHA-256 of the canonical JSON (sorted keys, no spaces): one name for one record."""
        return _canonical_hash(b"phala-bridge/committee-record/v1\x00", self.model_dump(mode="json"))

    def keys_digest(self) -> bytes:
        """The committee without its attestation details (each member verified its own quotes of the others, so
        quote digests differ between members' copies): id, epoch, threshold, identities, keys, shares."""
        data = self.model_dump(
            mode="json", include={"committee_id", "epoch", "threshold", "group_keys", "verifying_shares"}
        )
        data["identities"] = {str(m.member_id): m.identity_public_key.hex() for m in self.members}
        return _canonical_hash(b"phala-bridge/committee-keys/v1\x00", data)


def _canonical_hash(domain: bytes, data: object) -> bytes:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(domain + canonical.encode()).digest()


class QuoteInfo(_Model):
    """An attestation quote (the fields of `enclave_signer.attestation.Quote`) and its digest."""

    format: str
    platform_id: str
    measurement: Hex32
    identity_public_key: Hex32
    nonce: Hex32
    timestamp_ms: int
    signature: Annotated[bytes, _sized(1, 65_536), _HEX]
    digest: Hex32


class EncryptedDecryptionShare(_Model):
    member_id: MemberId
    sealed: Annotated[bytes, _sized(1, 4096), _HEX]  # libsodium sealed box to the requester's X25519 key


# ---- requests ----------------------------------------------------------------------------------------------------


class _NoParams(_Model):
    pass


class AttestParams(_Model):
    nonce: Hex32


class DkgParams(_Model):
    participants: Annotated[tuple[MemberId, ...], Field(min_length=1, max_length=_MAX_MEMBERS)] | None = None
    threshold: Annotated[int, Field(ge=1, le=_MAX_MEMBERS)] | None = None
    timeout_s: Timeout = 60.0


class ReshareParams(_Model):
    new_members: Annotated[tuple[MemberId, ...], Field(min_length=1, max_length=_MAX_MEMBERS)]
    new_threshold: Annotated[int, Field(ge=1, le=_MAX_MEMBERS)]
    old_signers: Annotated[tuple[MemberId, ...], Field(min_length=1, max_length=_MAX_MEMBERS)] | None = None
    timeout_s: Timeout = 60.0


class ApproveReshareParams(_Model):
    """This member's operator approves a resharing to exactly this committee: without it the member does not deal,
    take shares, or erase its own for it. The coordinator's `reshare` approves on its own member."""

    new_members: Annotated[tuple[MemberId, ...], Field(min_length=1, max_length=_MAX_MEMBERS)]
    new_threshold: Annotated[int, Field(ge=1, le=_MAX_MEMBERS)]
    ttl_s: Annotated[float, Field(gt=0, le=7 * 86_400)] = 3600.0


class SignParams(_Model):
    key: KeyName
    request: SigningRequestModel
    messages: Annotated[tuple[BridgeMessage, ...], Field(max_length=MAX_MESSAGES_PER_SIGN)]
    timeout_s: Timeout | None = None  # default: the enclave's configured session timeout


class DecryptionShareParams(_Model):
    ciphertext: Annotated[bytes, _sized(72, 256 * 1024), _HEX]  # U (32) | nonce (24) | AEAD output (>= 16)
    requester_public_key: Hex32  # X25519: each share is sealed to it
    timeout_s: Timeout | None = None


class ConfidentialRunParams(_Model):
    messages: Annotated[tuple[BridgeMessage, ...], Field(min_length=1, max_length=MAX_MESSAGES_PER_SIGN)]
    # the leader's decryption shares for these calls, sealed to this enclave (ConfidentialRunResult.forward)
    forwarded: Annotated[bytes, _sized(1, 1024 * 1024), _HEX] | None = None


class QueryParams(_Model):
    signed_query: Annotated[bytes, _sized(1, 8192), _HEX]  # bridge.confidential.encode_signed_query


class _Request(_Model):
    id: Annotated[int, Field(ge=0, lt=2**53)]


class StatusParams(_Model):
    relayer: bool = False  # the caller is this member's relayer: marks it attached, so this member may lead


class StatusCall(_Request):
    method: Literal["status"]
    params: StatusParams = StatusParams()


class AttestCall(_Request):
    method: Literal["attest"]
    params: AttestParams


class DkgCall(_Request):
    method: Literal["dkg"]
    params: DkgParams = DkgParams()


class ReshareCall(_Request):
    method: Literal["reshare"]
    params: ReshareParams


class ApproveReshareCall(_Request):
    method: Literal["approve_reshare"]
    params: ApproveReshareParams


class SignCall(_Request):
    method: Literal["sign"]
    params: SignParams


class DecryptionShareCall(_Request):
    method: Literal["decryption_share"]
    params: DecryptionShareParams


class MetricsCall(_Request):
    method: Literal["metrics"]
    params: _NoParams = _NoParams()


class ConfidentialRunCall(_Request):
    method: Literal["confidential_run"]
    params: ConfidentialRunParams


class QueryCall(_Request):
    method: Literal["query"]
    params: QueryParams


ApiRequest = Annotated[
    StatusCall
    | AttestCall
    | DkgCall
    | ReshareCall
    | ApproveReshareCall
    | SignCall
    | DecryptionShareCall
    | MetricsCall
    | ConfidentialRunCall
    | QueryCall,
    Field(discriminator="method"),
]
request_adapter: TypeAdapter[ApiRequest] = TypeAdapter(ApiRequest)  # type: ignore[arg-type, unused-ignore]  # mypy answers differently with and without its cache


def parse_request(line: bytes | str) -> ApiRequest:
    """Validate one request line (raises pydantic's ValidationError)."""
    return request_adapter.validate_json(line)


# ---- results -----------------------------------------------------------------------------------------------------


class StatusResult(_Model):
    api_version: int = API_VERSION
    committee_id: str
    member_id: int
    epoch: int
    has_keys: bool
    threshold: int
    members: tuple[int, ...]  # the committee (record members, or the configured members before a DKG)
    members_up: tuple[int, ...]  # heard from within the heartbeat timeout (this member included)
    leader: int | None  # the lowest-numbered member up with its relayer attached (else the lowest up)
    relaying: tuple[int, ...] = ()  # members up whose relayer is attached
    attested: tuple[int, ...]  # members whose quotes this enclave verified
    group_keys: GroupKeys | None
    record_digest: Hex32 | None
    identity_public_key: Hex32
    measurement: Hex32
    platform_id: str
    quote_rejections: dict[str, int]  # by reason
    envelope_rejections: dict[str, int]  # by reason
    broker_connected: bool


class AttestResult(_Model):
    quote: QuoteInfo


class CeremonyResult(_Model):
    record: CommitteeRecord
    session_id: Hex32


class ApprovalResult(_Model):
    new_members: tuple[MemberId, ...]
    new_threshold: int
    ttl_s: float


class SignResult(_Model):
    key: KeyName
    signature: Annotated[bytes, _sized(64, 65), _HEX]  # RFC 9591 encoding: R || z
    session_id: Hex32
    signers: tuple[int, ...]


class DecryptionSharesResult(_Model):
    session_id: Hex32
    shares: tuple[EncryptedDecryptionShare, ...]


class MetricsResult(_Model):
    text: str


class ExecutedCallModel(_Model):
    """`bridge.confidential.ExecutedCall` on the wire: public (records carry sealed events only)."""

    source_domain: Annotated[int, Field(ge=1, le=255)]
    source_nonce: Annotated[int, Field(ge=0, lt=2**64)]
    record: Annotated[bytes, _sized(1, 512 * 1024), _HEX]
    outputs: tuple[Annotated[bytes, _sized(1, 16 * 1024), _HEX], ...]  # bridge.confidential.encode_output
    digest: Hex32
    first_reply: Annotated[int, Field(ge=0, lt=2**63)] = 0  # reply counter of the first Ethereum output


class ConfidentialRunResult(_Model):
    calls: tuple[ExecutedCallModel, ...]
    # member id -> the shares this enclave used, sealed to that member's enclave (only enclaves can open them)
    forward: dict[MemberId, Annotated[bytes, _sized(1, 1024 * 1024), _HEX]] = {}


class QueryResult(_Model):
    answer: Annotated[bytes, _sized(1, 1024 * 1024), _HEX]  # sealed to the query's response key


class ApiError(_Model):
    code: ErrorCode
    message: Annotated[str, Field(max_length=8192)]
    reasons: dict[str, str] = {}  # member id (as a string) -> reason, for refused / failed


class ApiResponse(_Model):
    id: int | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ApiError | None = None

    @classmethod
    def success(cls, request_id: int, result: BaseModel) -> ApiResponse:
        return cls(id=request_id, ok=True, result=result.model_dump(mode="json"))

    @classmethod
    def failure(
        cls,
        request_id: int | None,
        code: ErrorCode,
        message: str,
        reasons: Mapping[int, str] | Mapping[str, str] | None = None,
    ) -> ApiResponse:
        clean = {str(k): v[:500] for k, v in (reasons or {}).items()}
        return cls(id=request_id, ok=False, error=ApiError(code=code, message=message[:8000], reasons=clean))
