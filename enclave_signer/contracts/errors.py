"""Errors of the confidential contract runtime. Messages are public: they name codes, ids and positions, never an
input, an event plaintext or key material.

    ConfidentialContractError
    ├── ContractRefusal                 a handler or a query policy refuses: .code (a stable label), .reason (public)
    ├── UnknownContractError (LookupError)   no contract with that id in the registry
    ├── CallOrderError (ValueError)     the wiring gave a call to another contract's state, or out of source order
    ├── ReplayError (ValueError)        a record log that does not replay: tampered, reordered, missing, wrong key
    └── QueryError (ValueError)         a query envelope that cannot be answered at all (malformed, wrong contract)
"""

from __future__ import annotations

__all__ = [
    "CallOrderError",
    "ConfidentialContractError",
    "ContractRefusal",
    "QueryError",
    "ReplayError",
    "UnknownContractError",
]


class ConfidentialContractError(Exception):
    """Base of the runtime's errors."""


class ContractRefusal(ConfidentialContractError):
    """Raised by a handler (the call is recorded as refused, no state change) or a query policy (the answer says
    refused). Both `code` ([a-z0-9_]{1,40}) and `reason` become public: never put an input value in them."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class UnknownContractError(ConfidentialContractError, LookupError):
    pass


class CallOrderError(ConfidentialContractError, ValueError):
    """A wiring error, not the caller's: nothing is recorded; deliver the calls of a contract in source order."""


class ReplayError(ConfidentialContractError, ValueError):
    pass


class QueryError(ConfidentialContractError, ValueError):
    pass
