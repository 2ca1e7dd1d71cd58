"""Typed errors of the committee channel. A rejected envelope carries a stable `reason` code (the metric label);
messages name members, sessions and kinds, never payloads or key material.

    CommitteeError
    ├── EnvelopeRejectedError (ValueError)           .reason
    │   ├── MalformedEnvelopeError                   "malformed": bad encoding, too large, trailing bytes
    │   ├── UnsupportedVersionError                  "version"
    │   ├── WrongCommitteeError                      "committee": another committee id or epoch
    │   ├── UnknownSenderError                       "unknown_sender": not on the roster
    │   ├── BadSignatureError                        "bad_signature": unsigned, tampered, or signed by another key
    │   ├── WrongRecipientError                      "wrong_recipient": addressed to another member
    │   ├── OwnMessageError                          "own_message": our own message echoed back
    │   ├── UnknownSessionError                      "unknown_session"
    │   ├── ClosedSessionError                       "closed_session"
    │   ├── StaleMessageError                        "timestamp": outside the accepted time window
    │   ├── ReplayedMessageError                     "replay": sequence number already seen (or below the floor)
    │   └── PayloadDecryptionError                   "decryption": encrypted payload does not open
    ├── TooManySessionsError (RuntimeError)          the local open-session cap is reached
    └── TransportError (RuntimeError)
        ├── TransportClosedError                     publish/subscribe after close
        └── OutgoingQueueFullError                   the bounded outgoing queue stayed full
"""

from __future__ import annotations

__all__ = [
    "BadSignatureError",
    "ClosedSessionError",
    "CommitteeError",
    "EnvelopeRejectedError",
    "MalformedEnvelopeError",
    "OutgoingQueueFullError",
    "OwnMessageError",
    "PayloadDecryptionError",
    "ReplayedMessageError",
    "StaleMessageError",
    "TooManySessionsError",
    "TransportClosedError",
    "TransportError",
    "UnknownSenderError",
    "UnknownSessionError",
    "UnsupportedVersionError",
    "WrongCommitteeError",
    "WrongRecipientError",
]


class CommitteeError(Exception):
    """Base of committee channel errors."""


class EnvelopeRejectedError(CommitteeError, ValueError):
    """An incoming envelope was refused. Permanent for that envelope: never retry it."""

    reason = "rejected"


class MalformedEnvelopeError(EnvelopeRejectedError):
    reason = "malformed"


class UnsupportedVersionError(EnvelopeRejectedError):
    reason = "version"


class WrongCommitteeError(EnvelopeRejectedError):
    reason = "committee"


class UnknownSenderError(EnvelopeRejectedError):
    reason = "unknown_sender"


class BadSignatureError(EnvelopeRejectedError):
    reason = "bad_signature"


class WrongRecipientError(EnvelopeRejectedError):
    reason = "wrong_recipient"


class OwnMessageError(EnvelopeRejectedError):
    """Brokers echo a subscriber's own publications; harmless, but never processed as a peer's message."""

    reason = "own_message"


class UnknownSessionError(EnvelopeRejectedError):
    reason = "unknown_session"


class ClosedSessionError(EnvelopeRejectedError):
    reason = "closed_session"


class StaleMessageError(EnvelopeRejectedError):
    reason = "timestamp"


class ReplayedMessageError(EnvelopeRejectedError):
    reason = "replay"


class PayloadDecryptionError(EnvelopeRejectedError):
    reason = "decryption"


class TooManySessionsError(CommitteeError, RuntimeError):
    """Opening one more session would exceed the bound on replay-protection memory."""


class TransportError(CommitteeError, RuntimeError):
    """Base of transport errors (the transport moves bytes; it never judges them)."""


class TransportClosedError(TransportError):
    pass


class OutgoingQueueFullError(TransportError):
    """The broker has been unreachable long enough to fill the outgoing queue; the caller decides what to drop."""
