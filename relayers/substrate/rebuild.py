"""What an independent verifier (a committee member's enclave) runs before signing a Phala batch (pure).

`rebuild_and_check(request, messages, chain)` rebuilds the batch call and its signing payload from the messages
alone (and, for XCM destinations, the verifier's own gateway configuration: the exact gateway record and program)
and from the verifier's OWN view of the chain (`ChainFacts`: runtime versions, genesis, the bridge account's
finalized nonce, the ids its own index has executed), and refuses (`RebuildMismatch`) unless the request's payload is
exactly that: these transfers, to these recipients, these amounts, this executed-ids record, in canonical order,
immortal, no tip, at the account's current finalized nonce, and nothing else.

Why the nonce must equal the finalized nonce: the chain does not stop the bridge account from executing an id twice
(the record is a remark). What does is that every signed batch uses the account's finalized nonce at a block where
none of its ids is executed. Two signed batches carrying the same id then share a nonce (at most one is ever
included) or the earlier one's nonce is already used (it can never be included). A batch signed for a future nonce
would break this, so it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bridge.confidential import ExecutedCall, phala_batch_parts
from bridge.gateway import GatewayConfig, GatewayRecord, encode_record
from bridge.intents import MAX_EXECUTED_IDS, encode_executed
from bridge.messages import BridgeMessage
from bridge.ports import SigningRequest
from bridge.refunds import Refund, RefundReason, encode_refund_note, refund_of
from relayers.substrate.bridge_calls import BatchCall, Remark, Transfer, encode_batch, encode_calls
from relayers.substrate.errors import RebuildMismatch, StaleRequest
from relayers.substrate.payload import RuntimeFacts, signing_payload
from relayers.substrate.plan import (
    canonical_order,
    existential_refund,
    gateway_decision,
    payee,
    static_refund,
    static_refusal,
)

REFUND_BATCH = "refund"  # the request context's `batch` for a refund batch (absent: an execution batch)


@dataclass(frozen=True)
class ChainFacts:
    runtime: RuntimeFacts
    domain: int
    bridge_account: bytes
    resource_id: bytes
    account_nonce: int  # the bridge account's nonce at the verifier's finalized head
    executed: frozenset[str]  # ids (among the request's) the verifier's own index has executed
    gateway: GatewayConfig | None = None  # the XCM gateway's routes, from the member's own config
    # For a refund batch only (read at the verifier's finalized head): the existential deposit, and whether each
    # refunded deposit's payee has an account there.
    existential_deposit: int = 0
    accounts: Mapping[bytes, bool] = field(default_factory=dict)


def batch_calls(ordered: Sequence[BridgeMessage], gateway: GatewayConfig | None = None) -> list[BatchCall]:
    """The batch's calls: per message a transfer to its payee, followed, for an XCM destination, by its gateway
    record (what is sent on, or why it was refunded); then the executed-ids record."""
    calls: list[BatchCall] = []
    for m in ordered:
        calls.append(Transfer(payee(m, gateway), m.amount))
        decision = gateway_decision(m, gateway)
        if decision is not None:
            calls.append(Remark(encode_record(GatewayRecord.of(m.id, decision))))
    calls.append(Remark(encode_executed(m.id for m in ordered)))
    return calls


def build_call(runtime: RuntimeFacts, ordered: Sequence[BridgeMessage], gateway: GatewayConfig | None = None) -> bytes:
    return encode_calls(runtime.indices, batch_calls(ordered, gateway))


def refund_calls(refunds: Sequence[Refund]) -> list[BatchCall]:
    """A refund batch: the refund note, then the executed record of the same ids (settled on Phala for good)."""
    ids = (bytes.fromhex(r.deposit_id[2:]) for r in refunds)
    return [Remark(encode_refund_note(refunds)), Remark(encode_executed(ids))]


def build_refund_call(runtime: RuntimeFacts, refunds: Sequence[Refund]) -> bytes:
    return encode_calls(runtime.indices, refund_calls(refunds))


def build_confidential_call(runtime: RuntimeFacts, calls: Sequence[ExecutedCall]) -> bytes:
    """batch_all([remark(record), remark(outputs note)?, ... per call, transfer_keep_alive(payout)...,
    remark(executed ids)]) for confidential calls already executed (in source order) by an enclave."""
    notes, payouts, ids = phala_batch_parts(calls)
    transfers = [Transfer(p.recipient, p.amount) for p in payouts]
    return encode_batch(runtime.indices, transfers, encode_executed(ids), notes=notes)


def rebuild_confidential(request: SigningRequest, calls: Sequence[ExecutedCall], chain: ChainFacts) -> bytes:
    """The payload, when `request` is exactly the extrinsic for `calls` (this member's OWN results) on `chain`."""
    if request.destination != chain.domain:
        raise RebuildMismatch(f"request is for domain {request.destination}, not {chain.domain}")
    ids = ["0x" + c.call_id.hex() for c in calls]
    if [i.lower() for i in request.message_ids] != ids:
        raise RebuildMismatch("the request's calls are not the calls this member executed, in order")
    done = chain.executed.intersection(ids)
    if done:
        raise StaleRequest(f"{len(done)} call(s) already executed, e.g. {min(done)}")
    _check_nonce(_int(request, "account_nonce"), chain)
    nonce = chain.account_nonce
    _check_context(request, chain)
    call = build_confidential_call(chain.runtime, calls)
    if request.context.get("call") != "0x" + call.hex():
        raise RebuildMismatch("the request's call is not the extrinsic of this member's own results")
    payload = signing_payload(chain.runtime, call, nonce)
    if request.payload != payload:
        raise RebuildMismatch("the request's payload is not the signing payload of this member's own results")
    return payload


def request_context(
    runtime: RuntimeFacts,
    bridge_account: bytes,
    nonce: int,
    call: bytes,
    block: tuple[int, str],
    *,
    refund: bool = False,
) -> dict[str, str | int]:
    """The context a verifier needs to rebuild the payload (`block` is where the nonce was read, for audit)."""
    context: dict[str, str | int] = {"batch": REFUND_BATCH} if refund else {}
    return context | {
        "account_nonce": nonce,
        "spec_version": runtime.spec_version,
        "transaction_version": runtime.transaction_version,
        "genesis_hash": "0x" + runtime.genesis_hash.hex(),
        "bridge_account": "0x" + bridge_account.hex(),
        "era": "00",
        "tip": 0,
        "call": "0x" + call.hex(),
        "block_number": block[0],
        "block_hash": block[1],
    }


def rebuild_and_check(request: SigningRequest, messages: Sequence[BridgeMessage], chain: ChainFacts) -> bytes:
    """The payload, when `request` is exactly the batch for its messages on `chain`; else `RebuildMismatch`."""
    if is_refund_request(request):
        return rebuild_refunds(request, messages, chain)
    chosen = _chosen(request, messages, chain)
    ids = request.message_ids
    for m in chosen:
        reason = static_refusal(
            m,
            domain=chain.domain,
            bridge_account=chain.bridge_account,
            resource_id=chain.resource_id,
            gateway=chain.gateway,
        )
        if reason is not None:
            raise RebuildMismatch(f"message {m.id_hex} must not be executed: {reason}")
    done = chain.executed.intersection(ids)
    if done:
        raise StaleRequest(f"{len(done)} message(s) already executed, e.g. {min(done)}")
    ordered = canonical_order(chosen)
    if [m.id_hex for m in ordered] != list(ids):
        raise RebuildMismatch("request ids are not in canonical order")
    _check_nonce(_int(request, "account_nonce"), chain)
    nonce = chain.account_nonce
    _check_context(request, chain)
    call = build_call(chain.runtime, ordered, chain.gateway)
    if request.context.get("call") != "0x" + call.hex():
        raise RebuildMismatch("the request's call is not the batch for these messages")
    payload = signing_payload(chain.runtime, call, nonce)
    if request.payload != payload:
        raise RebuildMismatch("the request's payload is not the signing payload of the batch for these messages")
    return payload


def is_refund_request(request: SigningRequest) -> bool:
    return request.context.get("batch") == REFUND_BATCH


def refund_decision(message: BridgeMessage, chain: ChainFacts) -> Refund | None:
    """The refund of `message` when this member's own rules and chain view refuse it for good on Phala: for its
    recipient alone, or below the existential deposit to a payee with no account at the member's finalized head."""
    static = static_refund(
        message,
        domain=chain.domain,
        bridge_account=chain.bridge_account,
        resource_id=chain.resource_id,
        gateway=chain.gateway,
    )
    if static is not None:
        return refund_of(message, static[0])
    if static_refusal(
        message,
        domain=chain.domain,
        bridge_account=chain.bridge_account,
        resource_id=chain.resource_id,
        gateway=chain.gateway,
    ):
        return None  # refused for another reason: not for the bridge account to settle
    to = payee(message, chain.gateway)
    small = message.amount < chain.existential_deposit and chain.accounts.get(to) is False
    if small and existential_refund(message, domain=chain.domain, resource_id=chain.resource_id):
        return refund_of(message, RefundReason.BELOW_EXISTENTIAL_DEPOSIT)
    return None


def rebuild_refunds(request: SigningRequest, messages: Sequence[BridgeMessage], chain: ChainFacts) -> bytes:
    """The payload, when `request` is exactly the refund batch for its messages on `chain`: every one an Ethereum
    deposit this member refuses for good by its own rules and chain view (`refund_decision`), none settled yet, in
    canonical order, at the bridge account's finalized nonce. A refund moves tokens on Ethereum: a deposit Phala could
    still pay is never refunded."""
    chosen = _chosen(request, messages, chain)
    refunds: list[Refund] = []
    for m in chosen:
        refund = refund_decision(m, chain)
        if refund is None:
            # the race a leader cannot see: the account was created between its head and this member's
            if m.amount < chain.existential_deposit and chain.accounts.get(payee(m, chain.gateway)):
                raise StaleRequest(f"message {m.id_hex}: its recipient has an account now, so it is paid, not refunded")
            raise RebuildMismatch(f"message {m.id_hex} is not a deposit Phala refuses for good: no refund")
        refunds.append(refund)
    done = chain.executed.intersection(request.message_ids)
    if done:
        raise StaleRequest(f"{len(done)} message(s) already settled, e.g. {min(done)}")
    if [m.id_hex for m in canonical_order(chosen)] != list(request.message_ids):
        raise RebuildMismatch("request ids are not in canonical order")
    _check_nonce(_int(request, "account_nonce"), chain)
    _check_context(request, chain)
    call = build_refund_call(chain.runtime, refunds)
    if request.context.get("call") != "0x" + call.hex():
        raise RebuildMismatch("the request's call is not the refund batch for these messages")
    payload = signing_payload(chain.runtime, call, chain.account_nonce)
    if request.payload != payload:
        raise RebuildMismatch("the request's payload is not the signing payload of the refund batch")
    return payload


def _chosen(request: SigningRequest, messages: Sequence[BridgeMessage], chain: ChainFacts) -> list[BridgeMessage]:
    """The request's messages, in its order, once its domain and ids are well-formed and each was given to verify."""
    if request.destination != chain.domain:
        raise RebuildMismatch(f"request is for domain {request.destination}, not {chain.domain}")
    ids = request.message_ids
    if not 1 <= len(ids) <= MAX_EXECUTED_IDS or len(set(ids)) != len(ids):
        raise RebuildMismatch("request ids must be 1..1024 distinct message ids")
    by_id = {m.id_hex: m for m in messages}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise RebuildMismatch(f"request names {len(missing)} message(s) not given to verify, e.g. {missing[0]}")
    return [by_id[i] for i in ids]


def _check_context(request: SigningRequest, chain: ChainFacts) -> None:
    expected = {
        "spec_version": chain.runtime.spec_version,
        "transaction_version": chain.runtime.transaction_version,
        "genesis_hash": "0x" + chain.runtime.genesis_hash.hex(),
        "bridge_account": "0x" + chain.bridge_account.hex(),
        "era": "00",
        "tip": 0,
    }
    for key, want in expected.items():
        if request.context.get(key) != want:
            raise RebuildMismatch(f"request context {key}={request.context.get(key)!r}, expected {want!r}")


def _check_nonce(nonce: int, chain: ChainFacts) -> None:
    if nonce < chain.account_nonce:  # already used: this request can never be included
        raise StaleRequest(f"request nonce {nonce} is below the bridge account's finalized nonce {chain.account_nonce}")
    if nonce > chain.account_nonce:  # a future nonce (after the verifier's bounded wait for its own view)
        raise RebuildMismatch(
            f"request nonce {nonce} is not the bridge account's finalized nonce {chain.account_nonce}"
        )


def _int(request: SigningRequest, key: str) -> int:
    value = request.context.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RebuildMismatch(f"request context {key} must be an integer, got {value!r}")
    return value


__all__ = [
    "REFUND_BATCH",
    "ChainFacts",
    "batch_calls",
    "build_call",
    "build_confidential_call",
    "build_refund_call",
    "is_refund_request",
    "rebuild_and_check",
    "rebuild_confidential",
    "rebuild_refunds",
    "refund_calls",
    "refund_decision",
    "request_context",
]
