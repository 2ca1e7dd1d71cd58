"""Every contract's state replayed from the bridge account's note log, as a value that grows with the log.

    log = ConfidentialLog.empty(registry)
    log = log.extend(new_notes, keyring, registry=registry)     # only the notes after `log.notes`; ReplayError
    log.states[contract_id]; log.next_reply; (log.notes, log.log_hash): where it stands

The notes are the bridge account's finalized confidential notes in chain order (execution records and outputs
notes). `extend` is the fold of `replay_from` per contract plus `next_reply_counter` (a maximum, so it folds too):
extending by a log's notes in any number of steps gives the same value as one full replay (a property test checks
it), with the same checks and errors (a record that does not decode, follow or open is a ReplayError and nothing is
applied: the value is immutable). `log_hash` is the running `note_log_hash` of the notes applied: a log whose first
`notes` notes do not hash to it is not an extension of this one (another bridge account, a lagging node).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.confidential import (
    NOTE_LOG_ROOT,
    NULL_CONTRACT_ID,
    RECORD_MAGIC,
    ConfidentialError,
    ExecutionRecord,
    decode_record,
    next_reply_counter,
    note_log_hash,
)
from enclave_signer.contracts.errors import ReplayError
from enclave_signer.contracts.registry import Registry
from enclave_signer.contracts.runtime import ContractState, initial_state, replay_from
from enclave_signer.contracts.state_key import StateKeyring

__all__ = ["ConfidentialLog"]


@dataclass(frozen=True)
class ConfidentialLog:
    """The states as of the log's first `notes` notes (`records` of them execution records). Never printed."""

    states: Mapping[bytes, ContractState] = field(repr=False)
    notes: int = 0
    records: int = 0
    log_hash: bytes = NOTE_LOG_ROOT
    next_reply: int = 0  # bridge.confidential.next_reply_counter of those notes

    @classmethod
    def empty(cls, registry: Registry) -> ConfidentialLog:
        ids = sorted({NULL_CONTRACT_ID, *(c.contract_id for c in registry)})
        return cls(MappingProxyType({cid: initial_state(cid, registry) for cid in ids}))

    def state_of(self, contract_id: bytes, registry: Registry) -> ContractState:
        return self.states.get(contract_id) or initial_state(contract_id, registry)

    def extend(self, notes: Sequence[bytes], keyring: StateKeyring, *, registry: Registry) -> ConfidentialLog:
        """This log followed by `notes` (the notes after the first `self.notes`); ReplayError when they do not
        replay (this value is unchanged)."""
        if not notes:
            return self
        by_log: dict[bytes, list[ExecutionRecord]] = {}
        records = 0
        for i, data in enumerate(notes):
            if bytes(data[: len(RECORD_MAGIC)]) != RECORD_MAGIC:
                continue
            try:
                rec = decode_record(bytes(data))
            except ConfidentialError as exc:
                raise ReplayError(f"note {self.notes + i}: {exc}") from None
            by_log.setdefault(rec.contract_id, []).append(rec)
            records += 1
        try:
            next_reply = max(self.next_reply, next_reply_counter(notes))
        except ConfidentialError as exc:
            raise ReplayError(f"an outputs note after note {self.notes}: {exc}") from None
        states = dict(self.states)
        for cid in sorted(by_log):
            states[cid] = replay_from(self.state_of(cid, registry), by_log[cid], keyring, registry=registry)
        return ConfidentialLog(
            MappingProxyType(states),
            self.notes + len(notes),
            self.records + records,
            note_log_hash(notes, self.log_hash),
            next_reply,
        )

    def executed(self) -> frozenset[bytes]:
        """Every call id with a record in the log (replay refusals aside): O(log), see `has_executed`."""
        return frozenset().union(*(s.executed for s in self.states.values()))

    def has_executed(self, call_id: bytes) -> bool:
        """Whether `call_id` has a record in the log (replay refusals aside), in O(contracts)."""
        return any(call_id in s.executed for s in self.states.values())

    def may_precede(self, notes: Sequence[bytes], *, at: int = 0, next_reply: int = 0) -> bool:
        """Whether `notes`, a log SHORTER than this one (a lagging node's), can be a prefix of it, as far as the states
        tell without the notes themselves: every record decodes, is of a contract held, at a position, sequence
        numbers and a nonce it has passed, of a call id it has seen; the reply counter does not go past this one's.
        False is proof of another log; True is not proof of the same one (the running hash decides when it is as
        long). `notes` may be a part of that log: the notes after its first `at`, whose reply counter was
        `next_reply` (checked already)."""
        if at + len(notes) >= self.notes:
            return False
        try:
            if max(next_reply, next_reply_counter(notes)) > self.next_reply:
                return False
            for data in notes:
                if bytes(data[: len(RECORD_MAGIC)]) != RECORD_MAGIC:
                    continue
                rec = decode_record(bytes(data))
                s = self.states.get(rec.contract_id)
                last = None if s is None else s.last_nonce(rec.source_domain)
                if (
                    s is None
                    or last is None
                    or rec.position >= s.position
                    or rec.first_seq + len(rec.events) > s.next_seq
                    or rec.source_nonce > last
                    or rec.call_id not in s.executed
                ):
                    return False
        except ConfidentialError:
            return False
        return True
