"""Every custom error of our contracts as a typed Python exception with a readable message.

    BridgeContractError                 a revert (or recorded reason) of one of our contracts, decoded
    ├── AccessError                     NotAdmin, NotPendingAdmin, NotGuardian, ZeroAddress
    ├── PauseError                      BridgePaused (retryable), NotPaused, AlreadyPaused
    ├── CommitteeKeyError               KeyAlreadyInitialized, KeyNotInitialized, InvalidPublicKey, UnknownKeyEpoch,
    │                                   PreviousKeyExpired, OverlapTooLong
    ├── SignatureError                  WrongSigningKey, InvalidSignature
    ├── BatchError                      MalformedBatch, UnsupportedBatchVersion, InvalidSourceDomain, EmptyBatch,
    │                                   UnknownItemKind, NonceAlreadyUsed, UnknownToken, TargetNotAllowed,
    │                                   InsufficientGasForCall (retryable), NoMessageOrigin
    ├── ReleaseDeferred                 why a release was queued (ReleaseQueued.reason, never thrown by the chain):
    │                                   RateLimited, LargeTransferDelayed, TokenCallReverted
    ├── QueueError                      ReleaseNotPending, ReleaseNotReady (retryable), TokenCallFailed
    ├── OutboundError                   UnsupportedDestination, UnknownResource, ZeroAmount, InexactAmount,
    │                                   AmountTooLarge, InvalidRecipientLength, InvalidRecipient,
    │                                   InvalidPayloadLength, IncorrectFee
    ├── ConfigError                     InvalidTokenConfig, NotAContract, FeeTransferFailed, UnknownRecipientRule
    ├── TokenError                      InsufficientBalance, InsufficientAllowance, InvalidReceiver, NotBridge,
    │                                   NotOwner, TokenPaused
    ├── ExampleContractError            AlwaysReverts, AuctionAlreadySettled, PriceTooLarge, BadSignature,
    │                                   BadSignatureCount, NotOwnerOrigin, Refused, WrongOrigin, InvalidDomain
    ├── RevertedWithReason              Error(string)
    ├── PanicError                      Panic(uint256)
    └── UnknownRevert                   any other revert data (kept raw)

`decode_error(data)` turns revert data into the matching exception; `retryable` says whether the same transaction
may succeed later (decided by the error type, never by matching text). tests/contracts checks that every error in
the committed ABIs has a class here with the same signature and field names.

The adapter's own errors (relayer side, not reverts) form a second tree, mapped from web3/requests at the boundary:

    EthereumAdapterError                `retryable` as above
    ├── RpcUnavailable                  could not connect, or the connection broke              (retryable)
    ├── RpcTimeout                      no answer within the request timeout                    (retryable)
    ├── RpcError                        the node answered with an error                          (retryable)
    ├── ChainIdMismatch                 the node serves another chain than configured            (permanent)
    ├── ChainInconsistent               blocks read in one pass do not chain (a reorg meanwhile) (retryable)
    ├── BridgeNotReady                  no committee key yet, or the bridge is paused            (retryable)
    ├── UnknownGroupKey                 no group key known for an epoch, or it does not match   (permanent)
    ├── DigestMismatch                  our digest differs from the contract's batchDigest view  (permanent)
    ├── RequestMismatch                 a request to submit is not self-consistent               (permanent)
    ├── FeeCapExceeded                  the base fee is above the configured cap                 (retryable)
    ├── TransactionRejected             the node refused a raw transaction (nonce resynced)      (retryable)
    ├── VerificationRefused             an independent check failed: do not sign                 (permanent)
    └── NothingToExecute                every message of a batch was refused, executed or deferred
"""

from __future__ import annotations

import re
from typing import ClassVar

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from bridge.ports import BatchNotExecutable
from bridge.ports import VerificationRefused as PortVerificationRefused

__all__ = [
    "AccessError",
    "AlreadyPaused",
    "AlwaysReverts",
    "AmountTooLarge",
    "AuctionAlreadySettled",
    "BadSignature",
    "BadSignatureCount",
    "BatchError",
    "BridgeContractError",
    "BridgeNotReady",
    "BridgePaused",
    "ChainIdMismatch",
    "ChainInconsistent",
    "CommitteeKeyError",
    "ConfigError",
    "DigestMismatch",
    "EmptyBatch",
    "EthereumAdapterError",
    "ExampleContractError",
    "FeeCapExceeded",
    "FeeTransferFailed",
    "IncorrectFee",
    "InexactAmount",
    "InsufficientAllowance",
    "InsufficientBalance",
    "InsufficientGasForCall",
    "InvalidDomain",
    "InvalidPayloadLength",
    "InvalidPublicKey",
    "InvalidReceiver",
    "InvalidRecipient",
    "InvalidRecipientLength",
    "InvalidSignature",
    "InvalidSourceDomain",
    "InvalidTokenConfig",
    "KeyAlreadyInitialized",
    "KeyNotInitialized",
    "LargeTransferDelayed",
    "MalformedBatch",
    "NoMessageOrigin",
    "NonceAlreadyUsed",
    "NotAContract",
    "NotAdmin",
    "NotBridge",
    "NotGuardian",
    "NotOwner",
    "NotOwnerOrigin",
    "NotPaused",
    "NotPendingAdmin",
    "NothingToExecute",
    "OutboundError",
    "OverlapTooLong",
    "PanicError",
    "PauseError",
    "PreviousKeyExpired",
    "PriceTooLarge",
    "QueueError",
    "RateLimited",
    "Refused",
    "ReleaseDeferred",
    "ReleaseNotPending",
    "ReleaseNotReady",
    "RequestMismatch",
    "RevertedWithReason",
    "RpcError",
    "RpcTimeout",
    "RpcUnavailable",
    "SignatureError",
    "TargetNotAllowed",
    "TokenCallFailed",
    "TokenCallReverted",
    "TokenError",
    "TokenPaused",
    "TransactionRejected",
    "UnknownGroupKey",
    "UnknownItemKind",
    "UnknownKeyEpoch",
    "UnknownRecipientRule",
    "UnknownResource",
    "UnknownRevert",
    "UnknownToken",
    "UnsupportedBatchVersion",
    "UnsupportedDestination",
    "VerificationRefused",
    "WrongOrigin",
    "WrongSigningKey",
    "ZeroAddress",
    "ZeroAmount",
    "decode_error",
    "error_classes",
]

_SIGNATURE = re.compile(r"(\w+)\(([\w,\[\]]*)\)")


class BridgeContractError(Exception):
    """A revert of one of our contracts (or a reason it recorded), decoded into fields and a readable message."""

    signature: ClassVar[str] = ""  # e.g. "NotAdmin(address)"; empty for the catch-all classes
    fields: ClassVar[tuple[str, ...]] = ()  # the Solidity parameter names, in order
    template: ClassVar[str] = "reverted"
    retryable: ClassVar[bool] = False  # may the same transaction succeed later, unchanged?

    def __init__(self, *values: object, data: bytes = b"") -> None:
        if len(values) != len(self.fields):
            raise TypeError(f"{type(self).__name__} takes {len(self.fields)} values, got {len(values)}")
        self.values: dict[str, object] = dict(zip(self.fields, values, strict=True))
        self.data = data
        shown = {name: _show(name, value) for name, value in self.values.items()}
        super().__init__(f"{self.error_name}: {self.template.format(**shown)}")

    @property
    def error_name(self) -> str:
        return self.signature.split("(", 1)[0] if self.signature else type(self).__name__

    @property
    def message(self) -> str:
        return str(self)

    @classmethod
    def selector(cls) -> bytes:
        return bytes(keccak(cls.signature.encode()))[:4]

    @classmethod
    def abi_types(cls) -> list[str]:
        match = _SIGNATURE.fullmatch(cls.signature)
        if match is None:
            raise ValueError(f"bad error signature {cls.signature!r}")
        return [t for t in match.group(2).split(",") if t]


_NESTED_REVERT_FIELDS = frozenset({"reason", "data"})  # bytes fields that hold another call's revert data


def _show(name: str, value: object) -> str:
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return str(to_checksum_address(value))
    if isinstance(value, bytes):
        if name in _NESTED_REVERT_FIELDS and len(value) >= 4:
            nested = decode_error(value)
            if not isinstance(nested, UnknownRevert):
                return f"({nested})"
        return "0x" + value.hex() if value else "(no data)"
    return str(value)


# ---- roles -----------------------------------------------------------------------------------------------------


class AccessError(BridgeContractError):
    """The caller lacks the role the function needs."""


class NotAdmin(AccessError):
    signature = "NotAdmin(address)"
    fields = ("caller",)
    template = "{caller} is not the bridge admin"


class NotPendingAdmin(AccessError):
    signature = "NotPendingAdmin(address)"
    fields = ("caller",)
    template = "{caller} is not the pending admin (the admin must name it with transferAdmin first)"


class NotGuardian(AccessError):
    signature = "NotGuardian(address)"
    fields = ("caller",)
    template = "{caller} is not the guardian; only the guardian or a committee signature can pause"


class ZeroAddress(AccessError):
    signature = "ZeroAddress()"
    template = "the zero address is not allowed here"


# ---- pause -----------------------------------------------------------------------------------------------------


class PauseError(BridgeContractError):
    """The pause state forbids the call."""


class BridgePaused(PauseError):
    signature = "BridgePaused()"
    template = "the bridge is paused: deposits, messages, batches and claims wait for a committee-signed unpause"
    retryable = True


class NotPaused(PauseError):
    signature = "NotPaused()"
    template = "the bridge is not paused"


class AlreadyPaused(PauseError):
    signature = "AlreadyPaused()"
    template = "the bridge is already paused"


# ---- committee key and signatures ------------------------------------------------------------------------------


class CommitteeKeyError(BridgeContractError):
    """The committee key is missing, wrong, expired or cannot be registered."""


class KeyAlreadyInitialized(CommitteeKeyError):
    signature = "KeyAlreadyInitialized()"
    template = "the committee key is already set; only a rotation signed by the current key can change it"


class KeyNotInitialized(CommitteeKeyError):
    signature = "KeyNotInitialized()"
    template = "no committee key yet: the admin must call initializeKey once the DKG has produced one"


class InvalidPublicKey(CommitteeKeyError):
    signature = "InvalidPublicKey(uint256,uint256)"
    fields = ("x", "y")
    template = "({x}, {y}) is not a usable group key (it must be a secp256k1 point with 0 < x < n)"


class UnknownKeyEpoch(CommitteeKeyError):
    signature = "UnknownKeyEpoch(uint32,uint32)"
    fields = ("epoch", "currentEpoch")
    template = (
        "the batch names key epoch {epoch}; the bridge accepts epoch {currentEpoch} "
        "(and the one before it only during a rotation overlap)"
    )


class PreviousKeyExpired(CommitteeKeyError):
    signature = "PreviousKeyExpired(uint32,uint256)"
    fields = ("epoch", "validUntil")
    template = "the key of epoch {epoch} was accepted until {validUntil} (unix time); re-sign with the current key"


class OverlapTooLong(CommitteeKeyError):
    signature = "OverlapTooLong(uint256,uint256)"
    fields = ("overlap", "maxOverlap")
    template = "a key overlap of {overlap} s exceeds the maximum of {maxOverlap} s"


class SignatureError(BridgeContractError):
    """The committee signature is malformed, from another key, or does not verify."""


class WrongSigningKey(SignatureError):
    signature = "WrongSigningKey()"
    template = "the signature names a group key other than the one registered for this epoch"


class InvalidSignature(SignatureError):
    signature = "InvalidSignature()"
    template = (
        "the FROST signature does not verify (a wrong signer, or signed for another chain id, bridge address, "
        "key epoch or batch)"
    )


# ---- batches ---------------------------------------------------------------------------------------------------


class BatchError(BridgeContractError):
    """The batch was refused as a whole: nothing in it was executed."""


class MalformedBatch(BatchError):
    signature = "MalformedBatch(uint256)"
    fields = ("offset",)
    template = "malformed batch: the item at byte {offset} is truncated or runs past the end"


class UnsupportedBatchVersion(BatchError):
    signature = "UnsupportedBatchVersion(uint8)"
    fields = ("version",)
    template = "batch version {version} is not supported (this bridge reads version 1)"


class InvalidSourceDomain(BatchError):
    signature = "InvalidSourceDomain(uint32)"
    fields = ("domain",)
    template = "source domain {domain} is not valid for a batch executed here"


class EmptyBatch(BatchError):
    signature = "EmptyBatch()"
    template = "the batch has no items"


class UnknownItemKind(BatchError):
    signature = "UnknownItemKind(uint256,uint8)"
    fields = ("offset", "kind")
    template = "unknown item kind {kind} at byte {offset} (1 = token release, 2 = call, 3 = call with origin)"


class NonceAlreadyUsed(BatchError):
    signature = "NonceAlreadyUsed(uint32,uint64)"
    fields = ("sourceDomain", "nonce")
    template = "nonce {nonce} from domain {sourceDomain} was already executed: replay refused"


class UnknownToken(BatchError):
    signature = "UnknownToken(address)"
    fields = ("token",)
    template = "token {token} is not configured on the bridge"


class TargetNotAllowed(BatchError):
    signature = "TargetNotAllowed(address)"
    fields = ("target",)
    template = "{target} is not an allow-listed call target"


class InsufficientGasForCall(BatchError):
    signature = "InsufficientGasForCall(uint64,uint256)"
    fields = ("nonce", "gasLimit")
    template = "too little gas left to give item {nonce} its {gasLimit} gas: send the batch with more gas"
    retryable = True


class NoMessageOrigin(BatchError):
    signature = "NoMessageOrigin()"
    template = "no message origin: messageOrigin() is set only while the bridge runs a call item that carries one"


# ---- why a release was queued (recorded in ReleaseQueued.reason) -----------------------------------------------


class ReleaseDeferred(BridgeContractError):
    """A release went to the delay queue instead of paying out (the batch itself succeeded)."""


class RateLimited(ReleaseDeferred):
    signature = "RateLimited(address,uint256,uint256)"
    fields = ("token", "amount", "available")
    template = "a release of {amount} of {token} exceeds the rate limit ({available} available): queued for the delay"


class LargeTransferDelayed(ReleaseDeferred):
    signature = "LargeTransferDelayed(address,uint256,uint256)"
    fields = ("token", "amount", "threshold")
    template = "a release of {amount} of {token} is above the large-transfer threshold {threshold}: queued"


class TokenCallReverted(ReleaseDeferred):
    signature = "TokenCallReverted(address,bytes)"
    fields = ("token", "reason")
    template = "token {token} refused the release {reason}: queued, claimable at once"


# ---- delay queue -----------------------------------------------------------------------------------------------


class QueueError(BridgeContractError):
    """A claim or cancellation of a queued release was refused."""


class ReleaseNotPending(QueueError):
    signature = "ReleaseNotPending(uint32,uint64)"
    fields = ("sourceDomain", "nonce")
    template = "no queued release of nonce {nonce} from domain {sourceDomain} matches these arguments"


class ReleaseNotReady(QueueError):
    signature = "ReleaseNotReady(uint32,uint64,uint256)"
    fields = ("sourceDomain", "nonce", "readyAt")
    template = "the queued release of nonce {nonce} from domain {sourceDomain} is claimable from {readyAt} (unix time)"
    retryable = True


class TokenCallFailed(QueueError):
    signature = "TokenCallFailed(address,bytes)"
    fields = ("token", "reason")
    template = "the call to token {token} failed {reason}"


# ---- deposits and messages -------------------------------------------------------------------------------------


class OutboundError(BridgeContractError):
    """A deposit or message was refused before anything moved."""


class UnsupportedDestination(OutboundError):
    signature = "UnsupportedDestination(uint32)"
    fields = ("domain",)
    template = "domain {domain} is not an enabled destination"


class UnknownResource(OutboundError):
    signature = "UnknownResource(bytes32)"
    fields = ("resourceId",)
    template = "resource {resourceId} is not configured on the bridge"


class ZeroAmount(OutboundError):
    signature = "ZeroAmount()"
    template = "the amount must be greater than zero"


class InexactAmount(OutboundError):
    signature = "InexactAmount(uint256,uint256)"
    fields = ("amount", "granularity")
    template = (
        "amount {amount} is not a multiple of {granularity}: it would not convert exactly to the destination's "
        "decimals (PHA: 18 on Ethereum, 12 on Phala)"
    )


class AmountTooLarge(OutboundError):
    signature = "AmountTooLarge(uint256,uint256)"
    fields = ("amount", "maxAmount")
    template = "amount {amount} exceeds the maximum {maxAmount}"


class InvalidRecipientLength(OutboundError):
    signature = "InvalidRecipientLength(uint256,uint256)"
    fields = ("length", "maxLength")
    template = "the recipient is {length} bytes; it must be 1 to {maxLength} bytes"


class InvalidRecipient(OutboundError):
    signature = "InvalidRecipient(uint32,uint256)"
    fields = ("destinationDomain", "length")
    template = (
        "the recipient ({length} bytes) is not one domain {destinationDomain} can pay: a 32-byte account, or an XCM "
        "destination (PHXD, version 1) with its fallback account; the destination would refuse it for good"
    )


class InvalidPayloadLength(OutboundError):
    signature = "InvalidPayloadLength(uint256,uint256)"
    fields = ("length", "maxLength")
    template = "the payload is {length} bytes; it must be 1 to {maxLength} bytes"


class IncorrectFee(OutboundError):
    signature = "IncorrectFee(uint256,uint256)"
    fields = ("sent", "required")
    template = "{sent} wei sent; the message fee is exactly {required} wei"


# ---- configuration ---------------------------------------------------------------------------------------------


class ConfigError(BridgeContractError):
    """An admin configuration call was refused."""


class InvalidTokenConfig(ConfigError):
    signature = "InvalidTokenConfig(address)"
    fields = ("token",)
    template = "invalid limits or kind for token {token} (or the token is an allow-listed call target)"


class NotAContract(ConfigError):
    signature = "NotAContract(address)"
    fields = ("account",)
    template = "{account} has no code"


class UnknownRecipientRule(ConfigError):
    signature = "UnknownRecipientRule(uint8)"
    fields = ("rule",)
    template = "recipient rule {rule} is unknown (0: any bytes, 1: a Substrate account or XCM destination)"


class FeeTransferFailed(ConfigError):
    signature = "FeeTransferFailed(address,uint256)"
    fields = ("to", "amount")
    template = "sending {amount} wei of fees to {to} failed"


# ---- tokens ----------------------------------------------------------------------------------------------------


class TokenError(BridgeContractError):
    """A revert of the PHA test token or a wrapped token."""


class InsufficientBalance(TokenError):
    signature = "InsufficientBalance(address,uint256,uint256)"
    fields = ("account", "balance", "needed")
    template = "{account} holds {balance}, needs {needed}"


class InsufficientAllowance(TokenError):
    signature = "InsufficientAllowance(address,uint256,uint256)"
    fields = ("spender", "allowance", "needed")
    template = "{spender} may spend {allowance}, needs {needed} (approve the bridge first)"


class InvalidReceiver(TokenError):
    signature = "InvalidReceiver(address)"
    fields = ("receiver",)
    template = "{receiver} cannot receive tokens"


class NotBridge(TokenError):
    signature = "NotBridge(address)"
    fields = ("caller",)
    template = "{caller} is not the bridge; only the bridge may call this (mint, burn, a bridge-only target)"


class NotOwner(TokenError):
    signature = "NotOwner(address)"
    fields = ("caller",)
    template = "{caller} is not the token owner"


class TokenPaused(TokenError):
    signature = "TokenPaused()"
    template = "the token is paused"
    retryable = True


# ---- example and benchmark contracts ---------------------------------------------------------------------------


class ExampleContractError(BridgeContractError):
    """A revert of an example call target or a benchmark contract."""


class AlwaysReverts(ExampleContractError):
    signature = "AlwaysReverts(address,bytes)"
    fields = ("caller", "data")
    template = "the reverting example target refused a call from {caller} with data {data}"


class AuctionAlreadySettled(ExampleContractError):
    signature = "AuctionAlreadySettled(uint256)"
    fields = ("auctionId",)
    template = "auction {auctionId} is already settled"


class PriceTooLarge(ExampleContractError):
    signature = "PriceTooLarge(uint256,uint256)"
    fields = ("price", "maxPrice")
    template = "price {price} does not fit the auction's outcome word (at most {maxPrice})"


class WrongOrigin(ExampleContractError):
    signature = "WrongOrigin(uint32,bytes32)"
    fields = ("sourceDomain", "sender")
    template = "the call came from {sender} on domain {sourceDomain}, not from this auction's confidential contract"


class InvalidDomain(ExampleContractError):
    signature = "InvalidDomain(uint32)"
    fields = ("domain",)
    template = "domain id {domain} is not a source domain (0 means none)"


class BadSignature(ExampleContractError):
    signature = "BadSignature(uint256)"
    fields = ("index",)
    template = "ECDSA signature {index} is invalid, out of order or not from a signer"


class BadSignatureCount(ExampleContractError):
    signature = "BadSignatureCount(uint256)"
    fields = ("length",)
    template = "{length} bytes of ECDSA signatures is not threshold * 65"


class NotOwnerOrigin(ExampleContractError):
    signature = "NotOwnerOrigin(uint32,bytes32)"
    fields = ("sourceDomain", "sender")
    template = "the call came from {sender} on domain {sourceDomain}, not from the target's owner"


class Refused(ExampleContractError):
    signature = "Refused()"
    template = "the test target refused the call"


# ---- generic reverts -------------------------------------------------------------------------------------------


class RevertedWithReason(BridgeContractError):
    signature = "Error(string)"
    fields = ("reason",)
    template = "{reason}"


class PanicError(BridgeContractError):
    signature = "Panic(uint256)"
    fields = ("code",)
    template = "Solidity panic code {code} (0x11 overflow, 0x12 division by zero, 0x32 out-of-bounds index)"


class UnknownRevert(BridgeContractError):
    """Revert data that matches none of our errors (raw data in `.data`)."""

    fields = ("raw",)
    template = "unrecognised revert data {raw}"

    def __init__(self, data: bytes) -> None:
        super().__init__("0x" + data.hex() if data else "(none)", data=data)


def error_classes() -> list[type[BridgeContractError]]:
    """Every concrete error class with a Solidity signature."""
    found: list[type[BridgeContractError]] = []
    stack: list[type[BridgeContractError]] = [BridgeContractError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.signature:
            found.append(cls)
    return sorted(found, key=lambda c: c.signature)


_BY_SELECTOR: dict[bytes, type[BridgeContractError]] = {cls.selector(): cls for cls in error_classes()}


def decode_error(data: bytes | str) -> BridgeContractError:
    """The typed exception for revert data (bytes or 0x-hex); UnknownRevert when nothing matches."""
    raw = bytes.fromhex(data[2:] if data.startswith(("0x", "0X")) else data) if isinstance(data, str) else bytes(data)
    cls = _BY_SELECTOR.get(raw[:4]) if len(raw) >= 4 else None
    if cls is None:
        return UnknownRevert(raw)
    types = cls.abi_types()
    try:
        values = abi_decode(types, raw[4:])
    except (DecodingError, ValueError, OverflowError):
        return UnknownRevert(raw)
    shown = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return cls(*shown, data=raw)


# ---- the adapter's own errors (not reverts) ----------------------------------------------------------------------


class EthereumAdapterError(Exception):
    """An error of the Ethereum adapter itself; `retryable` says whether the same call may succeed later."""

    retryable: ClassVar[bool] = False


class RpcUnavailable(EthereumAdapterError, ConnectionError):
    retryable = True


class RpcTimeout(EthereumAdapterError, TimeoutError):
    retryable = True


class RpcError(EthereumAdapterError):
    """The node answered a request with an error (kept in `.detail`, never matched on)."""

    retryable = True

    def __init__(self, method: str, detail: object) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method
        self.detail = detail


class ChainIdMismatch(EthereumAdapterError):
    def __init__(self, expected: int, actual: int, url: str) -> None:
        super().__init__(f"the node at {url} serves chain id {actual}, but the configuration says {expected}")
        self.expected = expected
        self.actual = actual


class ChainInconsistent(EthereumAdapterError):
    retryable = True


class BridgeNotReady(EthereumAdapterError):
    retryable = True


class UnknownGroupKey(EthereumAdapterError):
    pass


class DigestMismatch(EthereumAdapterError):
    pass


class RequestMismatch(EthereumAdapterError):
    pass


class FeeCapExceeded(EthereumAdapterError):
    retryable = True


class TransactionRejected(EthereumAdapterError):
    """The node refused a raw transaction; the submitter has re-read its nonce. `.cause` keeps the node's error."""

    retryable = True


class VerificationRefused(EthereumAdapterError, PortVerificationRefused, ValueError):
    """An independent check failed: the member must not sign. Names the message and the field when it can. It is the
    port's `VerificationRefused` (code `mismatch`; `executed` for a message this member already sees executed, the
    leader's view lagging, which distrust.py does not count), so an enclave passes it on to the leader as it is."""

    def __init__(
        self, reason: str, *, message_id: str | None = None, field: str | None = None, code: str = "mismatch"
    ) -> None:
        parts = (f"message {message_id}" if message_id else "", f"field {field}" if field else "")
        where = " ".join(p for p in parts if p)
        PortVerificationRefused.__init__(self, code, f"{where}: {reason}" if where else reason)
        self.message_id = message_id
        self.field = field


class NothingToExecute(EthereumAdapterError, BatchNotExecutable):
    """`prepare` found nothing to send: `refused` (id -> reason), `executed` (already done), `deferred` (later)."""

    def __init__(self, refused: dict[str, str], executed: frozenset[str], deferred: frozenset[str]) -> None:
        BatchNotExecutable.__init__(self, refused, executed, deferred)
