"""What a submitted batch did, decided from the receipt and the nonce bitmap (pure: the decision table of `confirm`).

The bridge's nonce bitmap is the final word on "executed"; the receipt adds why an item did not do what it should.

| the batch transaction              | item's nonce used                 | item's nonce not used                   |
|------------------------------------|-----------------------------------|-----------------------------------------|
| mined, status 1                    | executed; a call item whose       | back to verified (cannot happen for     |
|                                    | CallExecuted.success is false ->  | an item of this batch)                  |
|                                    | failed with its revert; a queued  |                                         |
|                                    | release -> executed               |                                         |
| mined, status 0 (whole batch       | executed (another leader's batch) | failed only when the revert is          |
| reverted)                          |                                   | permanent for this item                 |
|                                    |                                   | (TargetNotAllowed of its target,        |
|                                    |                                   | UnknownToken of its token); else back   |
| gone (superseded, or reorged out   | executed                          | back; nothing known at all -> dropped   |
| and not in the pool)               |                                   |                                         |

Messages the plan of THIS batch refused are reported failed with their reason, unless their nonce is used (a refusal
never overrides the bitmap: a used nonce is executed); messages it found executed, executed (`executed_before`: the
caller checks them at a final block). Anything else the pipeline asked about (deferred, another source domain) is
neither, so the pipeline sends it back to be signed again. "Pending" (no receipt yet, or not final) is decided
before this table. `used` is the bitmap at a final block: "executed" is terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal

from bridge.evm import Batch, TokenRelease
from bridge.ids import message_id
from bridge.ports import Confirmation
from relayers.ethereum.errors import (
    BridgeContractError,
    TargetNotAllowed,
    UnknownRevert,
    UnknownToken,
    decode_error,
)
from relayers.ethereum.logs import CallOutcome, QueuedRelease


@dataclass(frozen=True)
class ItemRef:
    id: str
    nonce: int
    kind: Literal["token", "call"]
    address: str  # the token (token items) or the target (call items), lowercase


@dataclass(frozen=True)
class SentBatch:
    source_domain: int
    items: tuple[ItemRef, ...]

    @classmethod
    def of(cls, batch: Batch) -> SentBatch:
        refs = []
        for item in batch.items:
            mid = "0x" + message_id(batch.source_domain, item.nonce).hex()
            if isinstance(item, TokenRelease):
                refs.append(ItemRef(mid, item.nonce, "token", item.token.lower()))
            else:
                refs.append(ItemRef(mid, item.nonce, "call", item.target.lower()))
        return cls(batch.source_domain, tuple(refs))

    @property
    def pairs(self) -> frozenset[tuple[int, int]]:
        return frozenset((self.source_domain, i.nonce) for i in self.items)


@dataclass(frozen=True)
class Mined:
    status: int
    calls: Mapping[int, CallOutcome] = field(default_factory=dict)  # nonce -> outcome, this batch's source domain
    queued: Mapping[int, QueuedRelease] = field(default_factory=dict)  # nonce -> queued release
    revert: BridgeContractError | None = None  # status 0: the decoded revert, when it could be recovered


def call_failure(outcome: CallOutcome) -> str:
    """The recorded reason of a failed call item: the target's revert, decoded when it is one of our errors."""
    if not outcome.result:
        return f"call to {outcome.target} failed without revert data (out of gas, or a bare revert)"
    decoded = decode_error(outcome.result)
    shown = "0x" + outcome.result.hex() if isinstance(decoded, UnknownRevert) else str(decoded)
    return f"call to {outcome.target} reverted: {shown}"


def permanent_for(item: ItemRef, revert: BridgeContractError | None) -> str | None:
    """The reason a whole-batch revert means `item` can never execute; None when it may in another batch."""
    if isinstance(revert, TargetNotAllowed) and item.kind == "call" and _lower(revert, "target") == item.address:
        return str(revert)
    if isinstance(revert, UnknownToken) and item.kind == "token" and _lower(revert, "token") == item.address:
        return str(revert)
    return None


def _lower(error: BridgeContractError, name: str) -> str:
    return str(error.values[name]).lower()


def decide(
    ids: Sequence[str],
    sent: SentBatch | None,
    mined: Mined | None,
    used: Set[tuple[int, int]],
    *,
    refused: Mapping[str, str] = {},
    executed_before: Set[str] = frozenset(),
) -> Confirmation:
    """The confirmation of a batch that is final (mined and deep enough) or gone (`mined` None)."""
    asked = set(ids)
    executed = {i for i in executed_before if i in asked}
    failed = {i: r for i, r in refused.items() if i in asked and i not in executed}
    for item in sent.items if sent is not None else ():
        if item.id not in asked:
            continue
        assert sent is not None
        if (sent.source_domain, item.nonce) in used:  # whatever a refusal said: the chain used this nonce
            failed.pop(item.id, None)
            outcome = mined.calls.get(item.nonce) if mined is not None and mined.status == 1 else None
            if item.kind == "call" and outcome is not None and not outcome.success:
                failed[item.id] = call_failure(outcome)
            else:
                executed.add(item.id)
        elif item.id in failed:
            continue
        elif mined is not None and mined.status == 0:
            reason = permanent_for(item, mined.revert)
            if reason is not None:
                failed[item.id] = reason
    if mined is None and not executed and not failed:
        return Confirmation(dropped=True)
    return Confirmation(executed=frozenset(executed), failed=failed)


__all__ = ["ItemRef", "Mined", "SentBatch", "call_failure", "decide", "permanent_for"]
