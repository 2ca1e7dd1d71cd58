"""The Phala destination: Ethereum -> Phala messages executed by the bridge account in one signed batch extrinsic.

prepare:  at the finalized head, sync the executed index, plan the batch (relayers.substrate.plan), build
          `batch_all([transfer_keep_alive(recipient, amount)..., remark_with_event(executed-ids record)])` at the
          account's finalized nonce, immortal, and return its signing payload with the context to rebuild it.
submit:   check the group signature, attach it (`create_signed_extrinsic`), cross-check the bytes against the hand
          assembly, hand it to the pool; returns the extrinsic hash.
confirm:  executed (its ids in the index), failed (the batch was included but failed: isolate by halves), pending
          (not final, the nonce not used yet), or dropped (the nonce was used by another extrinsic, or it waited
          longer than `pending_timeout`). Dropping early is safe, never a double execution (see rebuild.py).

Ethereum deposits refused for good for their recipient (or below the existential deposit) are settled with a refund
instead (bridge/refunds.py): when a plan finds any, the batch is a refund batch of those alone (the transfers wait for
the next one), and its confirm reports them `failed` with where the tokens went back. The refunds themselves are
Phala -> Ethereum transfers read from the note (relayers/substrate/replies.py).

Messages refused in `prepare` (they can never succeed) are left out of the batch and reported as failed, with the
reason, by the `confirm` of that batch only: the refusals belong to the plan that made them (by request payload until
submitted, then by extrinsic hash), a newer plan given the same message drops the older entry, and a message the
executed index names is executed whatever a refusal said.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bridge.confidential import ExecutedCall, encode_share_envelopes, is_confidential_call, phala_batch_parts
from bridge.intents import MAX_EXECUTED_IDS, encode_executed
from bridge.messages import BridgeMessage
from bridge.ports import BatchNotExecutable, ChainPosition, Confirmation, SigningRequest
from bridge.refunds import is_refund_note, refund_of
from relayers.heads import SUBSTRATE_FINALIZED_HEADS, HeadNotifier, follow_heads
from relayers.substrate.bridge_calls import BatchCall, Transfer, parse_batch
from relayers.substrate.chain import AccountState, ChainReader, Memo
from relayers.substrate.config import PhalaConfig
from relayers.substrate.errors import (
    IndexBehind,
    InsufficientLiquidity,
    InvalidSignature,
    NothingToExecute,
    RebuildMismatch,
    UnsupportedRuntime,
)
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex
from relayers.substrate.index_checkpoint import IndexCheckpoints
from relayers.substrate.isolation import FailureIsolator
from relayers.substrate.liquidity import LiquidityHold
from relayers.substrate.payload import RuntimeFacts, signed_extrinsic, signing_payload
from relayers.substrate.plan import BatchPlan, PlannedRefund, payee, plan_around_probe, static_refusal
from relayers.substrate.rebuild import (
    ChainFacts,
    batch_calls,
    build_call,
    build_confidential_call,
    build_refund_call,
    rebuild_and_check,
    rebuild_confidential,
    refund_calls,
    request_context,
)
from relayers.substrate.scale import blake2_256
from relayers.substrate.session import ClientSession

log = structlog.get_logger("substrate.dispatcher")

# Runs confidential calls in this member's enclave: the public results (records, outputs, digests), in source order,
# and the decryption shares it used, sealed to each other member's enclave (member id -> box).
ConfidentialExecutor = Callable[[Sequence[BridgeMessage]], Awaitable[tuple[Sequence[ExecutedCall], dict[int, bytes]]]]
SHARES_CONTEXT_KEY = "confidential_shares"
# Payload bytes of the confidential calls one request carries (at least one call). Each payload (a user's: up to 16
# KiB) crosses the local enclave API and the committee's signing request as hex, twice its size: a whole batch of
# them overran both (2 MiB line, 1 MiB envelope) and failed the same way every round. The rest wait for the next.
MAX_CONFIDENTIAL_PAYLOAD_BYTES = 256 * 1024
# Plans prepared but never submitted whose refusals no newer plan superseded: the oldest beyond this are dropped (their
# messages stay verified and are planned, and refused, again).
MAX_UNSUBMITTED_PLANS = 64


@dataclass(frozen=True)
class _Submitted:
    nonce: int
    included: tuple[str, ...]
    at: float
    refused: dict[str, str] = field(default_factory=dict)  # left out by the plan this batch came from: id -> reason


def _payload_prefix(calls: list[BridgeMessage], limit: int) -> list[BridgeMessage]:
    """The longest prefix of `calls` (in source order) whose payloads total at most `limit` bytes, never empty."""
    total = 0
    for n, m in enumerate(calls):
        total += len(m.payload)
        if n and total > limit:
            return calls[:n]
    return calls


class PhalaDestination:
    """`Destination` for Phala."""

    def __init__(
        self,
        config: PhalaConfig,
        *,
        session: ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
        executor: ConfidentialExecutor | None = None,
        checkpoints: IndexCheckpoints | None = None,
    ) -> None:
        self.config = config
        self.executor = executor
        self.name = config.name
        self.domain = config.domain
        # Every batch is signed at the bridge account's finalized nonce: one in flight at a time (docs/relayer.md).
        self.max_in_flight: int | None = 1
        self.session = session or ClientSession(config.url, timeout=config.rpc_timeout, para_id=config.para_id)
        self.index = ExecutedIndex(config, checkpoints=checkpoints)
        self.isolator = FailureIsolator()
        self.clock = clock
        self.liquidity = LiquidityHold(config.liquidity_hold_after)
        self._last_hold: tuple[str, int] | None = None  # logged once per hold
        # Left out of a prepared batch for good, per plan: by request payload until submitted (then in `_submitted`);
        # reported by that batch's confirm only.
        self._planned: dict[bytes, dict[str, str]] = {}
        self._submitted: dict[str, _Submitted] = {}
        self._cross_checked: set[tuple[int, int, bool]] = set()  # (runtime version, pays): assembly compared
        self._prepare_checked: set[tuple[int, int, frozenset[str]]] = set()  # (runtime version, call kinds)
        self._bridge_states: Memo[AccountState] = Memo(16)  # finalized block hash -> the bridge account there
        self.heads: HeadNotifier | None = None  # the finalized-head subscription, while following
        self._checked_head: ChainPosition | None = None  # the head `already_executed` synced to, for `prepare`
        self.handed_over_at: float | None = None  # when the last submit request was written (on `clock`)
        self._unknown_since: dict[str, float] = {}  # tx hashes confirm was asked about without a submit (restart)

    def gas_of(self, message: BridgeMessage) -> int:
        return self.config.transfer_gas

    def close(self) -> None:
        self.session.close()

    async def follow(self, interval: float = 0.5) -> None:
        """Run until cancelled: on every finalized-head notification (every `interval` while the subscription is
        down) bring the executed index to the finalized head and read the bridge account there, so a batch's
        `already_executed` and `prepare` find both current and read only the head (and its recipients).
        The view is keyed by finalized block hash, whose state never changes: it can be late, never wrong."""
        heads = HeadNotifier(self.config.url, SUBSTRATE_FINALIZED_HEADS, poll_interval=interval, name=self.name)
        self.heads = heads

        async def warm() -> None:  # the chain may be down: prepare reads (and fails) on its own
            await self.session.run(self._warm)

        await follow_heads(heads, warm, "destination_follow_failed", destination=self.name)

    def _warm(self, reader: ChainReader) -> None:
        head = reader.finalized_head()
        if self.index.sync(reader, head):
            self._bridge_at(reader, head.block_hash)
            reader.runtime_facts(head.block_hash)

    def _bridge_at(self, reader: ChainReader, block_hash: str) -> AccountState:
        state = self._bridge_states.get(block_hash)
        if state is None:
            state = self._bridge_states.put(block_hash, reader.account(self.config.bridge_account, block_hash))
        return state

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        ids = [m.id_hex for m in messages]
        return await self.session.run(lambda r: self._executed_among(r, ids))

    async def refunded(self, messages: Sequence[BridgeMessage]) -> dict[str, str]:
        """`RefundingDestination`: id -> how it was refunded, for those of `messages` the bridge account settled with
        a refund (not in `already_executed`: nothing was paid on Phala)."""
        ids = [m.id_hex for m in messages]
        # As of the index's last sync: the pipeline asks right after `already_executed` synced it (one head read,
        # not two). A refund it learns later is reported by the next `prepare` or `confirm`.
        return await self.session.run(lambda _r: self._refunded_among(ids))

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest:
        calls = sorted((m for m in messages if is_confidential_call(m)), key=lambda m: (m.source_domain, m.nonce))
        if not calls:
            return await self.session.run(lambda r: self._prepare(r, list(messages)))
        calls = _payload_prefix(calls, MAX_CONFIDENTIAL_PAYLOAD_BYTES)
        # Confidential calls go alone (transfers of the same batch wait for the next one): the enclave runs them
        # against the finalized log, and the extrinsic carries their records.
        if self.executor is None:
            raise BatchNotExecutable({m.id_hex: "this relayer cannot run confidential calls" for m in calls})
        executed, sealed = await self.executor(calls)
        results = list(executed)
        request = await self.session.run(lambda r: self._prepare_confidential(r, results))
        if sealed:  # opaque to this process; each member's enclave opens its own box and checks every proof
            request.context[SHARES_CONTEXT_KEY] = "0x" + encode_share_envelopes(sealed).hex()
        return request

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        return await self.session.run(lambda r: self._submit(r, request, signature))

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation:
        return await self.session.run(lambda r: self._confirm(r, tx_hash, list(message_ids)))

    # -- on the session's thread -----------------------------------------------------------------------------------

    def _synced_head(self, reader: ChainReader) -> ChainPosition:
        head = reader.finalized_head()
        if not self.index.sync(reader, head):
            scanned = self.index.scanned.block_number if self.index.scanned else None
            raise IndexBehind(f"executed index at block {scanned}, finalized head {head.block_number}")
        return head

    def _executed_among(self, reader: ChainReader, ids: list[str]) -> frozenset[str]:
        head = self._synced_head(reader)
        heads = self.heads
        # `prepare` follows at once: it may plan at this head while no newer one has been announced.
        self._checked_head = (
            head if heads is not None and heads.connected and heads.latest == head.block_number else None
        )
        return self.index.executed_among(ids) - self.index.refunded_among(ids).keys()

    def _refunded_among(self, ids: Iterable[str]) -> dict[str, str]:
        return {i: r.describe() for i, r in self.index.refunded_among(ids).items()}

    def _planning_head(self, reader: ChainReader) -> ChainPosition:
        """The finalized head `already_executed` just synced to, when a live subscription has announced nothing
        newer since; otherwise read (and synced to) now. An older head is still a finalized one: at worst the members,
        reading their own head, refuse the batch and it is retried; the bridge account's nonce rules out paying
        twice."""
        head, self._checked_head = self._checked_head, None
        heads = self.heads
        if head is not None and heads is not None and heads.connected and heads.latest == head.block_number:
            return head
        return self._synced_head(reader)

    def _plan(
        self, reader: ChainReader, messages: list[BridgeMessage]
    ) -> tuple[ChainPosition, BatchPlan, int, int, dict[bytes, bool]]:
        """The plan at the planning head, with the bridge account's nonce, the existential deposit and which payees
        have an account there (what a refund batch is checked against)."""
        head = self._planning_head(reader)
        bridge = self._bridge_at(reader, head.block_hash)
        ed = reader.existential_deposit()
        gateway = self.config.gateway
        recipients = {p for m in messages if len(p := payee(m, gateway)) == 32}
        existing = {r: reader.account(r, head.block_hash).exists for r in recipients}
        ids = [m.id_hex for m in messages]
        hold = self._hold(reader)
        plan = plan_around_probe(
            messages,
            domain=self.domain,
            bridge_account=self.config.bridge_account,
            resource_id=self.config.resource_id,
            existential_deposit=ed,
            existing=existing,
            executed=self.index.executed_among(ids),
            spendable=max(0, bridge.free - ed - self.config.fee_reserve),
            probe=self.isolator.probe(ids),
            suspects=frozenset().union(*self.isolator.suspects),
            gateway=gateway,
            hold=hold,
        )
        return head, plan, bridge.nonce, ed, existing

    def _hold(self, reader: ChainReader) -> tuple[str, int] | None:
        """The transfer unpaid for lack of funds the longest, once it has waited `liquidity_hold_after`: the plan
        sets its amount aside (relayers/substrate/liquidity.py). The executed index is synced to the planning head."""
        self.liquidity.forget(self.index.executed_among(self.liquidity.waiting()))
        held = self.liquidity.held(self.clock())
        if held is None:
            self._last_hold = None
            return None
        mid, amount, waited = held
        if (mid, amount) != self._last_hold:
            log.warning("liquidity_hold", destination=self.name, message_id=mid, amount=amount, waited=round(waited))
        self._last_hold = (mid, amount)
        return mid, amount

    def _prepare(self, reader: ChainReader, messages: list[BridgeMessage]) -> SigningRequest:
        head, plan, nonce, ed, existing = self._plan(reader, messages)
        self._supersede({m.id_hex for m in messages})  # this plan re-decides them: older refusals are stale
        if plan.refunds:  # settled first, in a batch of their own: nothing on Phala can make them fail
            return self._prepare_refunds(reader, head, plan.refunds, messages, nonce, ed, existing)
        self.liquidity.planned(plan, {m.id_hex: m.amount for m in messages}, self.clock())
        for mid, reason in plan.refused.items():
            log.warning("message_refused", destination=self.name, message_id=mid, reason=reason)
        # Refunded earlier (settled on Phala, so in `executed`): reported as what happened to them, not as executed.
        refunded = self._refunded_among(plan.executed)
        refused = {**plan.refused, **refunded}
        executed = plan.executed - refunded.keys()
        if not plan.included:  # the exception carries the refusals: nothing to remember for a confirm
            if plan.short_of_funds and not refunded:
                raise InsufficientLiquidity(f"the bridge account cannot pay any of {len(plan.deferred)} transfer(s)")
            raise NothingToExecute(refused, executed, plan.deferred)
        runtime = reader.runtime_facts(head.block_hash)
        call = build_call(runtime, plan.included, self.config.gateway)
        payload = signing_payload(runtime, call, nonce)
        calls = batch_calls(plan.included, self.config.gateway)
        shape = (runtime.spec_version, runtime.transaction_version, _shape(calls))
        if shape not in self._prepare_checked:
            # Double entry: what substrate-interface composes and would sign must be exactly the hand-built bytes.
            # Once per runtime version and batch shape (the encoders are per call kind): tens of ms per batch, and
            # every member rebuilds the bytes anyway before it signs.
            composed = reader.compose_calls(calls, head.block_hash)
            if bytes(composed.data.data) != call or reader.client.signature_payload(composed, nonce) != payload:
                raise UnsupportedRuntime("substrate-interface and the hand encoder disagree on the batch")
            self._prepare_checked.add(shape)
        ids = tuple(m.id_hex for m in plan.included)
        request = SigningRequest(
            destination=self.domain,
            message_ids=ids,
            payload=payload,
            context=request_context(
                runtime, self.config.bridge_account, nonce, call, (head.block_number, head.block_hash)
            ),
        )
        # what every verifier will run; fail here first if it would
        rebuild_and_check(request, messages, self._own_facts(runtime, nonce))
        self._planned.pop(request.payload, None)
        if refused:
            self._planned[request.payload] = refused
            while len(self._planned) > MAX_UNSUBMITTED_PLANS:
                del self._planned[next(iter(self._planned))]
        log.info(
            "batch_prepared",
            destination=self.name,
            messages=len(ids),
            refused=len(plan.refused),
            deferred=len(plan.deferred),
            already_executed=len(plan.executed),
            nonce=nonce,
            block=head.block_number,
        )
        return request

    def _prepare_refunds(
        self,
        reader: ChainReader,
        head: ChainPosition,
        planned: Sequence[PlannedRefund],
        messages: list[BridgeMessage],
        nonce: int,
        existential_deposit: int,
        existing: dict[bytes, bool],
    ) -> SigningRequest:
        """A refund batch for (the first MAX_EXECUTED_IDS of) `planned`, in canonical order; what every member
        checks with `rebuild_refunds` against its own chain view."""
        chosen = list(planned[:MAX_EXECUTED_IDS])
        for p in chosen:
            log.warning("deposit_refunded", destination=self.name, message_id=p.message.id_hex, reason=p.reason)
        refunds = [refund_of(p.message, p.why) for p in chosen]
        runtime = reader.runtime_facts(head.block_hash)
        call = build_refund_call(runtime, refunds)
        payload = signing_payload(runtime, call, nonce)
        composed = reader.compose_calls(refund_calls(refunds), head.block_hash)
        if bytes(composed.data.data) != call or reader.client.signature_payload(composed, nonce) != payload:
            raise UnsupportedRuntime("substrate-interface and the hand encoder disagree on the refund batch")
        request = SigningRequest(
            destination=self.domain,
            message_ids=tuple(p.message.id_hex for p in chosen),
            payload=payload,
            context=request_context(
                runtime, self.config.bridge_account, nonce, call, (head.block_number, head.block_hash), refund=True
            ),
        )
        rebuild_and_check(request, messages, self._own_facts(runtime, nonce, existential_deposit, existing))
        self._planned.pop(request.payload, None)
        log.info(
            "refund_batch_prepared", destination=self.name, refunds=len(chosen), nonce=nonce, block=head.block_number
        )
        return request

    def _own_facts(
        self, runtime: RuntimeFacts, nonce: int, existential_deposit: int = 0, accounts: dict[bytes, bool] | None = None
    ) -> ChainFacts:
        """The leader's own facts at its planning head, to check its request as every member will."""
        return ChainFacts(
            runtime,
            self.domain,
            self.config.bridge_account,
            self.config.resource_id,
            nonce,
            frozenset(),
            self.config.gateway,
            existential_deposit=existential_deposit,
            accounts=accounts or {},
        )

    def _supersede(self, ids: set[str]) -> None:
        """Drop every older plan's refusal of `ids` (a newer plan includes, defers or refuses them again)."""
        for key, refused in list(self._planned.items()):
            for i in ids & refused.keys():
                del refused[i]
            if not refused:
                del self._planned[key]
        for sub in self._submitted.values():
            for i in ids & sub.refused.keys():
                del sub.refused[i]

    def _prepare_confidential(self, reader: ChainReader, results: list[ExecutedCall]) -> SigningRequest:
        head = self._synced_head(reader)
        ids = ["0x" + r.call_id.hex() for r in results]
        done = self.index.executed_among(ids)
        if done:
            raise BatchNotExecutable({}, executed=done)
        nonce = reader.account(self.config.bridge_account, head.block_hash).nonce
        runtime = reader.runtime_facts(head.block_hash)
        call = build_confidential_call(runtime, results)
        payload = signing_payload(runtime, call, nonce)
        notes, payouts, call_ids = phala_batch_parts(results)
        transfers = [Transfer(p.recipient, p.amount) for p in payouts]
        composed = reader.compose_batch(transfers, encode_executed(call_ids), head.block_hash, tuple(notes))
        if bytes(composed.data.data) != call or reader.client.signature_payload(composed, nonce) != payload:
            raise UnsupportedRuntime("substrate-interface and the hand encoder disagree on the confidential batch")
        request = SigningRequest(
            destination=self.domain,
            message_ids=tuple(ids),
            payload=payload,
            context=request_context(
                runtime, self.config.bridge_account, nonce, call, (head.block_number, head.block_hash)
            ),
        )
        facts = ChainFacts(
            runtime, self.domain, self.config.bridge_account, self.config.resource_id, nonce, frozenset()
        )
        rebuild_confidential(request, results, facts)
        log.info("confidential_batch_prepared", destination=self.name, calls=len(ids), nonce=nonce)
        return request

    def _submit(self, reader: ChainReader, request: SigningRequest, signature: bytes) -> str:
        try:
            VerifyKey(self.config.bridge_account).verify(request.payload, signature)
        except (BadSignatureError, ValueError, TypeError) as exc:
            raise InvalidSignature(f"the signature does not verify for the bridge account: {exc}") from None
        ctx = request.context
        nonce, call_hex, block_hash = ctx.get("account_nonce"), ctx.get("call"), ctx.get("block_hash")
        if not isinstance(nonce, int) or not isinstance(call_hex, str) or not isinstance(block_hash, str):
            raise RebuildMismatch("the request's context lacks the nonce, call or block it was built at")
        call = bytes.fromhex(call_hex.removeprefix("0x"))
        runtime = reader.runtime_facts(block_hash)
        ours = signed_extrinsic(runtime, call, nonce, self.config.bridge_account, signature)
        batch = parse_batch(runtime.indices, call)
        if batch is None:
            raise RebuildMismatch("the request's call is not a bridge batch")
        version = (runtime.spec_version, runtime.transaction_version, bool(batch.transfers))
        if version not in self._cross_checked:
            # The hand assembly against substrate-interface's, once per runtime version and per shape (the encoders
            # are per call kind: remark always, transfer when the batch pays): it costs tens of ms per batch.
            composed = reader.compose_calls(list(batch.calls), block_hash)
            if bytes(composed.data.data) != call:
                raise UnsupportedRuntime("substrate-interface composes the request's batch differently")
            theirs = reader.client.attach_signature(composed, self.config.bridge_account, nonce, signature)
            if theirs != ours:
                raise UnsupportedRuntime("substrate-interface and the hand assembly disagree on the signed extrinsic")
            self._cross_checked.add(version)
        self.handed_over_at = self.clock()  # the request is written right after: the end of the relayer's part
        tx_hash = reader.submit(ours)
        expected = "0x" + blake2_256(ours).hex()
        if tx_hash.lower() != expected:
            log.warning("submit_hash_differs", destination=self.name, node=tx_hash, computed=expected)
        refused = self._planned.pop(request.payload, {})
        self._submitted[expected] = _Submitted(nonce, request.message_ids, self.clock(), refused)
        log.info("batch_submitted", destination=self.name, tx=expected, nonce=nonce, messages=len(request.message_ids))
        return expected

    def _confirm(self, reader: ChainReader, tx_hash: str, ids: list[str]) -> Confirmation:
        tx_hash = tx_hash.lower()
        head = reader.finalized_head()
        if not self.index.sync(reader, head):
            return Confirmation(pending=True)
        refunded = self._refunded_among(ids)
        executed = self.index.executed_among(ids) - refunded.keys()
        record = self.index.extrinsic(tx_hash)
        sub = self._submitted.get(tx_hash)
        if record is not None:
            self._forget(tx_hash)
            if record.succeeded:
                self.isolator.settled(record.ids)
                return self._settle(ids, executed, refunded, sub)
            assert record.failure is not None
            if not is_execution(record):  # a refund batch pays nothing on Phala: retried, never isolated
                log.warning("refund_batch_failed_on_chain", destination=self.name, tx=tx_hash, reason=record.failure)
                return self._settle(ids, executed, refunded, sub)
            known_bad = self.isolator.failed(record.ids, record.failure)
            log.warning(
                "batch_failed_on_chain",
                destination=self.name,
                tx=tx_hash,
                block=record.block_number,
                reason=record.failure,
                messages=len(record.ids),
                isolated=sorted(known_bad),
            )
            return self._settle(ids, executed, {**known_bad, **refunded}, sub)
        if sub is not None and set(sub.included) <= executed | refunded.keys():
            self._forget(tx_hash)  # executed by another extrinsic (another leader's copy of the batch)
            return self._settle(ids, executed, refunded, sub)
        nonce = reader.account(self.config.bridge_account, head.block_hash).nonce
        since = sub.at if sub is not None else self._unknown_since.setdefault(tx_hash, self.clock())
        superseded = sub is not None and nonce > sub.nonce
        if not superseded and self.clock() - since < self.config.pending_timeout:
            return Confirmation(pending=True)
        log.warning(
            "batch_dropped", destination=self.name, tx=tx_hash, superseded=superseded, waited=self.clock() - since
        )
        self._forget(tx_hash)
        refused = {**self._refusals(ids, executed, sub), **refunded}
        if executed or refused:
            return Confirmation(executed=executed, failed=refused)
        return Confirmation(dropped=True)

    def _settle(
        self, ids: list[str], executed: frozenset[str], failed: dict[str, str], sub: _Submitted | None
    ) -> Confirmation:
        refused = self._refusals(ids, executed, sub)
        return Confirmation(executed=executed, failed={**refused, **failed})

    @staticmethod
    def _refusals(ids: list[str], executed: frozenset[str], sub: _Submitted | None) -> dict[str, str]:
        """The refusals of the plan `sub` was built from, among `ids`; never one the executed index names."""
        refused = sub.refused if sub is not None else {}
        return {i: refused[i] for i in ids if i in refused and i not in executed}

    def _forget(self, tx_hash: str) -> None:
        self._submitted.pop(tx_hash, None)
        self._unknown_since.pop(tx_hash, None)


def refusal_reason(config: PhalaConfig, message: BridgeMessage) -> str | None:
    """The chain-independent part of the refusal rules, for a policy stage that has no chain connection."""
    return static_refusal(
        message,
        domain=config.domain,
        bridge_account=config.bridge_account,
        resource_id=config.resource_id,
        gateway=config.gateway,
    )


def is_execution(record: BridgeExtrinsic) -> bool:
    """Whether a bridge extrinsic is an execution batch (pays on Phala), not a refund batch."""
    return not any(is_refund_note(n) for n in record.notes)


def _shape(calls: Sequence[BatchCall]) -> frozenset[str]:
    """The kinds of call in a batch (a transfer, a remark): what the hand encoders differ by."""
    return frozenset(type(c).__name__ for c in calls)


__all__ = ["SHARES_CONTEXT_KEY", "PhalaDestination", "refusal_reason"]
