"""Message topics (V3+ `SetTopic`): a 32-byte id the receiver reports with the outcome.

Equal messages have equal hashes, so two identical transfers cannot be told apart by hash. A topic derived from the
gateway's own message id makes each XCM message unique and stable across retries (the same gateway message always
gets the same topic), and runtimes with `MessageQueue` report the topic as the processed message's id.
"""

from __future__ import annotations

import hashlib

from bridge.xcm.errors import XcmError
from bridge.xcm.instructions import SetTopic, Xcm

_DOMAIN = b"phala-bridge/xcm-topic/v1"


def topic_for(message_id: bytes) -> bytes:
    """The topic for a gateway message: blake2b-256 over a domain tag and the id."""
    if not message_id:
        raise XcmError("a topic needs a non-empty message id")
    return hashlib.blake2b(_DOMAIN + message_id, digest_size=32).digest()


def with_topic(program: Xcm, topic: bytes) -> Xcm:
    """`program` followed by `SetTopic(topic)`, the place pallet-xcm's `WithUniqueTopic` router looks for it."""
    if topic_of(program) is not None:
        raise XcmError("the program already ends with SetTopic")
    return Xcm((*program.instructions, SetTopic(topic)))


def topic_of(program: Xcm) -> bytes | None:
    """The topic a router would use: a trailing `SetTopic`, if any."""
    last = program.instructions[-1] if program.instructions else None
    return last.topic if isinstance(last, SetTopic) else None
