"""The XCM gateway's formats (pure): where an Ethereum deposit asks to go beyond Phala, what the bridge account
records on Phala when it carries (or refunds) such a deposit, and the exact XCM it sends.

XCM destination, version 1: the `recipient` of a deposit to Phala (domain 2) that continues to a parachain
(integers big-endian; 91 bytes with an AccountId32 beneficiary, 79 with an AccountKey20, never 32, so it is never
confused with a Phala account):

    magic        4   b"PHXD"
    version      1   0x01
    fallback    32   AccountId32 on Phala credited with the whole amount when the gateway cannot route it
    xcm_version  1   the XCM version to speak to the destination (2..5)
    para_id      4   the destination parachain
    kind         1   0x01 AccountId32 | 0x02 AccountKey20
    beneficiary 32|20
    max_fee     16   u128, planck (Phala's 12 decimals): the most the destination may charge for execution

The fallback comes first so that a deposit whose tail is malformed can still be refunded to it: `fallback_of`
reads only the head. Everything else is decoded strictly (`decode_destination`): one encoding per value.

Gateway record, version 1: a `system.remark_with_event` the bridge account writes, in the same batch as the transfer
that moves the amount (to the gateway reserve when sent, to the fallback when refunded):

    magic        4   b"PHXG"
    version      1   0x01
    message id  32   the bridge message carried
    status       1   0x01 sent | 0x02 refunded
    -- sent --
    para_id      4
    dest_len     2   then the SCALE `VersionedMultiLocation` of the destination, as `PolkadotXcm.send` takes it
    msg_len      2   then the SCALE `VersionedXcm` program, exactly the bytes sent (its blake2-256 is the XCMP hash)
    -- refunded --
    reason       1   a `RefundReason`
    account     32   the fallback account credited

The program (XCM V2, the devnet peer's version) is `pay_from_sovereign` with a per-message weight limit:
`WithdrawAsset(amount of the relay token), ClearOrigin, BuyExecution(max_fee, Limited(base + nonce)),
DepositAsset(All, 1, beneficiary)`. The destination's barrier replaces any limit at or above the message's weight
with that weight, so the tag changes no fee; it makes every message's bytes, and so its XCMP hash, unique, which is
how its outcome is found on the destination (V2 has no `SetTopic`). Hand-encoded here so that an enclave rebuilds
the bytes without metadata; `tests/unit/xcm` checks them against the runtime's own encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from bridge.errors import InputError
from bridge.scale import compact

DEST_MAGIC = b"PHXD"
RECORD_MAGIC = b"PHXG"
VERSION = 1
FALLBACK_END = len(DEST_MAGIC) + 1 + 32
MAX_U128 = 2**128 - 1
MAX_PROGRAM = 4096
# A weight limit well above the pay-from-sovereign program's weight on the devnet peer (4 instructions at 1e9
# each under FixedWeightBounds): the tag (the message nonce) is added to it.
DEFAULT_WEIGHT_LIMIT_BASE = 10**10


class GatewayError(InputError):
    """A malformed XCM destination or gateway record; permanent."""


class BeneficiaryKind(IntEnum):
    ACCOUNT_ID32 = 1
    ACCOUNT_KEY20 = 2

    @property
    def length(self) -> int:
        return 32 if self is BeneficiaryKind.ACCOUNT_ID32 else 20

    @property
    def label(self) -> str:
        return "account_id32" if self is BeneficiaryKind.ACCOUNT_ID32 else "account_key20"


class RefundReason(IntEnum):
    MALFORMED = 1
    UNKNOWN_PARACHAIN = 2
    UNSUPPORTED_VERSION = 3
    UNSUPPORTED_BENEFICIARY = 4
    FEE_TOO_LOW = 5
    AMOUNT_TOO_LOW = 6
    UNSUPPORTED_ASSET = 7


class GatewayStatus(IntEnum):
    SENT = 1
    REFUNDED = 2


@dataclass(frozen=True)
class XcmDestination:
    fallback: bytes
    xcm_version: int
    para_id: int
    beneficiary_kind: BeneficiaryKind
    beneficiary: bytes
    max_fee: int

    def __post_init__(self) -> None:
        if len(self.fallback) != 32 or self.fallback == bytes(32):
            raise GatewayError("the fallback must be a non-zero 32-byte account on Phala")
        if not 1 <= self.xcm_version <= 255:
            raise GatewayError(f"XCM version out of range: {self.xcm_version}")
        if not 0 <= self.para_id < 2**32:
            raise GatewayError(f"parachain id out of range: {self.para_id}")
        if not isinstance(self.beneficiary_kind, BeneficiaryKind):
            raise GatewayError(f"unknown beneficiary kind {self.beneficiary_kind!r}")
        if len(self.beneficiary) != self.beneficiary_kind.length:
            raise GatewayError(
                f"an {self.beneficiary_kind.label} beneficiary is {self.beneficiary_kind.length} bytes, "
                f"got {len(self.beneficiary)}"
            )
        if self.beneficiary == bytes(len(self.beneficiary)):
            raise GatewayError("the zero account cannot be a beneficiary")
        if not 0 < self.max_fee <= MAX_U128:
            raise GatewayError(f"max_fee must be a positive u128, got {self.max_fee}")


def encode_destination(dest: XcmDestination) -> bytes:
    return (
        DEST_MAGIC
        + bytes([VERSION])
        + dest.fallback
        + bytes([dest.xcm_version])
        + dest.para_id.to_bytes(4, "big")
        + bytes([dest.beneficiary_kind])
        + dest.beneficiary
        + dest.max_fee.to_bytes(16, "big")
    )


def is_destination(recipient: bytes) -> bool:
    """Whether a Phala-bound recipient claims to be an XCM destination (its magic), valid or not."""
    return recipient.startswith(DEST_MAGIC)


def fallback_of(recipient: bytes) -> bytes | None:
    """The fallback account from the head of an XCM destination whatever follows; None when even the head is bad."""
    if len(recipient) < FALLBACK_END or not is_destination(recipient) or recipient[4] != VERSION:
        return None
    fallback = recipient[5:FALLBACK_END]
    return None if fallback == bytes(32) else fallback


def decode_destination(data: bytes) -> XcmDestination:
    r = _Reader(data, "XCM destination")
    r.magic(DEST_MAGIC)
    r.version()
    fallback = r.take(32, "fallback")
    xcm_version = r.u8("xcm version")
    para_id = r.uint(4, "para id")
    kind_byte = r.u8("beneficiary kind")
    try:
        kind = BeneficiaryKind(kind_byte)
    except ValueError:
        raise GatewayError(
            f"XCM destination: unknown beneficiary kind {kind_byte} (1 AccountId32, 2 AccountKey20)"
        ) from None
    beneficiary = r.take(kind.length, "beneficiary")
    max_fee = r.uint(16, "max fee")
    r.end()
    return XcmDestination(fallback, xcm_version, para_id, kind, beneficiary, max_fee)


# -- routes (configuration) ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayRoute:
    """A parachain the gateway delivers to, and what that route needs."""

    name: str
    para_id: int
    xcm_versions: frozenset[int]
    beneficiaries: frozenset[BeneficiaryKind]
    min_fee: int  # planck: below this, BuyExecution cannot pay the program's weight there
    min_deposit: int  # planck: amount - max_fee must reach it (the destination's existential deposit)
    weight_limit_base: int = DEFAULT_WEIGHT_LIMIT_BASE


class RouteSpec(Protocol):
    """A route as configured: a node's `[chains.phala.gateway.parachains.<name>]` (bridge/config/schema.py) or a
    client's network file (bridge/network.py). Both describe the same route, so one builder reads both."""

    @property
    def para_id(self) -> int: ...
    @property
    def xcm_versions(self) -> Sequence[int]: ...
    @property
    def beneficiaries(self) -> Sequence[str]: ...
    @property
    def min_fee(self) -> int: ...
    @property
    def min_deposit(self) -> int: ...
    @property
    def weight_limit_base(self) -> int: ...


def beneficiary_kind(label: str) -> BeneficiaryKind:
    for kind in BeneficiaryKind:
        if kind.label == label:
            return kind
    known = ", ".join(k.label for k in BeneficiaryKind)
    raise GatewayError(f"unknown beneficiary kind {label!r}; known: {known}")


def route_of(name: str, spec: RouteSpec) -> GatewayRoute:
    return GatewayRoute(
        name=name,
        para_id=spec.para_id,
        xcm_versions=frozenset(spec.xcm_versions),
        beneficiaries=frozenset(beneficiary_kind(b) for b in spec.beneficiaries),
        min_fee=spec.min_fee,
        min_deposit=spec.min_deposit,
        weight_limit_base=spec.weight_limit_base,
    )


@dataclass(frozen=True)
class GatewayConfig:
    reserve_account: bytes  # on Phala: receives what is sent on (what phala's sovereign account pays out there)
    routes: Mapping[int, GatewayRoute] = field(default_factory=dict)  # para id -> route
    resource_id: bytes | None = None  # the asset the gateway carries (PHA); others are refunded

    def route_named(self, name: str) -> GatewayRoute:
        """A route by name or `para:<id>`; `UnknownParachain` names the known ones."""
        text = name.strip().lower()
        for route in self.routes.values():
            if route.name.lower() == text or text == f"para:{route.para_id}":
                return route
        known = ", ".join(f"{r.name} (para:{r.para_id})" for r in self.routes.values()) or "none"
        raise GatewayError(f"unknown parachain {name!r}; the gateway serves: {known}")

    @classmethod
    def of(
        cls, reserve_account: bytes, parachains: Mapping[str, RouteSpec], resource_id: bytes | None = None
    ) -> GatewayConfig:
        """The gateway's routes from their configuration (node config or network file), keyed by para id."""
        return cls(reserve_account, {p.para_id: route_of(name, p) for name, p in parachains.items()}, resource_id)


# -- deciding what to do with a deposit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    dest: XcmDestination
    para_id: int
    dest_bytes: bytes
    program: bytes


@dataclass(frozen=True)
class Refund:
    account: bytes
    reason: RefundReason
    detail: str


def check_destination(
    dest: XcmDestination, amount: int, config: GatewayConfig, resource_id: bytes | None = None
) -> tuple[RefundReason, str] | None:
    """Why the gateway cannot carry `amount` to `dest` (reason, detail); None when it can."""
    if config.resource_id is not None and resource_id is not None and resource_id != config.resource_id:
        return RefundReason.UNSUPPORTED_ASSET, f"the gateway carries only 0x{config.resource_id.hex()}"
    route = config.routes.get(dest.para_id)
    if route is None:
        known = ", ".join(str(p) for p in sorted(config.routes)) or "none"
        return RefundReason.UNKNOWN_PARACHAIN, f"parachain {dest.para_id} is not served (known: {known})"
    if dest.xcm_version not in route.xcm_versions or dest.xcm_version not in PROGRAM_VERSIONS:
        ok = sorted(route.xcm_versions & PROGRAM_VERSIONS)
        return RefundReason.UNSUPPORTED_VERSION, f"XCM V{dest.xcm_version} is not spoken on {route.name} (use {ok})"
    if dest.beneficiary_kind not in route.beneficiaries:
        ok_kinds = sorted(k.label for k in route.beneficiaries)
        return RefundReason.UNSUPPORTED_BENEFICIARY, f"{route.name} takes {ok_kinds} beneficiaries only"
    if dest.max_fee < route.min_fee:
        return RefundReason.FEE_TOO_LOW, f"max fee {dest.max_fee} is below what {route.name} needs ({route.min_fee})"
    if amount - dest.max_fee < route.min_deposit:
        return (
            RefundReason.AMOUNT_TOO_LOW,
            f"amount {amount} minus max fee {dest.max_fee} is below {route.name}'s minimum deposit {route.min_deposit}",
        )
    return None


def decide(
    recipient: bytes, amount: int, nonce: int, config: GatewayConfig, resource_id: bytes | None = None
) -> Route | Refund | None:
    """What the bridge account does with a Phala-bound deposit whose recipient is an XCM destination: send it on
    (`Route`, with the exact bytes), or credit the fallback (`Refund`). None when not even a fallback is readable
    (the policy refuses those: the funds stay locked in the Ethereum bridge)."""
    fallback = fallback_of(recipient)
    if fallback is None:
        return None
    try:
        dest = decode_destination(recipient)
    except GatewayError as exc:
        return Refund(fallback, RefundReason.MALFORMED, str(exc))
    refusal = check_destination(dest, amount, config, resource_id)
    if refusal is not None:
        return Refund(fallback, *refusal)
    route = config.routes[dest.para_id]
    return Route(
        dest,
        dest.para_id,
        encode_sibling_dest(dest.para_id),
        encode_program_v2(amount, dest, route.weight_limit_base + nonce),
    )


# -- the gateway record ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayRecord:
    message_id: bytes
    status: GatewayStatus
    para_id: int = 0
    dest: bytes = b""
    program: bytes = b""
    reason: RefundReason | None = None
    account: bytes = b""

    def __post_init__(self) -> None:
        if len(self.message_id) != 32:
            raise GatewayError("gateway record: a message id is 32 bytes")
        if self.status is GatewayStatus.SENT:
            if not (self.dest and self.program) or self.reason is not None or self.account:
                raise GatewayError("gateway record: a sent record has a destination and a program only")
            if len(self.dest) > MAX_PROGRAM or len(self.program) > MAX_PROGRAM:
                raise GatewayError(f"gateway record: destination and program are at most {MAX_PROGRAM} bytes")
        elif self.status is GatewayStatus.REFUNDED:
            if self.reason is None or len(self.account) != 32 or self.dest or self.program or self.para_id:
                raise GatewayError("gateway record: a refund has a reason and a 32-byte account only")
        else:
            raise GatewayError(f"gateway record: unknown status {self.status!r}")

    @property
    def message_id_hex(self) -> str:
        return "0x" + self.message_id.hex()

    @classmethod
    def of(cls, message_id: bytes, decision: Route | Refund) -> GatewayRecord:
        if isinstance(decision, Route):
            return cls(message_id, GatewayStatus.SENT, decision.para_id, decision.dest_bytes, decision.program)
        return cls(message_id, GatewayStatus.REFUNDED, reason=decision.reason, account=decision.account)


def encode_record(record: GatewayRecord) -> bytes:
    out = RECORD_MAGIC + bytes([VERSION]) + record.message_id + bytes([record.status])
    if record.status is GatewayStatus.SENT:
        out += record.para_id.to_bytes(4, "big")
        out += len(record.dest).to_bytes(2, "big") + record.dest
        out += len(record.program).to_bytes(2, "big") + record.program
    else:
        assert record.reason is not None
        out += bytes([record.reason]) + record.account
    return out


def decode_record(data: bytes) -> GatewayRecord:
    r = _Reader(data, "gateway record")
    r.magic(RECORD_MAGIC)
    r.version()
    message_id = r.take(32, "message id")
    status_byte = r.u8("status")
    try:
        status = GatewayStatus(status_byte)
    except ValueError:
        raise GatewayError(f"gateway record: unknown status {status_byte}") from None
    if status is GatewayStatus.SENT:
        para_id = r.uint(4, "para id")
        dest = r.take(r.uint(2, "destination length"), "destination")
        program = r.take(r.uint(2, "program length"), "program")
        r.end()
        return GatewayRecord(message_id, status, para_id, dest, program)
    reason_byte = r.u8("reason")
    try:
        reason = RefundReason(reason_byte)
    except ValueError:
        raise GatewayError(f"gateway record: unknown refund reason {reason_byte}") from None
    account = r.take(32, "account")
    r.end()
    return GatewayRecord(message_id, status, reason=reason, account=account)


def is_record(data: bytes) -> bool:
    return data.startswith(RECORD_MAGIC)


# -- the XCM bytes (V2) ----------------------------------------------------------------------------------------------

PROGRAM_VERSIONS = frozenset({2})  # what `encode_program_v2` writes; V3+ would end with SetTopic instead of the tag


def encode_sibling_dest(para_id: int) -> bytes:
    """`VersionedMultiLocation::V1 { parents: 1, interior: X1(Parachain(para_id)) }` (index 1: the V2-era form)."""
    return b"\x01\x01\x01\x00" + compact(para_id)


def _relay_token(amount: int) -> bytes:
    # MultiAsset { id: Concrete({parents: 1, Here}), fun: Fungible(compact amount) }
    return b"\x00\x01\x00\x00" + compact(amount)


def _beneficiary(dest: XcmDestination) -> bytes:
    # MultiLocation { parents: 0, X1(AccountId32 { network: Any, id }) } or X1(AccountKey20 { network: Any, key })
    junction = b"\x01" if dest.beneficiary_kind is BeneficiaryKind.ACCOUNT_ID32 else b"\x03"
    return b"\x00\x01" + junction + b"\x00" + dest.beneficiary


def encode_program_v2(amount: int, dest: XcmDestination, weight_limit: int) -> bytes:
    """`VersionedXcm::V2[WithdrawAsset, ClearOrigin, BuyExecution, DepositAsset]` paying `amount` of the relay token
    out of the sender's sovereign account to the beneficiary (see the module doc)."""
    if not 0 < dest.max_fee <= amount <= MAX_U128:
        raise GatewayError(f"amount {amount} must cover the max fee {dest.max_fee}")
    if not 0 < weight_limit < 2**64:
        raise GatewayError(f"a V2 weight limit is a u64, got {weight_limit}")
    return (
        b"\x02"  # V2
        + compact(4)
        + b"\x00" + compact(1) + _relay_token(amount)  # WithdrawAsset([asset])
        + b"\x0a"  # ClearOrigin
        + b"\x13" + _relay_token(dest.max_fee) + b"\x01" + compact(weight_limit)  # BuyExecution(fees, Limited(w))
        + b"\x0d" + b"\x01\x00" + compact(1) + _beneficiary(dest)  # DepositAsset(Wild(All), 1, beneficiary)
    )  # fmt: skip


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray):
            raise GatewayError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def take(self, n: int, name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise GatewayError(f"{self.what}: truncated in {name} (needs {n} bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, name: str) -> int:
        return self.take(1, name)[0]

    def uint(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")

    def magic(self, magic: bytes) -> None:
        if self.data[: len(magic)] != magic:
            raise GatewayError(f"{self.what}: does not start with {magic!r}")
        self.pos = len(magic)

    def version(self) -> None:
        version = self.u8("version")
        if version != VERSION:
            raise GatewayError(f"{self.what}: unsupported version {version} (this gateway reads version {VERSION})")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise GatewayError(f"{self.what}: {len(self.data) - self.pos} trailing bytes after the end")


__all__ = [
    "DEST_MAGIC",
    "PROGRAM_VERSIONS",
    "RECORD_MAGIC",
    "BeneficiaryKind",
    "GatewayConfig",
    "GatewayError",
    "GatewayRecord",
    "GatewayRoute",
    "GatewayStatus",
    "Refund",
    "RefundReason",
    "Route",
    "RouteSpec",
    "XcmDestination",
    "beneficiary_kind",
    "check_destination",
    "decide",
    "decode_destination",
    "decode_record",
    "encode_destination",
    "encode_program_v2",
    "encode_record",
    "encode_sibling_dest",
    "fallback_of",
    "is_destination",
    "is_record",
    "route_of",
]
