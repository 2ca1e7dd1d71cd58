"""Confidential contracts inside the enclave process: the wiring of `enclave_signer.contracts` to the committee.

    engine = ConfidentialEngine(node, registry, chain)      # chain: the member's OWN view (the application edge's)
    calls  = await engine.run(messages)                      # public results: records, outputs, digests
    answer = await engine.query(signed_query)                # sealed to the querier

- **State key**: recovered once, by a threshold decryption of `state_key_request()` led by this enclave with its
  own identity's X25519 key as the requester (the shares are opened and DLEQ-checked here).
- **State**: every contract's state is `replay`ed from the bridge account's finalized `PHCR` records (the chain
  port), incrementally: each sync applies only the notes after the position it holds (`ConfidentialLog.extend`),
  after checking, by the running hash of the notes, that the chain's log still extends it (else a full replay,
  logged); a chain log shorter than the states whose notes fit them (a lagging node) is waited for (`not_ready`)
  for `state_wait_ms` at most. With `StateCheckpoints`, the states are also saved as a SEALED snapshot every N
  records and on a clean stop, and a restart replays only the notes after it; without it (or when it does not fit),
  from the chain alone.
- **Calls**: only messages the chain port reports as final confidential calls; strictly in source order (a call
  whose earlier calls are not all in the finalized log yet is `NotReady`); each decrypted from t DLEQ-checked shares
  that this enclave requested and opened itself (no member trusts another's plaintext), run with `execute`.
- **Agreement**: each member computes its own results; the member's batch verifier signs the Phala extrinsic only
  when it is byte for byte the one its own results make, so a FROST signature exists only when t members computed
  the same records and outputs (the t-agreement of `tally`, enforced by the signature itself).

Plaintext inputs live only in this process (the decrypted-call cache); logs carry ids, positions and codes.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import nacl.exceptions
import nacl.public
import structlog

from bridge.confidential import (
    NOTE_LOG_ROOT,
    ConfidentialCall,
    ConfidentialError,
    EthereumCall,
    ExecutedCall,
    NoteTail,
    confidential_call,
    decode_signed_query,
    next_reply_counter,
    note_log_hash,
)
from bridge.messages import BridgeMessage
from bridge.snapshots import SnapshotError
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.sessions.tdec import parse_decryption_share
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts import (
    Call,
    CallOrderError,
    ContractState,
    QueryError,
    RefusedCall,
    Registry,
    ReplayError,
    StateKeyring,
    answer_query,
    call_ciphertext,
    decrypt_call,
    execute,
    route,
    state_key_request,
)
from enclave_signer.contracts.log import ConfidentialLog
from enclave_signer.contracts.policy import ConfidentialDecryptionPolicy
from enclave_signer.contracts.state_snapshot import (
    OtherRegistry,
    StateSnapshot,
    decode_state_snapshot,
    encode_state_snapshot,
    registry_id,
    snapshot_support,
)
from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import FrostError
from enclave_signer.identity import InvalidIdentityKeyError, ed25519_to_x25519_public
from enclave_signer.tdec.dleq import DleqProof
from enclave_signer.tdec.threshold import DecryptionShare

__all__ = [
    "DEFAULT_STATE_WAIT_MS",
    "ConfidentialChain",
    "ConfidentialEngine",
    "NotReady",
    "SnapshotStore",
    "StateCheckpoints",
    "decode_bundle",
    "encode_bundle",
]

_log = structlog.get_logger(__name__)
_CIPHERTEXT_OFFSET = 4 + 1 + 32  # "PHCC" | version | contract id
_CACHE = 4096
_G = ED25519.group
_BUNDLE = b"PHCS"
_SHARE = 2 + 32 + 32 + 32  # member id | D | DLEQ c | DLEQ z
# How long a chain log shorter than the states held is waited for before a full replay: a restarted Phala node
# catches up on minutes of finalized blocks within that, and a member whose node is behind cannot sign these calls
# anyway (its view lacks their predecessors), so waiting costs only `not_ready` answers; a replay costs CPU and then
# serves the stale view. docs/decisions.md
DEFAULT_STATE_WAIT_MS = 300_000


def encode_bundle(shares: dict[bytes, list[DecryptionShare]]) -> bytes:
    """Decryption shares of several calls: "PHCS" | count u16 | (call id 32 | n u8 | (member u16 | D | c | z) * n)*."""
    out = bytearray(_BUNDLE + len(shares).to_bytes(2, "big"))
    for call_id, items in shares.items():
        out += call_id + bytes([len(items)])
        for sh in items:
            c, z = _G.serialize_scalar(sh.proof.c), _G.serialize_scalar(sh.proof.z)
            out += sh.identifier.to_bytes(2, "big") + sh.d + c + z
    return bytes(out)


def decode_bundle(data: bytes) -> dict[bytes, list[DecryptionShare]]:
    """ValueError for anything but exactly one bundle (the proofs are checked where the shares are used)."""
    if data[:4] != _BUNDLE or len(data) < 6:
        raise ValueError("not a share bundle")
    count, pos, out = int.from_bytes(data[4:6], "big"), 6, {}
    for _ in range(count):
        call_id, n = data[pos : pos + 32], data[pos + 32] if pos + 32 < len(data) else -1
        pos += 33
        if len(call_id) != 32 or n < 0 or pos + n * _SHARE > len(data):
            raise ValueError("truncated share bundle")
        items = []
        for _ in range(n):
            raw = data[pos : pos + _SHARE]
            c, z = _G.deserialize_scalar(raw[34:66]), _G.deserialize_scalar(raw[66:98])
            items.append(DecryptionShare(int.from_bytes(raw[:2], "big"), raw[2:34], DleqProof(c, z)))
            pos += _SHARE
        out[call_id] = items
    if pos != len(data):
        raise ValueError("trailing bytes after a share bundle")
    return out


class ConfidentialChain(Protocol):
    """The member's own chain view, wired by the application edge (relayers code stays outside this package)."""

    async def notes_after(self, position: int) -> NoteTail:
        """The notes (confidential-call records and outputs notes) of the bridge account's successful finalized
        extrinsics after the first `position`, in chain order, with the running hash of those first `position` as
        this view has them (None when it has fewer). `notes_after(0)` is the whole log."""
        ...

    async def final_calls(self) -> Sequence[BridgeMessage]:
        """Every confidential-call message final on its source chain, as the source watcher decodes it; calls
        whose record is in the log `notes_after()` last served may be left out (they are done)."""
        ...


class SnapshotStore(Protocol):
    """Named opaque blobs, each replaced atomically (`enclave_signer.checkpoints.SealedCheckpoints`)."""

    def load_checkpoint(self, name: str) -> bytes | None: ...
    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None: ...


class StateCheckpoints:
    """Where and how often the engine saves its sealed state snapshot: `<prefix>/<16 hex of the bridge account>` in
    `store` (sealed files: the snapshot holds plaintext contract state and never leaves sealed form), every
    `every_records` execution records applied and on a clean stop."""

    def __init__(self, store: SnapshotStore, prefix: str, every_records: int = 1_000) -> None:
        if every_records < 1:
            raise ValueError("every_records is at least 1")
        self.store, self.prefix, self.every_records = store, prefix, every_records

    def name(self, bridge_account: bytes) -> str:
        return f"{self.prefix}/{bridge_account.hex()[:16]}"


@dataclass
class _Behind:
    """Since when the chain's log is seen shorter than the states held, and how much of it was checked to fit."""

    since: float
    checked: int  # notes of the chain's log checked by `ConfidentialLog.may_precede`
    checked_hash: bytes  # their running hash
    next_reply: int  # their reply counter
    logged: bool = False


class NotReady(SigningRefusal):
    """The calls cannot run yet (earlier calls not final on Phala, keys missing); ask again later."""

    def __init__(self, reason: str) -> None:
        super().__init__("not_ready", reason)


class ConfidentialEngine:
    def __init__(
        self,
        node: CommitteeNode,
        registry: Registry,
        chain: ConfidentialChain,
        *,
        checkpoints: StateCheckpoints | None = None,
        state_wait_ms: int = DEFAULT_STATE_WAIT_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if state_wait_ms < 0:
            raise ValueError("state_wait_ms is at least 0")
        self.node = node
        self.registry = registry
        self.chain = chain
        unsupported = snapshot_support(registry)
        if checkpoints is not None and unsupported:  # a contract whose state has no codec: full replays only
            _log.warning("confidential_state_snapshots_off", contracts=unsupported, reason="no_state_codec")
            checkpoints = None
        self.checkpoints = checkpoints
        self._keyring: StateKeyring | None = None
        # The states as of a position of the finalized note log, and whose log with which key (None: not built yet).
        self._log: ConfidentialLog | None = None
        self._log_of: tuple[bytes | None, bytes] | None = None  # (bridge account, state key id)
        self._unverified: ConfidentialLog | None = None  # a loaded snapshot not yet checked against the chain
        # waiting for a chain log shorter than the states held (`_chain_behind`); None: not behind
        self._behind: _Behind | None = None
        self.state_wait_ms, self._clock = state_wait_ms, clock
        self._saved_records = 0  # records in the last snapshot saved or loaded
        self._saving: asyncio.Task[None] | None = None
        self.stats = {"full_replays": 0, "records_applied": 0}  # for tests and benches
        self._decrypted: OrderedDict[bytes, Call] = OrderedDict()  # call id -> decrypted or refused call
        self._shares_of: OrderedDict[bytes, list[DecryptionShare]] = OrderedDict()  # call id -> t proven shares
        self._offered: dict[bytes, list[DecryptionShare]] = {}  # shares the leader forwarded, not checked yet
        self._lock = asyncio.Lock()
        self.policy = ConfidentialDecryptionPolicy(self._member_keys, self.is_final_call_ciphertext)

    # ---- the decryption policy's ports ----------------------------------------------------------------------------

    def _member_keys(self) -> list[bytes]:
        record = self.node.record
        return [] if record is None else [m.identity_public_key for m in record.members]

    async def is_final_call_ciphertext(self, ciphertext: bytes) -> bool:
        return any(bytes(m.payload[_CIPHERTEXT_OFFSET:]) == ciphertext for m in await self.chain.final_calls())

    # ---- keys and shares ------------------------------------------------------------------------------------------

    async def _shares(self, ciphertext: bytes) -> list[DecryptionShare]:
        """t decryption shares requested by this enclave for itself, opened here (checked again by the caller).

        The session this node leads opens each share as it arrives (it is sealed to this enclave's identity) and
        drops a member whose share does not open or whose DLEQ proof fails, collecting from the others until t
        valid shares (committee/sessions/tdec.py): one bad member does not block the state key or the calls."""
        outcome = await self.node.decryption_shares(ciphertext, self.node.identity.x25519_public_key)
        shares = []
        for sealed in outcome.shares.values():
            try:
                body = self.node.identity.open_sealed_box(sealed)
                shares.append(parse_decryption_share(body, outcome.session_id))
            except (nacl.exceptions.CryptoError, ValueError) as exc:
                raise SigningRefusal("bad_share", f"a decryption share does not open: {type(exc).__name__}") from None
        return shares

    async def keyring(self) -> StateKeyring:
        if self._keyring is None:
            record = self.node.record
            if record is None:
                raise NotReady("no committee keys yet")
            shares = await self._shares(state_key_request().to_bytes())
            self._keyring = StateKeyring.recover(
                shares, record.verifying_shares["encryption"], record.threshold, record.group_keys.encryption
            )
            _log.info("state_key_recovered", key_id=self._keyring.key_id().hex(), member_id=self.node.member_id)
        return self._keyring

    # ---- state ----------------------------------------------------------------------------------------------------

    def _account(self) -> bytes | None:
        record = self.node.record
        return None if record is None else record.group_keys.ed25519

    async def _sync(self, keyring: StateKeyring) -> ConfidentialLog:
        """The states as of the chain's finalized note log: only the notes after the position held are read and
        applied. A log shorter than the states held whose notes may be their prefix (the member's Phala node still
        catching up, typically after a restart) is "not yet": NotReady (nothing is served from states ahead of the
        chain view) until it reaches them, or for `state_wait_ms` at most, then a full replay (`chain_behind`). A log
        that does not extend them otherwise (another prefix: another bridge account, another chain) is replayed in
        full at once."""
        of = (self._account(), keyring.key_id())
        if self._log is None or self._log_of != of:
            if self._log is not None:
                _log.warning("confidential_state_reset", reason="bridge_account_or_key_changed", action="full_replay")
            self._log, self._log_of = self._resume(*of), of
            self._behind = None
        base = self._log
        tail = await self.chain.notes_after(base.notes)
        if tail.prefix_hash is None and tail.position == base.notes and await self._chain_behind(base):
            tail = await self.chain.notes_after(base.notes)  # caught up while its prefix was checked: look again
        if tail.position != base.notes or tail.prefix_hash != base.log_hash:
            reason = "shorter_log" if tail.prefix_hash is None else "other_prefix"
            if self._behind is not None and reason == "shorter_log":
                reason = "chain_behind"  # still behind past the bound (a consistent prefix: else "shorter_log")
            self._behind = None
            if base is self._unverified:
                if reason == "chain_behind":
                    self._fallback(reason, f"the chain's log stayed behind the snapshot for {self.state_wait_ms} ms")
                else:
                    self._fallback("log_mismatch", f"the chain's log does not extend the snapshot's ({reason})")
            elif reason == "chain_behind":
                _log.warning("confidential_state_reset", reason=reason, notes=base.notes, action="full_replay")
            else:
                _log.warning("confidential_log_diverged", reason=reason, notes=base.notes, action="full_replay")
            self._unverified = None
            base = ConfidentialLog.empty(self.registry)
            tail = await self.chain.notes_after(0)
        self._behind = None
        if not tail.notes and base is self._log and base is not self._unverified:
            return base
        started = time.perf_counter()
        try:
            new = base.extend(tail.notes, keyring, registry=self.registry)
        except ReplayError as exc:
            _log.error("confidential_log_broken", error=str(exc))
            raise SigningRefusal("log_broken", f"the confidential log does not replay: {exc}") from None
        full = base.notes == 0
        self.stats["full_replays"] += full and bool(tail.notes)
        self.stats["records_applied"] += new.records - base.records
        if base is self._unverified:
            _log.info(
                "confidential_state_resumed",
                notes=base.notes,
                records=base.records,
                replayed=new.records - base.records,
                ms=round((time.perf_counter() - started) * 1e3, 1),
            )
            self._unverified = None
        elif full or new.records - base.records > 1:
            _log.info(
                "confidential_state_replayed",
                records=new.records,
                applied=new.records - base.records,
                full=full,
                logs=len(new.states),
                next_reply=new.next_reply,
                ms=round((time.perf_counter() - started) * 1e3, 1),
            )
        self._log = new
        if self.checkpoints is not None and new.records - self._saved_records >= self.checkpoints.every_records:
            self._save_in_background(new)
        return new

    async def _chain_behind(self, base: ConfidentialLog) -> bool:
        """The chain's log is shorter than `base`. Raises NotReady while what it has may be `base`'s prefix
        (`ConfidentialLog.may_precede`, checked on the notes not checked yet) and `state_wait_ms` have not passed
        since it was first seen behind; True if it has reached `base` meanwhile; False for a prefix that cannot be
        `base`'s (a divergence) or when the wait is over (`self._behind` then still set: `chain_behind`)."""
        now = self._clock()
        if self._behind is None:
            self._behind = _Behind(now, 0, NOTE_LOG_ROOT, 0)
        b = self._behind
        tail = await self.chain.notes_after(b.checked)
        if tail.prefix_hash != b.checked_hash:  # the view changed under the check (another node?): check it all
            b.checked, b.checked_hash, b.next_reply = 0, NOTE_LOG_ROOT, 0
            tail = await self.chain.notes_after(0)
        if tail.end >= base.notes:
            self._behind = None
            return True
        if not base.may_precede(tail.notes, at=b.checked, next_reply=b.next_reply):
            self._behind = None
            return False
        b.checked, b.checked_hash = tail.end, note_log_hash(tail.notes, b.checked_hash)
        b.next_reply = max(b.next_reply, next_reply_counter(tail.notes))
        waited_ms = (now - b.since) * 1e3
        if waited_ms >= self.state_wait_ms:
            return False
        if not b.logged:
            b.logged = True
            _log.warning(
                "confidential_state_waiting",
                reason="chain_behind",
                chain_notes=tail.end,
                state_notes=base.notes,
                snapshot=base is self._unverified,
                wait_ms=self.state_wait_ms,
            )
        raise NotReady(
            f"this member's Phala view has {tail.end} of the {base.notes} confidential notes its state is at: "
            f"waiting for it to catch up ({round(waited_ms)} of {self.state_wait_ms} ms)"
        )

    def state_of(self, contract_id: bytes) -> ContractState:
        log = self._log or ConfidentialLog.empty(self.registry)
        return log.state_of(contract_id, self.registry)

    # ---- sealed state snapshots -----------------------------------------------------------------------------------

    def _fallback(self, reason: str, detail: str) -> None:
        level = _log.info if reason == "none" else _log.warning
        level("confidential_state_snapshot_fallback", reason=reason, detail=detail, action="full_replay")

    def _resume(self, account: bytes | None, key_id: bytes) -> ConfidentialLog:
        """The loaded snapshot (checked against the chain by the first sync), or the empty log."""
        empty = ConfidentialLog.empty(self.registry)
        self._unverified, self._saved_records = None, 0
        cp = self.checkpoints
        if cp is None or account is None:
            return empty
        try:
            data = cp.store.load_checkpoint(cp.name(account))
        except Exception as exc:  # unreadable (another build, a modified file): the chain is always there
            self._fallback("unreadable", type(exc).__name__)
            return empty
        if data is None:
            self._fallback("none", "no snapshot saved yet")
            return empty
        try:
            snap = decode_state_snapshot(data, self.registry)
        except OtherRegistry as exc:
            self._fallback("other_registry", str(exc))
            return empty
        except SnapshotError as exc:
            self._fallback("malformed", str(exc))
            return empty
        if snap.bridge_account != account:
            self._fallback("other_account", "the snapshot is of another bridge account's log")
            return empty
        if snap.key_id != key_id:
            self._fallback("other_key", "the snapshot's states were opened with another state key")
            return empty
        self._unverified, self._saved_records = snap.log, snap.log.records
        return snap.log

    def _snapshot_bytes(self, log: ConfidentialLog, of: tuple[bytes | None, bytes] | None) -> tuple[str, bytes] | None:
        cp = self.checkpoints
        if cp is None or of is None:
            return None
        account, key_id = of
        if account is None:
            return None
        return cp.name(account), encode_state_snapshot(
            StateSnapshot(account, key_id, registry_id(self.registry), log), self.registry
        )

    def _save(self, log: ConfidentialLog, of: tuple[bytes | None, bytes] | None) -> bool:
        """Seal and write `log` (immutable: safe on any thread). Failures are logged: snapshots only save time."""
        cp = self.checkpoints
        if cp is None:
            return False
        started = time.perf_counter()
        try:
            named = self._snapshot_bytes(log, of)
            if named is None:
                return False
            name, data = named
            cp.store.save_checkpoint(name, data, log.notes)
        except Exception as exc:
            _log.warning("confidential_state_save_failed", error=type(exc).__name__, records=log.records)
            return False
        self._saved_records = max(self._saved_records, log.records)
        _log.info(
            "confidential_state_saved",
            checkpoint=name,
            notes=log.notes,
            records=log.records,
            size=len(data),
            ms=round((time.perf_counter() - started) * 1e3, 1),
        )
        return True

    def _save_in_background(self, log: ConfidentialLog) -> None:
        if self._saving is not None and not self._saving.done():
            return  # one at a time; the next sync past the interval saves again
        self._saved_records = log.records  # no retry storm on every call if the disk refuses
        of = self._log_of  # whose log it is, taken now: the save runs on another thread

        async def save() -> None:
            await asyncio.to_thread(self._save, log, of)

        self._saving = asyncio.get_running_loop().create_task(save(), name="confidential-state-save")

    async def save_snapshot(self) -> bool:
        """Save the states now (a clean stop); False when snapshots are off, nothing was built, or it failed."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
        log = self._log
        if log is None or self.checkpoints is None or log is self._unverified:
            return False
        return await asyncio.to_thread(self._save, log, self._log_of)

    # ---- calls ----------------------------------------------------------------------------------------------------

    async def run(self, messages: Sequence[BridgeMessage], *, forwarded: bytes | None = None) -> list[ExecutedCall]:
        """Execute `messages` (confidential calls) in source order against the finalized log; public results.
        `forwarded`: the leader's bundle of decryption shares sealed to this enclave (`forward`); each share's DLEQ
        proof is checked here before use, and a call whose forwarded shares do not hold is decrypted by a session
        of this enclave's own."""
        async with self._lock:
            try:
                if forwarded:
                    try:
                        self._offered.update(decode_bundle(self.node.identity.open_sealed_box(forwarded)))
                    except (nacl.exceptions.CryptoError, ValueError, FrostError) as exc:
                        _log.warning("forwarded_shares_unusable", error=type(exc).__name__)
                keyring = await self.keyring()
                log = await self._sync(keyring)
                states = dict(log.states)
                final = {m.id_hex: m for m in await self.chain.final_calls()}
                ordered = sorted(messages, key=lambda m: (m.source_domain, m.nonce))
                batch = {m.id for m in ordered}
                # "executed" before "absent": the chain port may drop a call once its record is in the log it served
                for m in ordered:
                    if log.has_executed(m.id):
                        raise SigningRefusal("executed", f"call {m.id_hex} is already in the log")
                for m in ordered:
                    if final.get(m.id_hex) != m:
                        raise SigningRefusal("absent", f"message {m.id_hex} is not a final confidential call here")
                if ordered:
                    last = ordered[-1]
                    waiting = [
                        f for f in final.values()
                        if f.source_domain == last.source_domain and f.nonce < last.nonce
                        and f.id not in batch and not log.has_executed(f.id)
                    ]  # fmt: skip
                    if waiting:
                        raise NotReady(f"{len(waiting)} earlier call(s) are not in the finalized log yet")
                calls = [confidential_call(m) for m in ordered]
                # The decryptions are independent committee sessions: run them together, execute in order after.
                decrypted_calls = await asyncio.gather(*(self._decrypt(c, keyring) for c in calls))
                # Reply counters continue the finalized log's, in source order: the same on every member.
                counter = log.next_reply
                out = []
                for m, call, decrypted in zip(ordered, calls, decrypted_calls, strict=True):
                    cid = route(call, self.registry)
                    try:
                        result = execute(cid, log.state_of(cid, self.registry) if cid not in states else states[cid],
                                         decrypted, keyring, registry=self.registry)  # fmt: skip
                    except CallOrderError as exc:
                        raise NotReady(f"call {m.id_hex} is out of order: {exc}") from None
                    states[cid] = result.state
                    out.append(
                        ExecutedCall(call.source_domain, call.source_nonce, result.record_bytes, result.outputs,
                                     result.digest, counter)
                    )  # fmt: skip
                    counter += sum(isinstance(o, EthereumCall) for o in result.outputs)
                return out
            finally:
                # Forwarded shares serve this request's calls only: anyone can seal a bundle to this enclave, so
                # keeping the rest would let a relayer (or the host) fill its memory; later requests forward anew.
                self._offered.clear()

    async def _decrypt(self, call: ConfidentialCall, keyring: StateKeyring) -> Call:
        cached = self._decrypted.get(call.call_id)
        if cached is not None and cached.call == call:
            return cached
        pending = call_ciphertext(call, self.registry)
        if isinstance(pending, RefusedCall):
            result: Call = pending
        else:
            record = self.node.record
            assert record is not None  # keyring() checked
            verifying, t, pk = record.verifying_shares["encryption"], record.threshold, record.group_keys.encryption
            offered = self._offered.pop(call.call_id, None)
            found: Call | None = None
            shares: list[DecryptionShare] = []
            if offered is not None:
                try:  # the leader's forwarded shares: every proof checked here, like our own
                    found, shares = decrypt_call(call, offered, verifying, t, pk, registry=self.registry), offered
                except (FrostError, ValueError) as exc:
                    _log.warning("forwarded_shares_refused", call_id=call.call_id.hex()[:16], error=type(exc).__name__)
            if found is None:
                shares = await self._shares(pending.to_bytes())
                try:
                    found = decrypt_call(call, shares, verifying, t, pk, registry=self.registry)
                except FrostError as exc:  # not expected (the session checked every proof): nothing is recorded
                    raise SigningRefusal(
                        "bad_share", f"decryption shares do not verify: {type(exc).__name__}"
                    ) from None
            result = found
            self._shares_of[call.call_id] = list(shares)
            while len(self._shares_of) > _CACHE:
                self._shares_of.popitem(last=False)
        self._decrypted[call.call_id] = result
        while len(self._decrypted) > _CACHE:
            self._decrypted.popitem(last=False)
        return result

    def forward(self, messages: Sequence[BridgeMessage]) -> dict[int, bytes]:
        """The shares this enclave used for `messages`, sealed to every other member's identity (X25519 form): the
        members then decrypt without sessions of their own. Only enclaves can open them; each checks every proof."""
        record = self.node.record
        if record is None:
            return {}
        body = encode_bundle({m.id: self._shares_of[m.id] for m in messages if m.id in self._shares_of})
        out = {}
        for member in record.members:
            if member.member_id == self.node.member_id:
                continue
            try:
                key = nacl.public.PublicKey(ed25519_to_x25519_public(member.identity_public_key))
            except InvalidIdentityKeyError:
                continue
            out[member.member_id] = bytes(nacl.public.SealedBox(key).encrypt(body))
        return out

    # ---- queries --------------------------------------------------------------------------------------------------

    async def query(self, signed_query: bytes) -> bytes:
        """The answer sealed to the querier, from this enclave's replayed view (refusals are sealed answers too);
        QueryError for an envelope that does not decode."""
        try:
            contract_id = decode_signed_query(signed_query).query.contract_id
        except ConfidentialError as exc:
            raise QueryError(f"malformed query: {exc}") from None
        async with self._lock:
            log = await self._sync(await self.keyring())
            return answer_query(log.state_of(contract_id, self.registry), signed_query, registry=self.registry)
