"""Errors raised while building, encoding, decoding or reanchoring XCM values. None is retryable.

XcmError (ValueError)
├── XcmEncodeError       the value has no encoding in the requested version, or breaks that version's rules
│   └── XcmVersionError  a feature the version (or the target runtime) cannot express; names the version
├── XcmDecodeError       a decoded chain value this package does not model (e.g. a non-fungible asset)
└── ReanchorError        a location cannot be re-expressed from the target's point of view
"""

from __future__ import annotations


class XcmError(ValueError):
    """Base of every error in `bridge.xcm`: a value that cannot be built or encoded (never retryable)."""


class XcmEncodeError(XcmError):
    """The value has no encoding in the requested XCM version (or breaks that version's rules)."""


class XcmVersionError(XcmEncodeError):
    """`feature` does not exist in XCM `version` (or the target runtime does not speak that version)."""

    def __init__(self, version: int, feature: str, detail: str = "") -> None:
        message = f"XCM V{version} cannot express {feature}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.version = version
        self.feature = feature


class XcmDecodeError(XcmError):
    """A decoded value (from a chain event or storage) that has no counterpart in this package's model."""


class ReanchorError(XcmError):
    """The location cannot be seen from the target: the context is too short, or the result is too long."""
