"""Which messages go into an executeBatch batch, its exact bytes and digest, and the independent rebuild check (pure).

A batch serves ONE source domain and ONE key epoch. Its items are in canonical order (ascending nonce), a function of
the set alone, so every member rebuilds the same bytes. Each message becomes:

    transfer -> TokenRelease(nonce, token of its resource on the bridge, recipient (20 bytes), amount)
    call     -> ContractCall(nonce, target = recipient (20 bytes), gas limit, payload, sender): a call with origin
                (item kind 3), the origin being the message's sender (a Phala AccountId32 for an intent: the
                extrinsic's signer; a confidential contract's id for its reply), which the target reads with
                `Bridge.messageOrigin()`; the gas limit is the message's own (a confidential reply: what its contract
                asked for, at most the configured call gas) or else the configured call gas

The origin is never taken from the request: each member rebuilds it from the message, which its own source view has
checked field by field (the sender included), so a batch whose origin is not the message's real sender differs from
the rebuilt one and is refused.

A message is
- `executed` when its nonce is already used on the bridge (never again),
- `refused`  when it can never execute here (wrong chain or kind, a resource without a token on the bridge, a
             recipient that is not a usable 20-byte address, amount 0 or above u128, a target not allow-listed, a
             call whose sender is not 32 bytes):
             permanent, with the reason,
- `deferred` when it could execute in a later batch (another source domain than the one chosen, the batch is full),
- `included` otherwise.

`rebuild_and_check_batch(request, messages, facts)` is what a member's enclave runs before it signs, with
`DestinationFacts` read through its own connection: every id is among the given messages, none is refused or
executed, all share the request's source domain, ids are in canonical order, the epoch, chain id and bridge are its
own, and the batch and digest it rebuilds from the messages alone equal the request's, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bridge.evm import ORIGIN_LENGTH, BatchItem, ContractCall, TokenRelease, batch_digest, encode_batch
from bridge.messages import BridgeMessage, MessageKind
from bridge.ports import SigningRequest
from relayers.ethereum.errors import VerificationRefused

MAX_U128 = 2**128 - 1
ZERO_ADDRESS = b"\x00" * 20


@dataclass(frozen=True)
class DestinationFacts:
    """The bridge as one party sees it through its own connection."""

    chain_id: int
    bridge: str  # checksummed
    epoch: int  # the current key epoch (keyState)
    tokens: Mapping[bytes, str]  # resource id -> token address, for resources whose token is enabled on the bridge
    allowed_targets: frozenset[str]  # lowercase addresses, among the call targets asked about
    used: frozenset[tuple[int, int]]  # (source domain, nonce) already used, among those asked about
    call_gas_limit: int
    max_items: int = 200
    domain: int = 1


@dataclass(frozen=True)
class BatchPlan:
    source_domain: int | None
    included: tuple[BridgeMessage, ...]
    refused: Mapping[str, str] = field(default_factory=dict)
    executed: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()


def _address(raw: bytes) -> str:
    return "0x" + raw.hex()


def refusal(message: BridgeMessage, facts: DestinationFacts) -> str | None:
    """Why `message` can never execute on this bridge; None when it may."""
    if message.dest_domain != facts.domain:
        return f"destination domain {message.dest_domain} is not this chain ({facts.domain})"
    if message.source_domain == facts.domain:
        return "a message from this chain cannot execute on it"
    recipient = bytes(message.recipient)
    if len(recipient) != 20:
        return f"the recipient must be a 20-byte address, got {len(recipient)} bytes"
    if recipient == ZERO_ADDRESS:
        return "the recipient is the zero address"
    if _address(recipient) == facts.bridge.lower():
        return "the recipient is the bridge itself"
    if message.kind is MessageKind.TRANSFER:
        if message.resource_id is None or message.resource_id not in facts.tokens:
            rid = "0x" + message.resource_id.hex() if message.resource_id else "none"
            return f"resource {rid} has no enabled token on the bridge"
        if message.amount == 0:
            return "amount 0: the source amount does not convert exactly to this chain's decimals"
        if message.amount > MAX_U128:
            return f"amount {message.amount} exceeds u128"
        if message.payload:
            return "a token transfer into Ethereum carries no payload"
        return None
    if message.kind is MessageKind.CALL:
        if _address(recipient) not in facts.allowed_targets:
            return f"call target {_address(recipient)} is not allow-listed on the bridge"
        if len(message.sender) != ORIGIN_LENGTH:
            return f"the call's sender must be {ORIGIN_LENGTH} bytes to be its origin, got {len(message.sender)}"
        if message.gas_limit is not None and message.gas_limit > facts.call_gas_limit:
            return f"the call asks {message.gas_limit} gas, above this bridge's call_gas_limit ({facts.call_gas_limit})"
        return None
    return f"{message.kind.value} messages are not executed on Ethereum"


def canonical_order(messages: Iterable[BridgeMessage]) -> list[BridgeMessage]:
    return sorted(messages, key=lambda m: (m.source_domain, m.nonce))


def plan_batch(messages: Sequence[BridgeMessage], facts: DestinationFacts) -> BatchPlan:
    """Split `messages` into what the next batch includes and what it leaves out, and why."""
    refused: dict[str, str] = {}
    executed: set[str] = set()
    candidates: list[BridgeMessage] = []
    for m in canonical_order({m.id_hex: m for m in messages}.values()):
        if (m.source_domain, m.nonce) in facts.used:
            executed.add(m.id_hex)
            continue
        reason = refusal(m, facts)
        if reason is not None:
            refused[m.id_hex] = reason
            continue
        candidates.append(m)
    if not candidates:
        return BatchPlan(None, (), refused, frozenset(executed))
    source = min(m.source_domain for m in candidates)
    same = [m for m in candidates if m.source_domain == source]
    included = tuple(same[: facts.max_items])
    deferred = {m.id_hex for m in candidates} - {m.id_hex for m in included}
    return BatchPlan(source, included, refused, frozenset(executed), frozenset(deferred))


def batch_items(included: Sequence[BridgeMessage], facts: DestinationFacts) -> list[BatchItem]:
    items: list[BatchItem] = []
    for m in included:
        if m.kind is MessageKind.TRANSFER:
            assert m.resource_id is not None
            items.append(TokenRelease(m.nonce, facts.tokens[m.resource_id], _address(m.recipient), m.amount))
        else:
            gas = facts.call_gas_limit if m.gas_limit is None else m.gas_limit
            items.append(ContractCall(m.nonce, _address(m.recipient), gas, bytes(m.payload), bytes(m.sender)))
    return items


def build_batch(included: Sequence[BridgeMessage], facts: DestinationFacts) -> tuple[bytes, bytes]:
    """(batch bytes, digest) for messages of one source domain, already in canonical order."""
    batch = encode_batch(facts.epoch, included[0].source_domain, batch_items(included, facts))
    return batch, batch_digest(facts.chain_id, facts.bridge, batch)


def signing_request(plan: BatchPlan, facts: DestinationFacts, *, block_number: int) -> SigningRequest:
    """The request for a plan with something included (`block_number`: where the facts were read, for audit)."""
    assert plan.included and plan.source_domain is not None
    batch, digest = build_batch(plan.included, facts)
    return SigningRequest(
        destination=facts.domain,
        message_ids=tuple(m.id_hex for m in plan.included),
        payload=digest,
        context={
            "batch": "0x" + batch.hex(),
            "epoch": facts.epoch,
            "chain_id": facts.chain_id,
            "bridge": facts.bridge,
            "source_domain": plan.source_domain,
            "block_number": block_number,
        },
    )


def rebuild_and_check_batch(
    request: SigningRequest, messages: Sequence[BridgeMessage], facts: DestinationFacts
) -> bytes:
    """The digest to sign, when `request` is exactly the batch for its messages on this bridge; else
    `VerificationRefused` naming what differs."""
    if request.destination != facts.domain:
        raise VerificationRefused(f"request is for domain {request.destination}, not {facts.domain}")
    ids = request.message_ids
    if not 1 <= len(ids) <= facts.max_items or len(set(ids)) != len(ids):
        raise VerificationRefused(f"request ids must be 1..{facts.max_items} distinct message ids")
    by_id = {m.id_hex: m for m in messages}
    chosen: list[BridgeMessage] = []
    for mid in ids:
        m = by_id.get(mid)
        if m is None:
            raise VerificationRefused("the request names a message not given to verify", message_id=mid)
        if (m.source_domain, m.nonce) in facts.used:
            raise VerificationRefused("already executed on the bridge", message_id=mid, field="nonce", code="executed")
        reason = refusal(m, facts)
        if reason is not None:
            raise VerificationRefused(f"must not execute: {reason}", message_id=mid)
        chosen.append(m)
    if len({m.source_domain for m in chosen}) != 1:
        raise VerificationRefused("a batch serves one source domain; the request mixes several")
    if [m.id_hex for m in canonical_order(chosen)] != list(ids):
        raise VerificationRefused("request ids are not in canonical (nonce) order")
    expected: dict[str, str | int] = {
        "epoch": facts.epoch,
        "chain_id": facts.chain_id,
        "bridge": facts.bridge,
        "source_domain": chosen[0].source_domain,
    }
    for key, want in expected.items():
        if request.context.get(key) != want:
            raise VerificationRefused(f"request context {key}={request.context.get(key)!r}, expected {want!r}")
    batch, digest = build_batch(chosen, facts)
    if request.context.get("batch") != "0x" + batch.hex():
        raise VerificationRefused("the request's batch is not the batch for these messages", field="context.batch")
    if request.payload != digest:
        raise VerificationRefused("the request's payload is not the digest of the batch", field="payload")
    return digest


__all__ = [
    "BatchPlan",
    "DestinationFacts",
    "batch_items",
    "build_batch",
    "canonical_order",
    "plan_batch",
    "rebuild_and_check_batch",
    "refusal",
    "signing_request",
]
