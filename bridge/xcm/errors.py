"""Errors raised while building or encoding XCM values."""

from __future__ import annotations


class XcmError(ValueError):
    """Base of every error in `bridge.xcm`: a value that cannot be built or encoded (never retryable)."""


class XcmEncodeError(XcmError):
    """The value has no encoding in the requested XCM version (or breaks that version's rules)."""
