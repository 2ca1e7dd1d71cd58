"""The transport port: moves opaque bytes between committee members. It knows nothing of crypto or members'
trust; every judgement is the envelope layer's, so any broker (or a test hub) can carry the committee.

Topic suffixes are relative to a committee's topic space: `broadcast` reaches every member, `member/{id}` one.
Delivery is at-least-once and may reorder across topics; the envelope layer drops duplicates and replays.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BROADCAST_TOPIC", "RawMessage", "Transport", "check_topic_suffix", "member_topic"]

BROADCAST_TOPIC = "broadcast"
# Levels of [A-Za-z0-9_.-], not starting with "_" (reserved for the transport's own topics, e.g. presence); no
# MQTT wildcards, so a suffix can never subscribe to more than it names.
_SUFFIX = re.compile(r"[A-Za-z0-9.-][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*")


def member_topic(member_id: int) -> str:
    return f"member/{member_id}"


def check_topic_suffix(suffix: str) -> str:
    if not isinstance(suffix, str) or len(suffix) > 128 or not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"bad topic suffix {suffix!r}")
    return suffix


@dataclass(frozen=True)
class RawMessage:
    topic_suffix: str
    payload: bytes

    def __repr__(self) -> str:
        return f"RawMessage(topic_suffix={self.topic_suffix!r}, payload=<{len(self.payload)} bytes>)"


@runtime_checkable
class Transport(Protocol):
    async def publish(self, topic_suffix: str, payload: bytes) -> None:
        """Queue `payload` for delivery to `topic_suffix`'s subscribers; returns once accepted, not delivered."""
        ...

    async def subscribe(self, topic_suffix: str) -> None:
        """Receive what is published to `topic_suffix` from now on (kept across reconnections)."""
        ...

    def messages(self) -> AsyncIterator[RawMessage]:
        """Received messages, in arrival order; the iteration ends when the transport is closed."""
        ...

    async def close(self) -> None:
        """Flush what can be flushed within the implementation's bound, then release everything. Idempotent."""
        ...
