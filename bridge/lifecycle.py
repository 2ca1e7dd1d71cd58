"""A message's life in one node: observed -> verified -> signed -> submitted -> executed | failed.

The destination chain is the final word: `executed` may be reached from any earlier state (another node, or this
node before a crash, already got it executed: reconciliation), and `submitted` may fall back to `verified` when a
transaction is dropped or a reorg removes it, so it is signed and submitted again. `failed` is terminal and always
carries a reason.
"""

from __future__ import annotations

from enum import StrEnum

from bridge.errors import TransitionError


class MessageState(StrEnum):
    OBSERVED = "observed"  # seen in a finalized source block
    VERIFIED = "verified"  # checked against policy (amounts, limits, resources) by this node
    SIGNED = "signed"  # the committee produced a signature for a batch holding it
    SUBMITTED = "submitted"  # a destination transaction carrying it was sent
    EXECUTED = "executed"  # the destination chain records it as executed
    FAILED = "failed"  # refused for good (invalid input, refused by policy or by the destination)


_ALLOWED: dict[MessageState, frozenset[MessageState]] = {
    MessageState.OBSERVED: frozenset({MessageState.VERIFIED, MessageState.EXECUTED, MessageState.FAILED}),
    MessageState.VERIFIED: frozenset({MessageState.SIGNED, MessageState.EXECUTED, MessageState.FAILED}),
    MessageState.SIGNED: frozenset(
        {MessageState.SUBMITTED, MessageState.VERIFIED, MessageState.EXECUTED, MessageState.FAILED}
    ),
    MessageState.SUBMITTED: frozenset({MessageState.EXECUTED, MessageState.VERIFIED, MessageState.FAILED}),
    MessageState.EXECUTED: frozenset(),
    MessageState.FAILED: frozenset(),
}

TERMINAL = frozenset({MessageState.EXECUTED, MessageState.FAILED})


def check_transition(current: MessageState, new: MessageState) -> None:
    if new not in _ALLOWED[current]:
        raise TransitionError(f"a message cannot go from {current} to {new}")


def can_transition(current: MessageState, new: MessageState) -> bool:
    return new in _ALLOWED[current]
