"""Executing one call, and rebuilding a contract's state from its record log.

    state  = initial_state(contract_id, registry)  or  replay(contract_id, records, keyring, registry=registry)
    result = execute(contract_id, state, call, keyring, registry=registry)
    result.record (append on Phala) | result.outputs (reply on Ethereum / pay on Phala) | result.digest | result.state

Every call that reaches `execute` ends in exactly one record: executed (sealed events, outputs) or refused (a public
code and reason, no events, no outputs, the contract's state unchanged). A call id seen before is refused as
`replayed`. Calls of one contract must arrive in source order (per source domain, increasing nonce): a call that
would go back raises `CallOrderError` and is not recorded (a wiring error; "earliest" in a contract means a lower
nonce). `replay` applies the same rules to the log, so `replay(records) == state` after the same executions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from bridge.confidential import (
    MAX_EVENT_SIZE,
    MAX_EVENTS,
    MAX_OUTPUTS,
    MAX_REASON,
    CallStatus,
    ConfidentialCall,
    ConfidentialError,
    EthereumCall,
    ExecutionRecord,
    Output,
    PhalaPayout,
    check_code,
    decode_record,
    encode_record,
    result_digest,
)
from enclave_signer.contracts.base import CallContext, Effects
from enclave_signer.contracts.call_ids import CallIds
from enclave_signer.contracts.calls import Call, RefusedCall
from enclave_signer.contracts.errors import CallOrderError, ContractRefusal, ReplayError
from enclave_signer.contracts.registry import AnyContract, Registry
from enclave_signer.contracts.state_key import StateKeyring
from enclave_signer.frost.errors import DecryptionError

__all__ = [
    "RUNTIME_CODES",
    "ContractState",
    "ExecutionResult",
    "execute",
    "handler_code",
    "initial_state",
    "public_reason",
    "replay",
    "replay_from",
]

_log = structlog.get_logger(__name__)
REPLAYED = "replayed"
RUNTIME_CODES = frozenset(
    {REPLAYED, "malformed_payload", "unknown_contract", "undecryptable", "contract_error", "limits_exceeded"}
)


@dataclass(frozen=True)
class ContractState:
    """A contract's state as of `position` records. `value` is the contract's plaintext view: never printed."""

    contract_id: bytes
    value: Any = field(repr=False)
    position: int = 0  # records applied
    next_seq: int = 0  # sequence number of the next event
    # call ids seen: not redundant with last_nonces, since a domain's nonces are shared by every contract (a lower
    # nonce this log never saw is another contract's call, a wiring error, not a replay). docs/decisions.md
    executed: CallIds = field(default_factory=CallIds, repr=False)
    last_nonces: tuple[tuple[int, int], ...] = ()  # (source domain, last nonce), sorted

    def last_nonce(self, source_domain: int) -> int | None:
        return dict(self.last_nonces).get(source_domain)


@dataclass(frozen=True)
class ExecutionResult:
    record: ExecutionRecord
    outputs: tuple[Output, ...]
    state: ContractState
    digest: bytes  # result_digest(record, outputs): what t enclaves must agree on

    @property
    def status(self) -> CallStatus:
        return self.record.status

    @property
    def code(self) -> str:
        return self.record.code

    @property
    def reason(self) -> str:
        return self.record.reason

    @property
    def record_bytes(self) -> bytes:
        return encode_record(self.record)


def initial_state(contract_id: bytes, registry: Registry) -> ContractState:
    """The empty log's state; a contract id outside the registry gets a state whose value is None (its log only
    ever holds refusals)."""
    contract = registry.get(contract_id)
    return ContractState(contract_id, None if contract is None else contract.initial_state())


def _with_nonce(state: ContractState, call: ConfidentialCall) -> tuple[tuple[int, int], ...]:
    nonces = dict(state.last_nonces)
    nonces[call.source_domain] = call.source_nonce
    return tuple(sorted(nonces.items()))


def public_reason(text: str) -> str:
    """Cut to MAX_REASON bytes of UTF-8 (on a character boundary)."""
    raw = text.encode("utf-8")[:MAX_REASON]
    return raw.decode("utf-8", "ignore")


def _refuse(
    state: ContractState, call: ConfidentialCall, code: str, reason: str, keyring: StateKeyring, *, replayed: bool
) -> ExecutionResult:
    record = ExecutionRecord(
        state.contract_id, call.source_domain, call.source_nonce, state.position, CallStatus.REFUSED,
        keyring.version, code, public_reason(reason), state.next_seq, (),
    )  # fmt: skip
    if replayed:  # recorded, nothing else moves
        new_state = replace(state, position=state.position + 1)
    else:
        new_state = replace(
            state,
            position=state.position + 1,
            executed=state.executed.with_id(call.call_id),
            last_nonces=_with_nonce(state, call),
        )
    return _finish(ExecutionResult(record, (), new_state, result_digest(record, ())))


def _finish(result: ExecutionResult) -> ExecutionResult:
    r = result.record
    _log.info(
        "confidential_call",
        contract_id=r.contract_id.hex()[:16],
        call_id=r.call_id.hex()[:16],
        position=r.position,
        status=r.status.name.lower(),
        code=r.code or None,
        events=len(r.events),
        outputs=len(result.outputs),
    )
    return result


def _check_effects(contract: AnyContract, effects: object) -> tuple[list[bytes], tuple[Output, ...]]:
    if not isinstance(effects, Effects):
        raise ContractRefusal("contract_error", "the handler returned no Effects")
    if len(effects.events) > MAX_EVENTS or len(effects.outputs) > MAX_OUTPUTS:
        raise ContractRefusal("limits_exceeded", f"at most {MAX_EVENTS} events and {MAX_OUTPUTS} outputs per call")
    if not all(isinstance(o, EthereumCall | PhalaPayout) for o in effects.outputs):
        raise ContractRefusal("contract_error", "an output is neither an Ethereum call nor a Phala payout")
    encoded = [contract.encode_event(e) for e in effects.events]
    if any(not isinstance(e, bytes) or not 0 < len(e) <= MAX_EVENT_SIZE for e in encoded):
        raise ContractRefusal("limits_exceeded", f"an event is 1..{MAX_EVENT_SIZE} bytes")
    return encoded, tuple(effects.outputs)


def execute(
    contract_id: bytes, state: ContractState, call: Call, keyring: StateKeyring, *, registry: Registry
) -> ExecutionResult:
    """Run one call against `state`; pure apart from the log line (ids, status, code, counts: nothing secret)."""
    c = call.call
    if state.contract_id != contract_id or call.contract_id != contract_id:
        raise CallOrderError("the call, the state and the contract id do not name the same contract")
    if c.call_id in state.executed:
        return _refuse(state, c, REPLAYED, "this call id was already executed", keyring, replayed=True)
    last = state.last_nonce(c.source_domain)
    if last is not None and c.source_nonce <= last:
        raise CallOrderError(f"call {c.source_domain}/{c.source_nonce} comes after {c.source_domain}/{last}")
    if isinstance(call, RefusedCall):
        return _refuse(state, c, call.code, call.reason, keyring, replayed=False)
    contract = registry.get(contract_id)
    if contract is None:
        return _refuse(state, c, "unknown_contract", "no confidential contract has this id", keyring, replayed=False)
    ctx = CallContext(contract_id, c.call_id, c.source_domain, c.source_nonce, c.caller, c.block_number)
    try:
        encoded, outputs = _check_effects(contract, contract.handle(state.value, ctx, call.input))
        value = state.value
        for plaintext in encoded:  # the state a replay will rebuild, by construction
            value = contract.apply(value, contract.decode_event(plaintext))
    except ContractRefusal as exc:
        return _refuse(state, c, handler_code(exc.code), exc.reason, keyring, replayed=False)
    except Exception as exc:  # a deterministic bug is recorded like a refusal; its message may hold input: dropped
        return _refuse(state, c, "contract_error", f"the contract raised {type(exc).__name__}", keyring, replayed=False)
    sealed = tuple(keyring.seal_event(contract_id, c.call_id, state.next_seq + i, p) for i, p in enumerate(encoded))
    record = ExecutionRecord(
        contract_id, c.source_domain, c.source_nonce, state.position, CallStatus.EXECUTED, keyring.version,
        "", "", state.next_seq, sealed,
    )  # fmt: skip
    new_state = ContractState(
        contract_id,
        value,
        state.position + 1,
        state.next_seq + len(sealed),
        state.executed.with_id(c.call_id),
        _with_nonce(state, c),
    )
    return _finish(ExecutionResult(record, outputs, new_state, result_digest(record, outputs)))


def handler_code(code: str) -> str:
    """A handler's refusal code as recorded: its own if well formed and not reserved, else `contract_error`."""
    try:
        check_code(code)
    except ConfidentialError:
        return "contract_error"
    return code if code not in RUNTIME_CODES or code == "limits_exceeded" else "contract_error"


def replay(
    contract_id: bytes,
    records: Iterable[ExecutionRecord | bytes],
    keyring: StateKeyring,
    *,
    registry: Registry,
) -> ContractState:
    """Rebuild the state from the log, checking it as it goes: contract id, positions and sequence numbers
    contiguous, each call id once (plus `replayed` refusals of ids already seen), nonces increasing per domain,
    every event authentic at its position. Anything else raises ReplayError naming the position."""
    return replay_from(initial_state(contract_id, registry), records, keyring, registry=registry)


def replay_from(
    state: ContractState,
    records: Iterable[ExecutionRecord | bytes],
    keyring: StateKeyring,
    *,
    registry: Registry,
) -> ContractState:
    """The incremental form of `replay` (which is this fold from the initial state): `state` (the log's first
    `state.position` records, replayed) extended with the records that follow them, with the same checks and
    errors. `replay_from(replay(log[:k]), log[k:]) == replay(log)`. `state` is not changed: on a ReplayError
    nothing is applied."""
    contract_id = state.contract_id
    contract = registry.get(contract_id)
    value = state.value
    position, seq = state.position, state.next_seq
    executed = state.executed  # grown value by value: O(1) per record, `state` unchanged
    nonces: dict[int, int] = dict(state.last_nonces)
    for item in records:
        try:
            rec = decode_record(item) if isinstance(item, bytes) else item
        except ConfidentialError as exc:
            raise ReplayError(f"record {position}: {exc}") from None
        where = f"record {position}"
        if rec.contract_id != contract_id or rec.position != position or rec.first_seq != seq:
            raise ReplayError(f"{where}: contract, position or sequence does not follow the log")
        cid = rec.call_id
        if rec.status is CallStatus.REFUSED and rec.code == REPLAYED:
            if cid not in executed:
                raise ReplayError(f"{where}: a replay refusal for a call id never seen")
            position += 1
            continue
        last = nonces.get(rec.source_domain)
        if cid in executed or (last is not None and rec.source_nonce <= last):
            raise ReplayError(f"{where}: call {rec.source_domain}/{rec.source_nonce} is out of order or repeated")
        executed = executed.with_id(cid)
        nonces[rec.source_domain] = rec.source_nonce
        if rec.events:
            if contract is None or rec.key_version != keyring.version:
                raise ReplayError(f"{where}: events for an unknown contract or another key version")
            value = _apply_sealed(contract, value, rec, keyring, where)
        seq += len(rec.events)
        position += 1
    if position == state.position:
        return state
    return ContractState(contract_id, value, position, seq, executed, tuple(sorted(nonces.items())))


def _apply_sealed(contract: AnyContract, value: Any, rec: ExecutionRecord, keyring: StateKeyring, where: str) -> Any:
    for i, sealed in enumerate(rec.events):
        try:
            plaintext = keyring.open_event(rec.contract_id, rec.call_id, rec.first_seq + i, sealed)
        except DecryptionError:
            raise ReplayError(f"{where}: event {i} does not authenticate (tampered, moved or another key)") from None
        try:
            value = contract.apply(value, contract.decode_event(plaintext))
        except Exception as exc:
            raise ReplayError(f"{where}: event {i} does not apply ({type(exc).__name__})") from None
    return value
