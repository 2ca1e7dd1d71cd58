"""The core's exception tree. Each error says whether retrying can help, so callers never match on error text.

BridgeError
├── InputError (also ValueError)        permanent: the input is wrong; report it, do not retry
│   ├── AmountError                      zero, negative, too many decimals, not exactly convertible
│   │   └── BelowMinimum (bridge.minimums) a Phala deposit under its destination's minimum
│   ├── AddressError                     malformed address or account id
│   ├── UnknownChainError                a chain or domain id nobody configured
│   └── UnknownResourceError             a resource (token) nobody configured
├── TransitionError (also ValueError)    a message state change the lifecycle does not allow
└── RetryableError                       transient: the same call may succeed later
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class BridgeError(Exception):
    """Base of every error raised by the bridge core."""

    retryable: bool = False


class InputError(BridgeError, ValueError):
    """The input is wrong; retrying cannot help."""


class AmountError(InputError):
    pass


class AddressError(InputError):
    pass


class UnknownChainError(InputError):
    pass


class UnknownResourceError(InputError):
    pass


class TransitionError(BridgeError, ValueError):
    pass


class RetryableError(BridgeError):
    retryable = True


def one_line(error: BaseException | str, *, mask: str | None = None) -> str:
    """An error's text on one line, for a log field, a CLI message or a JSON reply: drivers and RPC clients put
    newlines and indentation in theirs. An exception with no text is named by its class. `mask` (a password, say)
    is replaced by `***` wherever it appears."""
    text = " ".join(str(error).split())
    if mask:
        text = text.replace(mask, "***")
    if not text and isinstance(error, BaseException):
        return error.__class__.__name__
    return text


def validation_problems(exc: ValidationError, most: int = 3) -> str:
    """Where and what a pydantic validation found wrong, never the value: `a.b: msg; c: msg (and 2 more)`."""
    shown = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:most])
    return shown + (f" (and {exc.error_count() - most} more)" if exc.error_count() > most else "")
