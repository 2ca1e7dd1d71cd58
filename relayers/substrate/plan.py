"""Which messages go into the next Phala execution batch, and in what order (pure).

Order is canonical, a function of the set alone: largest amount first, then message id. Larger transfers first
means a new account is created by its largest credit before smaller ones to it are applied. Every node and enclave
derives the same order, so the record of executed ids and the transfers can be rebuilt byte for byte.

A message is
- `executed`  when the chain already records it (never again),
- `refused`   when it can never succeed (wrong chain, kind, token or recipient form, the bridge account as recipient,
              an amount below the existential deposit to an account that does not exist, an XCM destination
              without a readable fallback): permanent, with reason,
- `refunds`   instead of `refused`, for Ethereum deposits of the native token refused for their recipient alone (the
              bridge account, an XCM destination without a gateway) or below the existential deposit: the bridge
              account settles them with a refund to the depositor (bridge/refunds.py), in a batch of their own,

A message whose recipient is an XCM destination (bridge/gateway.py) is paid to the gateway reserve when the gateway
sends it on, or to its fallback account when the gateway refunds it: that account is its `payee`.
- `deferred`  when it could succeed later (the bridge account cannot pay it now, it waits for a suspect group to be
              probed, or the batch is full): it goes back to the queue,
- `included`  otherwise.

Liquidity: largest first, and what does not fit waits while smaller ones that fit are paid. So that a large transfer
is not starved by a stream of small ones, the dispatcher can name one transfer to `hold` for (the one unpaid for lack
of funds the longest, relayers/substrate/liquidity.py): its amount is then set aside, and nothing else is paid from
it, until it is paid. Which messages a leader includes is its own choice: members check each batch, not the choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.gateway import GatewayConfig, Refund, Route, decide, fallback_of, is_destination
from bridge.intents import MAX_EXECUTED_IDS
from bridge.messages import BridgeMessage, MessageKind
from bridge.refunds import RefundReason, refundable

MAX_BALANCE = 2**128 - 1


@dataclass(frozen=True)
class PlannedRefund:
    """A message refused for good that the bridge account settles with a refund instead (bridge/refunds.py)."""

    message: BridgeMessage
    why: RefundReason
    reason: str


@dataclass(frozen=True)
class BatchPlan:
    included: tuple[BridgeMessage, ...]
    refused: Mapping[str, str] = field(default_factory=dict)
    executed: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()
    unpaid: frozenset[str] = frozenset()  # deferred because the bridge account cannot pay them now (or the hold)
    refunds: tuple[PlannedRefund, ...] = ()  # refused for good but refundable: in canonical order, not in `refused`

    @property
    def short_of_funds(self) -> bool:  # something was deferred because the bridge account cannot pay it now
        return bool(self.unpaid)


def gateway_decision(message: BridgeMessage, gateway: GatewayConfig | None) -> Route | Refund | None:
    """For a message whose recipient is an XCM destination: send it on, or refund it (bridge/gateway.py)."""
    if gateway is None or not is_destination(message.recipient):
        return None
    return decide(message.recipient, message.amount, message.nonce, gateway, message.resource_id)


def payee(message: BridgeMessage, gateway: GatewayConfig | None) -> bytes:
    """The Phala account the bridge account's transfer for `message` credits."""
    decision = gateway_decision(message, gateway)
    if isinstance(decision, Route):
        assert gateway is not None
        return gateway.reserve_account
    if isinstance(decision, Refund):
        return decision.account
    return message.recipient


def _recipient_refusal(
    message: BridgeMessage, gateway: GatewayConfig | None, bridge_account: bytes
) -> tuple[RefundReason, str] | None:
    """Why Phala can never pay `message`'s recipient (the recipient alone decides it), or None."""
    if is_destination(message.recipient):
        if gateway is None:
            return RefundReason.NO_GATEWAY, "the recipient is an XCM destination and this bridge runs no XCM gateway"
        if fallback_of(message.recipient) is None:
            return (
                RefundReason.RECIPIENT_FORM,
                "the XCM destination is malformed and names no fallback account on Phala to refund",
            )
    elif len(message.recipient) != 32:
        return (
            RefundReason.RECIPIENT_FORM,
            f"the recipient must be a 32-byte account, got {len(message.recipient)} bytes",
        )
    if payee(message, gateway) == bridge_account:
        return RefundReason.BRIDGE_ACCOUNT, "the recipient is the bridge account itself"
    return None


def static_refusal(
    message: BridgeMessage,
    *,
    domain: int,
    bridge_account: bytes,
    resource_id: bytes,
    gateway: GatewayConfig | None = None,
) -> str | None:
    """Why the bridge account must never execute `message`, judged from the message alone; None when it may."""
    if message.dest_domain != domain:
        return f"destination domain {message.dest_domain} is not this chain ({domain})"
    if message.kind is not MessageKind.TRANSFER:
        return f"the bridge account executes transfers only, not {message.kind.value}"
    if message.resource_id != resource_id:
        rid = message.resource_id.hex() if message.resource_id else "none"
        return f"resource 0x{rid} is not the native token"
    recipient = _recipient_refusal(message, gateway, bridge_account)
    if recipient is not None:
        return recipient[1]
    if not 0 < message.amount <= MAX_BALANCE:
        return f"amount {message.amount} is not a positive u128"
    if message.payload:
        return "a transfer into Phala carries no payload"
    return None


def static_refund(
    message: BridgeMessage,
    *,
    domain: int,
    bridge_account: bytes,
    resource_id: bytes,
    gateway: GatewayConfig | None = None,
) -> tuple[RefundReason, str] | None:
    """(why, reason) when `message` is an Ethereum deposit of the native token that Phala refuses for good for its
    recipient alone: the bridge account settles it with a refund (bridge/refunds.py). None otherwise."""
    if not existential_refund(message, domain=domain, resource_id=resource_id):
        return None
    return _recipient_refusal(message, gateway, bridge_account)


def existential_refund(message: BridgeMessage, *, domain: int, resource_id: bytes) -> bool:
    """Whether `message` can be refunded here once refused for good (for its recipient, or below the existential
    deposit to an account that does not exist; the caller judged that): an Ethereum deposit of the native token."""
    return message.dest_domain == domain and message.resource_id == resource_id and refundable(message)


def canonical_order(messages: Iterable[BridgeMessage]) -> list[BridgeMessage]:
    return sorted(messages, key=lambda m: (-m.amount, m.id))


def plan_batch(
    messages: Sequence[BridgeMessage],
    *,
    domain: int,
    bridge_account: bytes,
    resource_id: bytes,
    existential_deposit: int,
    existing: Mapping[bytes, bool],  # recipient -> the account exists at the block the batch is built on
    executed: frozenset[str],
    spendable: int,  # what the bridge account can pay out now, fees and its own existential deposit set aside
    only: frozenset[str] | None = None,  # a suspect group being probed: everything else waits
    max_items: int = MAX_EXECUTED_IDS,
    gateway: GatewayConfig | None = None,
    hold: tuple[str, int] | None = None,  # (id, amount): a transfer whose amount nothing else may be paid from
) -> BatchPlan:
    included: list[BridgeMessage] = []
    refused: dict[str, str] = {}
    done: set[str] = set()
    deferred: set[str] = set()
    waiting: set[bytes] = set()  # recipients with a deferred transfer (which may create their account later)
    credited: set[bytes] = set()  # new recipients created by a transfer included before
    unpaid: set[str] = set()
    refunds: list[PlannedRefund] = []
    total = 0
    unique = {m.id_hex: m for m in messages}.values()
    held_id, reserved = hold if hold is not None and hold[0] not in executed else (None, 0)
    for m in canonical_order(unique):
        mid = m.id_hex
        if mid in executed:
            done.add(mid)
            continue
        reason = static_refusal(
            m, domain=domain, bridge_account=bridge_account, resource_id=resource_id, gateway=gateway
        )
        refund = static_refund(
            m, domain=domain, bridge_account=bridge_account, resource_id=resource_id, gateway=gateway
        )
        to = payee(m, gateway) if reason is None else m.recipient
        new_account = not existing.get(to, False) and to not in credited
        if reason is None and new_account and m.amount < existential_deposit:
            if to not in waiting:  # no larger transfer to it anywhere in the set: it can never be created
                reason = below_existential_deposit(m.amount, existential_deposit, to)
                if existential_refund(m, domain=domain, resource_id=resource_id):
                    refund = RefundReason.BELOW_EXISTENTIAL_DEPOSIT, reason
            else:
                deferred.add(mid)
                continue
        if reason is not None:
            if mid == held_id:
                reserved = 0  # it will never be paid: nothing to set aside for it
            if refund is not None:
                refunds.append(PlannedRefund(m, *refund))
            else:
                refused[mid] = reason
            continue
        # What this transfer may be paid from: not the amount set aside for the held one (its own, when it is).
        available = spendable if mid == held_id else spendable - reserved
        if (only is not None and mid not in only) or len(included) >= max_items or total + m.amount > available:
            if total + m.amount > available:
                unpaid.add(mid)
            deferred.add(mid)
            waiting.add(to)
            continue
        if mid == held_id:
            reserved = 0
        total += m.amount
        credited.add(to)
        included.append(m)
    return BatchPlan(tuple(included), refused, frozenset(done), frozenset(deferred), frozenset(unpaid), tuple(refunds))


def below_existential_deposit(amount: int, existential_deposit: int, account: bytes) -> str:
    return (
        f"amount {amount} is below the existential deposit ({existential_deposit}) "
        f"and the recipient 0x{account.hex()} has no account"
    )


def plan_around_probe(
    messages: Sequence[BridgeMessage],
    *,
    probe: frozenset[str] | None,
    suspects: frozenset[str],
    **kwargs: Any,
) -> BatchPlan:
    """`plan_batch` while the failure isolation probes a suspect group (relayers/substrate/isolation.py): the batch
    carries that group only, so that its outcome names it. When the bridge account cannot pay any of the group now,
    the lane does not stop for it: the batch carries the messages no group suspects instead, and the group waits for
    funds like any unpaid transfer."""
    plan = plan_batch(messages, only=probe, **kwargs)
    if probe is None or plan.included or not plan.unpaid & probe:
        return plan
    innocent = frozenset(m.id_hex for m in messages) - suspects
    return plan_batch(messages, only=innocent, **kwargs) if innocent else plan


__all__ = [
    "BatchPlan",
    "PlannedRefund",
    "below_existential_deposit",
    "canonical_order",
    "existential_refund",
    "gateway_decision",
    "payee",
    "plan_around_probe",
    "plan_batch",
    "static_refund",
    "static_refusal",
]
