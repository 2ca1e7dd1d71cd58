"""The Ethereum destination: Phala -> Ethereum messages executed by `executeBatch`, one FROST signature per batch.

already_executed: the bridge's nonce bitmap (`nonceWord`, one read per 256 dense nonces, batched) at the final block
          (the watcher's finality rule): what it names is written `executed`, which is terminal, so a block that a
          reorg may still replace never decides it. Used only at `latest`: left out of the batch (stays verified).
prepare:  read the facts (key epoch, each resource's token, allow-listed targets, used nonces), plan one batch for
          one source domain (relayers.ethereum.rebuild), encode it, digest it as the contract does (checked against
          the contract's `batchDigest` view once per process and on every epoch change), and self-check the request
          with the verifiers' `rebuild_and_check_batch`. Messages that can never execute are left out and reported
          failed by the `confirm` of that batch (the refusals belong to that plan: a newer plan that includes,
          defers or re-decides a message drops its older entry, and a used nonce always wins over a refusal); when
          nothing is left, `NothingToExecute` carries the reasons (and as executed only what is used at the final
          block; used at `latest` only: deferred).
submit:   check the request is self-consistent, encode the FROST signature (R || z, RFC 9591) with the group key
          as (R.x, R.y, z, PK.x), pack it with the batch into executeBatch's calldata (bridge.evm.calldata: no ABI
          encoding) and send it from the relayer's own key (submitter.py).
          Returns the first transaction hash, which stays the handle through replacements.
confirm:  no receipt -> pending (the submitter replaces a stuck transaction); a receipt not yet `confirmations`
          deep (or not finalized) or no longer canonical -> pending; final -> the decision table of outcome.py;
          the transaction gone (superseded, reorged out) -> the bitmap decides, else dropped. The bitmap is read at
          the final block (for a mined batch, at or above its receipt's block, so no extra wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import structlog
from eth_utils.address import to_checksum_address
from web3.types import TxParams

from bridge.evm import (
    CALL_ITEM_HEADER_LENGTH,
    HEADER_LENGTH,
    TOKEN_ITEM_LENGTH,
    BatchEncodingError,
    batch_digest,
    decode_batch,
    encode_signature,
    execute_batch_calldata,
    parse_execute_batch_calldata,
)
from bridge.messages import BridgeMessage, MessageKind
from bridge.ports import Confirmation, SigningRequest
from relayers.ethereum.config import ConfigError, EthereumConfig, SubmitterKey, load_submitter_key
from relayers.ethereum.errors import (
    BridgeContractError,
    DigestMismatch,
    NothingToExecute,
    RequestMismatch,
    UnknownRevert,
    decode_error,
)
from relayers.ethereum.follower import TokenLimitsView
from relayers.ethereum.logs import bridge_logs, decode_call_executed, decode_release_queued
from relayers.ethereum.outcome import Mined, SentBatch, decide
from relayers.ethereum.rebuild import BatchPlan, DestinationFacts, plan_batch, rebuild_and_check_batch, signing_request
from relayers.ethereum.rpc import EthRpc, contract_reverts
from relayers.ethereum.state import destination_facts, final_block, group_key, used_nonces
from relayers.ethereum.submitter import Submitter
from relayers.ethereum.views import Receipt
from relayers.heads import HeadNotifier

log = structlog.get_logger("ethereum.destination")

FROST_SIGNATURE_LENGTH = 65  # SerializeElement(R) (33, compressed) || SerializeScalar(z) (32)
# EIP-7623: a transaction pays at least 10 gas per calldata token (4 per nonzero byte), whatever it executes. A call
# item's data is a user's (a Phala call intent: up to 8 KiB), so its bytes count at that floor in the batch budget.
CALLDATA_FLOOR_GAS_PER_BYTE = 40
# Plans prepared but never submitted (signing failed, a submit refused) whose entries no newer plan superseded:
# the oldest beyond this are dropped (their messages stay verified and are planned again).
MAX_UNSUBMITTED_PLANS = 64

Pair = tuple[int, int]  # (source domain, nonce)


@dataclass
class _PlanNotes:
    """What one prepared plan left out, reported by the confirm of the batch it became (never by another's)."""

    refused: dict[str, tuple[Pair, str]] = field(default_factory=dict)  # id -> (pair, reason)
    executed: dict[str, Pair] = field(default_factory=dict)  # used at `latest` when planned: checked when final

    def drop(self, ids: set[str]) -> None:
        for i in ids:
            self.refused.pop(i, None)
            self.executed.pop(i, None)

    def __bool__(self) -> bool:
        return bool(self.refused or self.executed)


@dataclass(frozen=True)
class FrostSignature:
    """A FROST(secp256k1) signature as RFC 9591 serializes it, parsed (fits bridge.evm.SchnorrSignature)."""

    R: bytes
    z: int

    @classmethod
    def parse(cls, raw: bytes) -> FrostSignature:
        if len(raw) != FROST_SIGNATURE_LENGTH or raw[0] not in (2, 3):
            raise RequestMismatch(f"a FROST secp256k1 signature is 65 bytes (R compressed || z), got {len(raw)}")
        return cls(bytes(raw[:33]), int.from_bytes(raw[33:], "big"))


def fit_batch_bytes(plan: BatchPlan, limit: int) -> BatchPlan:
    """`plan` cut to its longest prefix whose batch is at most `limit` bytes (never below one message); the rest is
    deferred to the next batch. Nodes refuse transactions above 128 KiB from their pools: a batch of large calls
    over that would fail to submit, come back, and be formed the same way again, stalling everything behind it.
    The size counts 20 bytes of token table per transfer's resource, an upper bound of the encoding."""
    size, resources, kept = HEADER_LENGTH, set(), 0
    for m in plan.included:
        if m.kind is MessageKind.CALL:
            item = CALL_ITEM_HEADER_LENGTH + len(m.payload)
        else:
            item = TOKEN_ITEM_LENGTH + (0 if m.resource_id in resources else 20)
            resources.add(m.resource_id)
        if kept and size + item > limit:
            break
        size += item
        kept += 1
    if kept == len(plan.included):
        return plan
    later = frozenset(m.id_hex for m in plan.included[kept:])
    return replace(plan, included=plan.included[:kept], deferred=plan.deferred | later)


class EthereumDestination:
    """`Destination` for Ethereum."""

    def __init__(
        self,
        config: EthereumConfig,
        *,
        rpc: EthRpc | None = None,
        submitter_key: SubmitterKey | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.name = config.name
        self.domain = config.domain
        self.rpc = rpc or EthRpc(
            config.rpc_url, chain_id=config.chain_id, bridge=config.bridge_address, timeout=config.rpc_timeout
        )
        if submitter_key is None and config.submitter_key_file is not None:
            submitter_key = load_submitter_key(config.submitter_key_file)
        self.submitter = Submitter(config, submitter_key, clock) if submitter_key is not None else None
        self.max_in_flight: int | None = None  # the submitter manages its own account nonces; batches overlap
        # Left out of a prepared batch (refused for good, or used at `latest`), per plan: by request payload until
        # it is submitted, then by the transaction handle; reported by that batch's confirm only.
        self._planned: dict[bytes, _PlanNotes] = {}
        self._notes: dict[str, _PlanNotes] = {}
        self._sent: dict[str, SentBatch] = {}  # handle -> what the transaction carries
        self._digest_checked_epoch: int | None = None
        self._keys: dict[int, bytes] = {}
        self.view = TokenLimitsView(config)  # token limits at the head, and the new-head subscription
        self._last_facts: tuple[tuple[str, ...], int | None, tuple[DestinationFacts, int]] | None = None

    def gas_of(self, message: BridgeMessage) -> int:
        if message.kind is not MessageKind.CALL:
            return self.config.transfer_gas
        calldata = CALLDATA_FLOOR_GAS_PER_BYTE * (CALL_ITEM_HEADER_LENGTH + len(message.payload))
        return self.config.call_gas(message.gas_limit) + calldata

    async def follow(self, interval: float = 0.5) -> None:
        """Run until cancelled: keep the token limits at the head (`TokenLimitsView`), so a prepare at that head
        skips that round trip; the new-head subscription also tells `_facts_for` when its last read is current."""
        await self.view.follow(interval)

    @property
    def heads(self) -> HeadNotifier | None:
        return self.view.heads

    async def already_executed(self, messages: Sequence[BridgeMessage]) -> frozenset[str]:
        # The whole facts read, kept for the prepare that follows at once (`_facts_for`): one read for both.
        batch = list(messages)
        return await self.rpc.run(lambda r: self._already_executed(r, batch))

    def _already_executed(self, rpc: EthRpc, messages: list[BridgeMessage]) -> frozenset[str]:
        facts, _ = self._read_facts(rpc, messages)
        at_latest = {m.id_hex: (m.source_domain, m.nonce) for m in messages if (m.source_domain, m.nonce) in facts.used}
        return self._final_among(rpc, at_latest)

    def _final_among(self, rpc: EthRpc, pairs: dict[str, Pair]) -> frozenset[str]:
        """The ids among `pairs` whose nonce is used at the final block (one more read, only when there are any)."""
        if not pairs:
            return frozenset()
        used = used_nonces(rpc, pairs.values(), block=final_block(rpc, self.config))
        return frozenset(i for i, p in pairs.items() if p in used)

    async def prepare(self, messages: Sequence[BridgeMessage]) -> SigningRequest:
        return await self.rpc.run(lambda r: self._prepare(r, list(messages)))

    def _read_facts(self, rpc: EthRpc, messages: list[BridgeMessage]) -> tuple[DestinationFacts, int]:
        read = destination_facts(rpc, self.config, messages, self.view.limits)
        heads = self.heads
        # Reusable only while no newer head can have changed them: tagged with the last head notified.
        tag = heads.latest if heads is not None and heads.connected else None
        self._last_facts = (tuple(m.id_hex for m in messages), tag, read)
        return read

    def _facts_for(self, rpc: EthRpc, messages: list[BridgeMessage]) -> tuple[DestinationFacts, int]:
        """The facts `already_executed` just read for exactly these messages when no head has been notified since
        (the subscription up, the read at the newest head it announced); otherwise a fresh read. A stale reuse can
        only make the members refuse (they read their own facts) or the bridge skip a used nonce: never a double
        execution."""
        last, self._last_facts = self._last_facts, None
        heads = self.heads
        if last is not None and heads is not None and heads.connected:
            ids, tag, (facts, block) = last
            if ids == tuple(m.id_hex for m in messages) and tag is not None and tag == heads.latest == block:
                return facts, block
        return self._read_facts(rpc, messages)

    async def submit(self, request: SigningRequest, signature: bytes) -> str:
        return await self.rpc.run(lambda r: self._submit(r, request, signature))

    @property
    def handed_over_at(self) -> float | None:
        """When the last signed transaction was handed to the node (`eth_sendRawTransaction` written)."""
        return None if self.submitter is None else self.submitter.handed_over_at

    async def confirm(self, tx_hash: str, message_ids: Sequence[str]) -> Confirmation:
        return await self.rpc.run(lambda r: self._confirm(r, tx_hash.lower(), list(message_ids)))

    # -- on the RPC thread --------------------------------------------------------------------------------------

    def _prepare(self, rpc: EthRpc, messages: list[BridgeMessage]) -> SigningRequest:
        facts, block = self._facts_for(rpc, messages)
        plan = fit_batch_bytes(plan_batch(messages, facts), self.config.max_batch_bytes)
        for mid, reason in plan.refused.items():
            log.warning("message_refused", destination=self.name, message_id=mid, reason=reason)
        # This plan re-decides every message it was given: an older plan's note about any of them is stale.
        self._supersede({m.id_hex for m in messages})
        pairs = {m.id_hex: (m.source_domain, m.nonce) for m in messages}
        if not plan.included:  # the exception carries the outcome: nothing to remember for a confirm
            # Used at `latest` is not final (a reorg may undo it): executed only what the final block says.
            final = self._final_among(rpc, {i: pairs[i] for i in plan.executed})
            raise NothingToExecute(dict(plan.refused), final, plan.deferred | (plan.executed - final))
        request = signing_request(plan, facts, block_number=block)
        if self._digest_checked_epoch != facts.epoch:
            batch = bytes.fromhex(str(request.context["batch"])[2:])
            view = bytes(rpc.bridge_call("batchDigest", batch))
            if view != request.payload:
                raise DigestMismatch(
                    f"the contract's batchDigest is 0x{view.hex()}, ours 0x{request.payload.hex()}: "
                    "check chain_id and bridge_address"
                )
            self._digest_checked_epoch = facts.epoch
        rebuild_and_check_batch(request, messages, facts)  # what every verifier runs: fail here first if it would
        notes = _PlanNotes({i: (pairs[i], r) for i, r in plan.refused.items()}, {i: pairs[i] for i in plan.executed})
        self._planned.pop(request.payload, None)
        if notes:
            self._planned[request.payload] = notes
            while len(self._planned) > MAX_UNSUBMITTED_PLANS:
                del self._planned[next(iter(self._planned))]
        log.info(
            "batch_prepared",
            destination=self.name,
            source_domain=plan.source_domain,
            messages=len(plan.included),
            refused=len(plan.refused),
            deferred=len(plan.deferred),
            already_executed=len(plan.executed),
            epoch=facts.epoch,
            block=block,
        )
        return request

    def _supersede(self, ids: set[str]) -> None:
        """Drop every older plan's note about `ids` (a newer plan includes, defers or re-decides them)."""
        for key, notes in list(self._planned.items()):
            notes.drop(ids)
            if not notes:
                del self._planned[key]
        for notes in self._notes.values():
            notes.drop(ids)

    def _submit(self, rpc: EthRpc, request: SigningRequest, signature: bytes) -> str:
        if self.submitter is None:
            raise ConfigError("no submitter key configured: this node cannot send transactions")
        batch_hex = request.context.get("batch")
        if not isinstance(batch_hex, str) or not batch_hex.startswith("0x"):
            raise RequestMismatch("the request's context has no batch")
        try:
            batch = bytes.fromhex(batch_hex[2:])
            decoded = decode_batch(batch)
        except (ValueError, BatchEncodingError) as exc:
            raise RequestMismatch(f"the request's batch does not decode: {exc}") from None
        if batch_digest(self.config.chain_id, self.config.bridge_address, batch) != request.payload:
            raise RequestMismatch("the request's payload is not the digest of its batch on this bridge")
        sent = SentBatch.of(decoded)
        if tuple(i.id for i in sent.items) != tuple(request.message_ids):
            raise RequestMismatch("the request's ids are not the ids of its batch items")
        key = self._keys.get(decoded.epoch)
        if key is None:
            key = self._keys[decoded.epoch] = group_key(rpc, self.config, decoded.epoch)
        try:
            evm_signature = encode_signature(FrostSignature.parse(signature), key)
        except BatchEncodingError as exc:
            raise RequestMismatch(f"the signature does not encode: {exc}") from None
        data = execute_batch_calldata(batch, evm_signature)
        handle = self.submitter.send(rpc, self.config.bridge_address, data)
        self._sent[handle] = sent
        notes = self._planned.pop(request.payload, None)
        if notes:
            self._notes[handle] = notes
        log.info(
            "batch_submitted",
            destination=self.name,
            tx=handle,
            source_domain=decoded.source_domain,
            messages=len(sent.items),
            epoch=decoded.epoch,
        )
        return handle

    def _confirm(self, rpc: EthRpc, handle: str, ids: list[str]) -> Confirmation:
        if self.submitter is None:
            raise ConfigError("no submitter key configured: this node sent nothing to confirm")
        state = self.submitter.status(rpc, handle)
        if state.kind == "pending":
            return Confirmation(pending=True)
        sent = self._sent.get(handle) or self._batch_of(rpc, state.tx_hash or handle)
        final = final_block(rpc, self.config)
        mined: Mined | None = None
        if state.kind == "mined":
            assert state.receipt is not None
            if not self._final(rpc, state.receipt, final):
                return Confirmation(pending=True)
            mined = self._mined(rpc, state.receipt, sent)
        asked = set(ids)
        notes = self._notes.get(handle) or _PlanNotes()
        refused_pairs = {i: p for i, (p, _) in notes.refused.items() if i in asked}
        early_pairs = {i: p for i, p in notes.executed.items() if i in asked}
        pairs = set(sent.pairs if sent is not None else ()) | set(refused_pairs.values()) | set(early_pairs.values())
        # At the final block: "executed" is terminal (a receipt final here sits at or below it).
        used = used_nonces(rpc, pairs, block=final)
        early = {i for i, p in early_pairs.items() if p in used}
        used_refused = {i for i, p in refused_pairs.items() if p in used}
        refused = {i: notes.refused[i][1] for i in refused_pairs if i not in used_refused}
        if refused:  # a refusal is reported only while nothing used its nonce, not even a block not final yet
            latest = used_nonces(rpc, [refused_pairs[i] for i in refused])
            refused = {i: r for i, r in refused.items() if refused_pairs[i] not in latest}
        result = decide(ids, sent, mined, used, refused=refused, executed_before=early | used_refused)
        self.submitter.forget(handle)
        self._sent.pop(handle, None)
        self._notes.pop(handle, None)
        self._log_outcome(handle, state.tx_hash, mined, result)
        return result

    def _final(self, rpc: EthRpc, receipt: Receipt, final: int) -> bool:
        if receipt.block_number > final:
            return False
        canonical = rpc.header(receipt.block_number)
        return canonical is not None and canonical.hash == receipt.block_hash

    def _mined(self, rpc: EthRpc, receipt: Receipt, sent: SentBatch | None) -> Mined:
        if receipt.status != 1:
            return Mined(0, revert=self._revert_of(rpc, receipt))
        domain = sent.source_domain if sent is not None else None
        ours = bridge_logs(receipt.logs, self.config.bridge_address)
        calls = {c.nonce: c for c in map(decode_call_executed, ours) if c is not None and c.source_domain == domain}
        queued = {q.nonce: q for q in map(decode_release_queued, ours) if q is not None and q.source_domain == domain}
        return Mined(1, calls, queued)

    def _revert_of(self, rpc: EthRpc, receipt: Receipt) -> BridgeContractError:
        """The revert of a mined failed transaction, replayed with eth_call on the state before its block (exact when
        it was alone in its block); UnknownRevert(b"") when that finds no revert data (e.g. out of gas)."""
        tx = rpc.transaction(receipt.tx_hash)
        if tx is None or tx.to is None:
            return UnknownRevert(b"")
        params: TxParams = {"from": to_checksum_address(tx.sender), "to": to_checksum_address(tx.to), "data": tx.input}
        params["gas"] = tx.gas
        try:
            with contract_reverts():
                rpc.w3.eth.call(params, block_identifier=receipt.block_number - 1)
        except BridgeContractError as exc:
            return exc
        return UnknownRevert(b"")

    def _batch_of(self, rpc: EthRpc, tx_hash: str) -> SentBatch | None:
        """What a transaction this process did not send (a restart) carries, from its input."""
        tx = rpc.transaction(tx_hash)
        if tx is None or tx.to is None or tx.to.lower() != self.config.bridge_address.lower():
            return None
        parsed = parse_execute_batch_calldata(bytes(tx.input))
        if parsed is None:
            return None
        try:
            return SentBatch.of(decode_batch(parsed[0]))
        except BatchEncodingError:
            return None

    def _log_outcome(self, handle: str, mined_hash: str | None, mined: Mined | None, result: Confirmation) -> None:
        if mined is not None:
            for q in mined.queued.values():
                log.warning(
                    "release_queued",
                    destination=self.name,
                    tx=mined_hash,
                    nonce=q.nonce,
                    token=q.token,
                    recipient=q.recipient,
                    amount=q.amount,
                    ready_at=q.ready_at,
                    reason=str(decode_error(q.reason)),
                )
            if mined.status != 1:
                log.warning(
                    "batch_reverted",
                    destination=self.name,
                    tx=mined_hash,
                    error=type(mined.revert).__name__,
                    reason=str(mined.revert),
                    retryable=bool(mined.revert is not None and mined.revert.retryable),
                )
        log.info(
            "batch_confirmed",
            destination=self.name,
            tx=handle,
            mined_as=mined_hash,
            executed=len(result.executed),
            failed=len(result.failed),
            dropped=result.dropped,
        )


__all__ = ["FROST_SIGNATURE_LENGTH", "EthereumDestination", "FrostSignature"]
