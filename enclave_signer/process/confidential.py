"""Confidential contracts inside the enclave process: the wiring of `enclave_signer.contracts` to the committee.

    engine = ConfidentialEngine(node, registry, chain)      # chain: the member's OWN view (the application edge's)
    calls  = await engine.run(messages)                      # public results: records, outputs, digests
    answer = await engine.query(signed_query)                # sealed to the querier

- **State key**: recovered once, by a threshold decryption of `state_key_request()` led by this enclave with its
  own identity's X25519 key as the requester (the shares are opened and DLEQ-checked here).
- **State**: every contract's state is `replay`ed from the bridge account's finalized `PHCR` records (the chain
  port), so a restarted enclave, or a new committee, rebuilds it from the chain; nothing is kept on disk.
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
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import nacl.exceptions
import nacl.public
import structlog

from bridge.confidential import (
    NULL_CONTRACT_ID,
    RECORD_MAGIC,
    ConfidentialCall,
    ConfidentialError,
    EthereumCall,
    ExecutedCall,
    confidential_call,
    decode_record,
    decode_signed_query,
    next_reply_counter,
)
from bridge.messages import BridgeMessage
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
    initial_state,
    replay,
    route,
    state_key_request,
)
from enclave_signer.contracts.policy import ConfidentialDecryptionPolicy
from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import FrostError
from enclave_signer.identity import InvalidIdentityKeyError, ed25519_to_x25519_public
from enclave_signer.tdec.dleq import DleqProof
from enclave_signer.tdec.threshold import DecryptionShare

__all__ = ["ConfidentialChain", "ConfidentialEngine", "NotReady", "decode_bundle", "encode_bundle"]

_log = structlog.get_logger(__name__)
_CIPHERTEXT_OFFSET = 4 + 1 + 32  # "PHCC" | version | contract id
_CACHE = 4096
_G = ED25519.group
_BUNDLE = b"PHCS"
_SHARE = 2 + 32 + 32 + 32  # member id | D | DLEQ c | DLEQ z


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

    async def records(self) -> Sequence[bytes]:
        """Every note (confidential-call record or outputs note) of the bridge account's successful finalized
        extrinsics, in chain order."""
        ...

    async def final_calls(self) -> Sequence[BridgeMessage]:
        """Every confidential-call message final on its source chain, as the source watcher decodes it; calls
        whose record is in the log `records()` last returned may be left out (they are done)."""
        ...


class NotReady(SigningRefusal):
    """The calls cannot run yet (earlier calls not final on Phala, keys missing); ask again later."""

    def __init__(self, reason: str) -> None:
        super().__init__("not_ready", reason)


class ConfidentialEngine:
    def __init__(self, node: CommitteeNode, registry: Registry, chain: ConfidentialChain) -> None:
        self.node = node
        self.registry = registry
        self.chain = chain
        self._keyring: StateKeyring | None = None
        self._states: dict[bytes, ContractState] = {}
        self._replayed = 0  # records applied into _states
        self._next_reply = 0  # the reply counter after the finalized log's last reply (bridge.confidential.OutputsNote)
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
        """t decryption shares requested by this enclave for itself, opened here (checked by the caller)."""
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

    async def _sync(self, keyring: StateKeyring) -> dict[bytes, ContractState]:
        every = [bytes(n) for n in await self.chain.records()]
        notes = [n for n in every if n[:4] == RECORD_MAGIC]
        if len(notes) != self._replayed or not self._states:
            by_log: dict[bytes, list[bytes]] = {}
            try:
                for data in notes:
                    by_log.setdefault(decode_record(data).contract_id, []).append(data)
                logs = {NULL_CONTRACT_ID, *(c.contract_id for c in self.registry), *by_log}
                self._states = {
                    cid: replay(cid, by_log.get(cid, []), keyring, registry=self.registry) for cid in sorted(logs)
                }
                self._next_reply = next_reply_counter(every)
            except (ConfidentialError, ReplayError) as exc:
                _log.error("confidential_log_broken", error=str(exc))
                raise SigningRefusal("log_broken", f"the confidential log does not replay: {exc}") from None
            self._replayed = len(notes)
            _log.info(
                "confidential_state_replayed", records=len(notes), logs=len(self._states), next_reply=self._next_reply
            )
        return self._states

    def state_of(self, contract_id: bytes) -> ContractState:
        return self._states.get(contract_id) or initial_state(contract_id, self.registry)

    # ---- calls ----------------------------------------------------------------------------------------------------

    async def run(self, messages: Sequence[BridgeMessage], *, forwarded: bytes | None = None) -> list[ExecutedCall]:
        """Execute `messages` (confidential calls) in source order against the finalized log; public results.
        `forwarded`: the leader's bundle of decryption shares sealed to this enclave (`forward`); each share's DLEQ
        proof is checked here before use, and a call whose forwarded shares do not hold is decrypted by a session
        of this enclave's own."""
        async with self._lock:
            if forwarded:
                try:
                    self._offered.update(decode_bundle(self.node.identity.open_sealed_box(forwarded)))
                except (nacl.exceptions.CryptoError, ValueError, FrostError) as exc:
                    _log.warning("forwarded_shares_unusable", error=type(exc).__name__)
            keyring = await self.keyring()
            states = dict(await self._sync(keyring))
            final = {m.id_hex: m for m in await self.chain.final_calls()}
            ordered = sorted(messages, key=lambda m: (m.source_domain, m.nonce))
            executed = set().union(*(s.executed for s in states.values()))
            batch = {m.id for m in ordered}
            # "executed" before "absent": the chain port may drop a call once its record is in the log it served
            for m in ordered:
                if m.id in executed:
                    raise SigningRefusal("executed", f"call {m.id_hex} is already in the log")
            for m in ordered:
                if final.get(m.id_hex) != m:
                    raise SigningRefusal("absent", f"message {m.id_hex} is not a final confidential call here")
            if ordered:
                last = ordered[-1]
                waiting = [
                    f for f in final.values()
                    if f.source_domain == last.source_domain and f.nonce < last.nonce
                    and f.id not in executed and f.id not in batch
                ]  # fmt: skip
                if waiting:
                    raise NotReady(f"{len(waiting)} earlier call(s) are not in the finalized log yet")
            calls = [confidential_call(m) for m in ordered]
            # The decryptions are independent committee sessions: run them together, execute in order after.
            decrypted_calls = await asyncio.gather(*(self._decrypt(c, keyring) for c in calls))
            # Reply counters continue the finalized log's, in source order: the same on every member.
            counter = self._next_reply
            out = []
            for m, call, decrypted in zip(ordered, calls, decrypted_calls, strict=True):
                log = route(call, self.registry)
                try:
                    result = execute(log, states[log], decrypted, keyring, registry=self.registry)
                except CallOrderError as exc:
                    raise NotReady(f"call {m.id_hex} is out of order: {exc}") from None
                states[log] = result.state
                out.append(
                    ExecutedCall(call.source_domain, call.source_nonce, result.record_bytes, result.outputs,
                                 result.digest, counter)
                )  # fmt: skip
                counter += sum(isinstance(o, EthereumCall) for o in result.outputs)
            return out

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
                except FrostError as exc:  # a share whose DLEQ proof fails names its member: nothing is recorded
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
            await self._sync(await self.keyring())
            return answer_query(self.state_of(contract_id), signed_query, registry=self.registry)
