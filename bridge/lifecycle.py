"""A message's life in one node: observed -> verified -> signed -> submitted -> executed | failed.

The destination chain is the final word: `executed` may be reached from any earlier state (another node, or this
node before a crash, already got it executed: reconciliation), and `submitted` may fall back to `verified` when a
transaction is dropped or a reorg removes it, so it is signed and submitted again. `failed` is terminal for the
relayer's stages and always carries a reason.

Two moves are outside the stages' lifecycle (never taken by `SqlStore.transition`, so no stage can take them by
accident):

- `requeue`: an operator moves a `failed` message back to `verified` (`phala-bridge store requeue`): many causes of
  `failed` pass (a token disabled for a while, a call target allow-listed late, a relayer config lagging the
  contract). Safe: before signing, the submit stage asks the destination which messages it already executed
  (`Pipeline._sign_and_submit`, `Destination.already_executed`) and marks those `executed` instead.
- set aside after a source reorg deeper than the confirmation depth: an `observed` or `verified` message from a block
  at or after the reorg point that the re-scan did not see again goes back to `observed` with a reason starting with
  `SET_ASIDE_PREFIX`; the verify stage skips it until the watcher observes it again (relayers/daemon/pipeline.py).
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

# Before signing: a message in these states holds no signature, so its body may still be replaced or set aside.
PRE_SIGN = frozenset({MessageState.OBSERVED, MessageState.VERIFIED})

# The operator's requeue (above): only from `failed`, only to `verified`.
REQUEUE_FROM = MessageState.FAILED
REQUEUE_TO = MessageState.VERIFIED

# The reason of an `observed` message set aside after a reorg (above); the verify stage skips these.
SET_ASIDE_PREFIX = "set aside after a reorg"


def check_transition(current: MessageState, new: MessageState) -> None:
    if new not in _ALLOWED[current]:
        raise TransitionError(f"a message cannot go from {current} to {new}")


def can_transition(current: MessageState, new: MessageState) -> bool:
    return new in _ALLOWED[current]


def check_requeue(current: MessageState) -> None:
    """The operator's requeue is allowed from `failed` only (a message in flight or done is the stages' own)."""
    if current is not REQUEUE_FROM:
        raise TransitionError(
            f"only a {REQUEUE_FROM} message can be requeued; this one is {current}"
            + (" (final: the destination executed it)" if current is MessageState.EXECUTED else " (still in flight)")
        )
