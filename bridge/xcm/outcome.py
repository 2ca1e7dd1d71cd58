"""Why an XCM message failed on its destination, as reported by the chain, in a typed form.

`XcmErrorKind` names every XCM executor error of V2-V5 (the union of their `Error` enums, checked against
Polkadot's metadata) plus the message queues' own refusals (a message that could not even be decoded or run).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class XcmErrorKind(StrEnum):
    # XCM executor errors (xcm::v2..v5 traits::Error)
    OVERFLOW = "Overflow"
    UNIMPLEMENTED = "Unimplemented"
    UNTRUSTED_RESERVE_LOCATION = "UntrustedReserveLocation"
    UNTRUSTED_TELEPORT_LOCATION = "UntrustedTeleportLocation"
    MULTI_LOCATION_FULL = "MultiLocationFull"  # V2 name of LocationFull
    MULTI_LOCATION_NOT_INVERTIBLE = "MultiLocationNotInvertible"  # V2 name of LocationNotInvertible
    LOCATION_FULL = "LocationFull"
    LOCATION_NOT_INVERTIBLE = "LocationNotInvertible"
    BAD_ORIGIN = "BadOrigin"
    INVALID_LOCATION = "InvalidLocation"
    ASSET_NOT_FOUND = "AssetNotFound"
    FAILED_TO_TRANSACT_ASSET = "FailedToTransactAsset"
    NOT_WITHDRAWABLE = "NotWithdrawable"
    LOCATION_CANNOT_HOLD = "LocationCannotHold"
    EXCEEDS_MAX_MESSAGE_SIZE = "ExceedsMaxMessageSize"
    DESTINATION_UNSUPPORTED = "DestinationUnsupported"
    TRANSPORT = "Transport"
    UNROUTABLE = "Unroutable"
    UNKNOWN_CLAIM = "UnknownClaim"
    FAILED_TO_DECODE = "FailedToDecode"
    MAX_WEIGHT_INVALID = "MaxWeightInvalid"
    NOT_HOLDING_FEES = "NotHoldingFees"
    TOO_EXPENSIVE = "TooExpensive"
    TRAP = "Trap"
    EXPECTATION_FALSE = "ExpectationFalse"
    PALLET_NOT_FOUND = "PalletNotFound"
    NAME_MISMATCH = "NameMismatch"
    VERSION_INCOMPATIBLE = "VersionIncompatible"
    HOLDING_WOULD_OVERFLOW = "HoldingWouldOverflow"
    EXPORT_ERROR = "ExportError"
    REANCHOR_FAILED = "ReanchorFailed"
    NO_DEAL = "NoDeal"
    FEES_NOT_MET = "FeesNotMet"
    LOCK_ERROR = "LockError"
    NO_PERMISSION = "NoPermission"
    UNANCHORED = "Unanchored"
    NOT_DEPOSITABLE = "NotDepositable"
    TOO_MANY_ASSETS = "TooManyAssets"
    UNHANDLED_XCM_VERSION = "UnhandledXcmVersion"
    WEIGHT_LIMIT_REACHED = "WeightLimitReached"
    BARRIER = "Barrier"
    WEIGHT_NOT_COMPUTABLE = "WeightNotComputable"
    EXCEEDS_STACK_LIMIT = "ExceedsStackLimit"
    # Message-queue refusals (XcmpQueue BadFormat/BadVersion, MessageQueue ProcessMessageError)
    BAD_FORMAT = "BadFormat"
    BAD_VERSION = "BadVersion"
    CORRUPT = "Corrupt"
    UNSUPPORTED = "Unsupported"
    OVERWEIGHT = "Overweight"
    YIELD = "Yield"
    STACK_LIMIT_REACHED = "StackLimitReached"
    # The chain said only that it failed (MessageQueue.Processed { success: false } without a ProcessXcmError).
    UNREPORTED = "Unreported"
    OTHER = "Other"  # a name this list does not know yet; XcmFailure.name keeps it


@dataclass(frozen=True)
class XcmFailure:
    kind: XcmErrorKind
    name: str  # as the chain reported it
    detail: Any = None  # the error's payload, e.g. a Trap code or the weight of WeightLimitReached

    @classmethod
    def from_value(cls, value: Any) -> XcmFailure:
        """From a decoded error: a unit variant is a string ("TooExpensive"), one with data a one-key dict."""
        if isinstance(value, dict) and len(value) == 1:
            ((name, detail),) = value.items()
        else:
            name, detail = str(value), None
        try:
            kind = XcmErrorKind(name)
        except ValueError:
            kind = XcmErrorKind.OTHER
        return cls(kind, str(name), detail)

    def __str__(self) -> str:
        return self.name if self.detail is None else f"{self.name}({self.detail})"
