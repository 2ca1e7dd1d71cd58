"""The confidential engine's state snapshot (pure): every contract's state at a position of the note log, so a
restarted enclave replays only the notes after it. It holds PLAINTEXT contract state (bids...): it is only ever
written sealed by this enclave build (`enclave_signer.checkpoints.SealedCheckpoints`), never logged, never kept
unsealed.

Version 1, big-endian, framed like every chain-view snapshot (`bridge.snapshots`: magic, version, blake2b-256):

    b"PBCS" | version u8 = 1
    bridge account (32) | state key id (8) | registry id (32)
    position: notes u64 | records u64 | log hash (32) | next reply counter u64
    contracts: u32 n, n x
        contract id (32) | position u64 | next seq u64 | u32 n, n x (domain u8 | last nonce u64)
        | u32 n, n x call id (32) | value: u8 0 (not in the registry: no value) or u8 1 | u32 len | contract state
    blake2b-256 of everything before it (32)

The contract state is the contract's own `encode_state` (a contract without `encode_state`/`decode_state` cannot
be snapshotted: the engine then always replays the whole log). `decode_state_snapshot` refuses anything else with a
`SnapshotError` naming what is wrong, never returning part of a snapshot.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from types import MappingProxyType

from bridge.confidential import NULL_CONTRACT_ID
from bridge.snapshots import SnapshotError, SnapshotReader, open_body, seal_body
from enclave_signer.contracts.call_ids import CallIds
from enclave_signer.contracts.log import ConfidentialLog
from enclave_signer.contracts.registry import Registry
from enclave_signer.contracts.runtime import ContractState

__all__ = [
    "MAGIC",
    "VERSION",
    "OtherRegistry",
    "StateSnapshot",
    "decode_state_snapshot",
    "encode_state_snapshot",
    "registry_id",
    "snapshot_support",
]

MAGIC = b"PBCS"
VERSION = 1
_KEY_ID = 8
_REGISTRY_DOMAIN = b"phala-bridge/confidential-registry/v1\x00"
_CONTRACT_MIN = 32 + 8 + 8 + 4 + 4 + 1


class OtherRegistry(SnapshotError):
    """The snapshot is well formed but of another contract set."""


@dataclass(frozen=True)
class StateSnapshot:
    bridge_account: bytes  # 32: whose note log
    key_id: bytes  # 8: the state key the events were opened with (StateKeyring.key_id)
    registry_id: bytes  # 32: registry_id(registry) of the build that took it
    log: ConfidentialLog

    def __repr__(self) -> str:  # the states are plaintext: never printed
        return f"StateSnapshot(notes={self.log.notes}, records={self.log.records}, contracts={len(self.log.states)})"


def registry_id(registry: Registry) -> bytes:
    """The contract set (ids, which bind their deployment parameters); the code is bound by the sealing, which only
    this build's measurement opens."""
    ids = sorted(c.contract_id for c in registry)
    return hashlib.sha256(_REGISTRY_DOMAIN + len(ids).to_bytes(4, "big") + b"".join(ids)).digest()


def snapshot_support(registry: Registry) -> list[str]:
    """The names of the registry's contracts that have no state codec (empty: snapshots are possible)."""
    return [c.name for c in registry if not (hasattr(c, "encode_state") and hasattr(c, "decode_state"))]


def encode_state_snapshot(snap: StateSnapshot, registry: Registry) -> bytes:
    if len(snap.bridge_account) != 32 or len(snap.key_id) != _KEY_ID or len(snap.registry_id) != 32:
        raise SnapshotError("a bridge account is 32 bytes, a key id 8 and a registry id 32")
    log = snap.log
    out = bytearray(MAGIC + bytes([VERSION]))
    out += snap.bridge_account + snap.key_id + snap.registry_id
    out += struct.pack(">QQ", log.notes, log.records) + log.log_hash + struct.pack(">Q", log.next_reply)
    out += struct.pack(">I", len(log.states))
    for cid in sorted(log.states):
        s = log.states[cid]
        out += cid + struct.pack(">QQI", s.position, s.next_seq, len(s.last_nonces))
        for domain, nonce in s.last_nonces:
            out += struct.pack(">BQ", domain, nonce)
        out += struct.pack(">I", len(s.executed)) + b"".join(sorted(s.executed))
        contract = registry.get(cid)
        if contract is None:
            if s.value is not None:
                raise SnapshotError(f"contract {cid.hex()[:16]} is not in the registry but has a state")
            out.append(0)
            continue
        encode = getattr(contract, "encode_state", None)
        if encode is None:
            raise SnapshotError(f"contract {contract.name} has no state codec")
        value = encode(s.value)
        out += b"\x01" + struct.pack(">I", len(value)) + value
    return seal_body(out)


def decode_state_snapshot(data: bytes, registry: Registry) -> StateSnapshot:
    _, body = open_body(data, MAGIC, (VERSION,), "a confidential-state")
    r = SnapshotReader(body, len(MAGIC) + 1)
    account, key_id, reg = r.take(32, "bridge account"), r.take(_KEY_ID, "key id"), r.take(32, "registry id")
    notes, records, log_hash = r.u64("notes"), r.u64("records"), r.take(32, "log hash")
    next_reply = r.u64("next reply counter")
    if reg != registry_id(registry):  # the contracts' states cannot be read with another contract set
        raise OtherRegistry("the snapshot was taken with another set of contracts ([confidential] changed)")
    if records > notes:
        raise SnapshotError(f"{records} records among {notes} notes")
    states: dict[bytes, ContractState] = {}
    for i in range(r.count(_CONTRACT_MIN, "contracts")):
        state = _read_state(r, f"contract {i}", registry)
        if state.contract_id in states:
            raise SnapshotError(f"contract {i} is listed twice")
        states[state.contract_id] = state
    r.end()
    missing = {NULL_CONTRACT_ID, *(c.contract_id for c in registry)} - set(states)
    if missing:
        raise SnapshotError(f"{len(missing)} contract(s) of the registry have no state")
    if sum(s.position for s in states.values()) != records:
        raise SnapshotError("the contracts' positions do not add up to the records")
    log = ConfidentialLog(MappingProxyType(dict(sorted(states.items()))), notes, records, log_hash, next_reply)
    return StateSnapshot(account, key_id, reg, log)


def _read_state(r: SnapshotReader, what: str, registry: Registry) -> ContractState:
    cid, position, next_seq = r.take(32, f"{what} id"), r.u64(f"{what} position"), r.u64(f"{what} next seq")
    nonces = []
    for _ in range(r.count(9, f"{what} nonces")):
        nonces.append((r.uint(1, f"{what} domain"), r.u64(f"{what} nonce")))
    if [d for d, _ in nonces] != sorted({d for d, _ in nonces}):
        raise SnapshotError(f"{what}'s nonces are not one per domain, sorted")
    executed = [r.take(32, f"{what} call id") for _ in range(r.count(32, f"{what} executed"))]
    if len(set(executed)) != len(executed):
        raise SnapshotError(f"{what} lists a call id twice")
    flag = r.uint(1, f"{what} value flag")
    contract = registry.get(cid)
    if flag not in (0, 1) or (flag == 1) != (contract is not None):
        where = "in" if contract else "outside"
        raise SnapshotError(f"{what} has value flag {flag} for a contract {where} the registry")
    value = None
    if contract is not None:
        raw = r.take(r.u32(f"{what} state length"), f"{what} state")
        decode = getattr(contract, "decode_state", None)
        if decode is None:
            raise SnapshotError(f"contract {contract.name} has no state codec")
        try:
            value = decode(raw)
        except Exception as exc:  # a contract's decoder: whatever it raises, the snapshot is refused
            raise SnapshotError(f"{what}'s state does not decode ({type(exc).__name__})") from None
    return ContractState(cid, value, position, next_seq, CallIds(executed), tuple(nonces))
