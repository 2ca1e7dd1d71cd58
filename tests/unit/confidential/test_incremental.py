"""Incremental replay and sealed state snapshots of the confidential engine.

- `ConfidentialLog.extend` over a random note log (the shipped auction: open, bids, closes with their outputs
  notes, grants, revokes, malformed inputs, replayed calls, calls of unknown contracts) cut into random chunks is
  exactly the full replay (per-contract `replay`, `next_reply_counter`, the running hash).
- A record out of order, tampered or of another key is a ReplayError and nothing is applied.
- The state snapshot codec round-trips and refuses corrupt, truncated, other-version and other-registry bytes.
- The engine (a stub node, the real runtime, sealed files): per-call syncs apply only the new notes; a log that is not
  an extension is replayed in full (logged); a restart resumes from its snapshot, replays only the notes after it
  and answers the same; a tampered, other-key, other-account or mismatching snapshot falls back to a full replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.client.confidential import decrypt_answer, prepare_query
from bridge.confidential import (
    NULL_CONTRACT_ID,
    CallStatus,
    ConfidentialCall,
    ExecutedCall,
    NoteTail,
    Querier,
    QuerierKind,
    decode_record,
    encode_record,
    next_reply_counter,
    note_log_hash,
    phala_batch_parts,
)
from bridge.messages import BridgeMessage
from bridge.snapshots import SnapshotError
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.contracts import DecryptedCall, Registry, ReplayError, SealedBidAuction, StateKeyring, execute
from enclave_signer.contracts.auction_codec import (
    BidOf,
    Close,
    Grant,
    Open,
    PlaceBid,
    Revoke,
    decode_bid_answer,
    encode_input,
    encode_query,
)
from enclave_signer.contracts.calls import RefusedCall
from enclave_signer.contracts.log import ConfidentialLog
from enclave_signer.contracts.runtime import initial_state, replay
from enclave_signer.contracts.state_snapshot import (
    OtherRegistry,
    StateSnapshot,
    decode_state_snapshot,
    encode_state_snapshot,
    registry_id,
)
from enclave_signer.process.confidential import ConfidentialEngine, NotReady, StateCheckpoints
from enclave_signer.sealing import Sealer

KEYRING = StateKeyring(b"\x42" * 32)
AUCTION = SealedBidAuction(b"\x5e" * 20)
REGISTRY = Registry([AUCTION])
OTHER = b"\x77" * 32  # a contract id no build runs: its log holds only refusals
ALICE_KEY = "0x" + "11" * 32
ALICE = bytes.fromhex(Account.from_key(ALICE_KEY).address[2:])
BOB_KEY = "0x" + "22" * 32
BOB = bytes.fromhex(Account.from_key(BOB_KEY).address[2:])
CALLERS = [ALICE, BOB, *(bytes([0xB0 + i]) * 20 for i in range(2))]
ACCOUNT = b"\xac" * 32

steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "bid", "bid", "bid", "close", "grant", "revoke", "junk", "other", "again"]),
        st.integers(0, 3),  # caller
        st.integers(0, 2),  # which auction
        st.integers(1, 20),  # amount
        st.integers(0, 3),  # blocks to advance
    ),
    min_size=1,
    max_size=30,
)


def build_log(plan: list[tuple[str, int, int, int, int]]) -> list[bytes]:
    """The bridge account's notes for `plan`, as the engine would have produced them (records, outputs notes)."""
    cid = AUCTION.contract_id
    states = {cid: initial_state(cid, REGISTRY), OTHER: initial_state(OTHER, REGISTRY)}
    notes: list[bytes] = []
    opened: list[int] = []
    block, counter, last = 100, 0, None
    querier = Querier(QuerierKind.ETHEREUM, b"\x99" * 20)
    for nonce, (kind, who, which, amount, advance) in enumerate([("open", 0, 0, 0, 0), *plan], start=1):
        block += advance
        target = opened[which % len(opened)] if opened else 1
        if kind == "again" and last is not None:  # the same call id again: a `replayed` refusal
            log_id, decrypted = last
        else:
            data = {
                "open": encode_input(Open(block + 4)),
                "bid": encode_input(PlaceBid(target, amount)),
                "close": encode_input(Close(target)),
                "grant": encode_input(Grant(target, querier)),
                "revoke": encode_input(Revoke(target, querier)),
            }.get(kind, b"\xff" * 72)
            call = ConfidentialCall(1, nonce, CALLERS[who], block, b"")
            log_id = OTHER if kind == "other" else cid
            decrypted = (
                RefusedCall(call, log_id, "unknown_contract", "no such contract")
                if kind == "other"
                else DecryptedCall(call, cid, data)
            )
        result = execute(log_id, states[log_id], decrypted, KEYRING, registry=REGISTRY)
        states[log_id] = result.state
        last = (log_id, decrypted)
        if kind == "open" and result.status is CallStatus.EXECUTED:
            opened.append(int.from_bytes(decrypted.call.call_id, "big"))
        c = decrypted.call
        executed = ExecutedCall(c.source_domain, c.source_nonce, result.record_bytes, result.outputs, b"", counter)
        counter += len(result.outputs)
        notes.extend(phala_batch_parts([executed])[0])
    return notes


def full(notes: list[bytes]) -> ConfidentialLog:
    return ConfidentialLog.empty(REGISTRY).extend(notes, KEYRING, registry=REGISTRY)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(0, 200), max_size=6))
def test_incremental_replay_is_the_full_replay(plan, cuts) -> None:  # type: ignore[no-untyped-def]
    notes = build_log(plan)
    whole = full(notes)
    # the reference: every contract's log replayed from scratch (the engine's former way)
    by_log: dict[bytes, list[bytes]] = {}
    for n in notes:
        if n[:4] == b"PHCR":
            by_log.setdefault(decode_record(n).contract_id, []).append(n)
    for log_id, records in by_log.items():
        assert whole.states[log_id] == replay(log_id, records, KEYRING, registry=REGISTRY)
    assert whole.next_reply == next_reply_counter(notes) and whole.log_hash == note_log_hash(notes)
    assert (whole.notes, whole.records) == (len(notes), sum(len(r) for r in by_log.values()))
    # the same log applied in chunks (a sync per call, per batch, after a snapshot...)
    log = ConfidentialLog.empty(REGISTRY)
    at = 0
    for cut in sorted({min(c, len(notes)) for c in cuts} | {len(notes)}):
        log = log.extend(notes[at:cut], KEYRING, registry=REGISTRY)
        at = cut
    assert log == whole
    # and through a snapshot taken at any point
    k = (cuts[0] if cuts else 0) % (len(notes) + 1)
    snap = StateSnapshot(ACCOUNT, KEYRING.key_id(), registry_id(REGISTRY), full(notes[:k]))
    loaded = decode_state_snapshot(encode_state_snapshot(snap, REGISTRY), REGISTRY)
    assert loaded.log == full(notes[:k])
    assert loaded.log.extend(notes[k:], KEYRING, registry=REGISTRY) == whole


def auction_log() -> list[bytes]:
    plan = [("bid", 1, 0, 5, 0), ("bid", 2, 0, 9, 0), ("grant", 1, 0, 0, 0), ("close", 0, 0, 0, 5)]
    return build_log(plan)


def test_a_chunk_that_does_not_follow_applies_nothing() -> None:
    notes = auction_log()
    base = full(notes[:2])
    with pytest.raises(ReplayError, match="does not follow"):
        base.extend(notes[3:], KEYRING, registry=REGISTRY)  # a record skipped
    rec = decode_record(notes[2])
    tampered = encode_record(rec.__class__(**{**rec.__dict__, "events": (b"\x00" * len(rec.events[0]),)}))
    with pytest.raises(ReplayError, match="does not authenticate"):
        base.extend([tampered, *notes[3:]], KEYRING, registry=REGISTRY)
    with pytest.raises(ReplayError, match="does not authenticate"):
        base.extend(notes[2:], StateKeyring(b"\x43" * 32), registry=REGISTRY)  # another state key
    with pytest.raises(ReplayError, match="note 2"):
        base.extend([b"PHCR\x01 not a record"], KEYRING, registry=REGISTRY)
    assert base == full(notes[:2])  # immutable: nothing was applied
    assert base.extend(notes[2:], KEYRING, registry=REGISTRY) == full(notes)


# ---- the snapshot codec ---------------------------------------------------------------------------------------------


def snapshot_bytes(notes: list[bytes] | None = None) -> bytes:
    log = full(auction_log() if notes is None else notes)
    return encode_state_snapshot(StateSnapshot(ACCOUNT, KEYRING.key_id(), registry_id(REGISTRY), log), REGISTRY)


def test_the_snapshot_round_trips_and_refuses_anything_else() -> None:
    data = snapshot_bytes()
    snap = decode_state_snapshot(data, REGISTRY)
    assert snap.log == full(auction_log()) and snap.bridge_account == ACCOUNT and snap.key_id == KEYRING.key_id()
    assert repr(snap).startswith("StateSnapshot(notes=")  # counts only: the states are plaintext
    for bad, match in [
        (data[:-1], "checksum"),
        (data[:40], "checksum|truncated"),
        (data[:10] + bytes([data[10] ^ 1]) + data[11:], "checksum"),
        (b"PBXI" + data[4:], "wrong magic"),
        (data[:4] + b"\x02" + data[5:], "unsupported snapshot version 2"),
        (b"", "wrong magic"),
    ]:
        with pytest.raises(SnapshotError, match=match):
            decode_state_snapshot(bad, REGISTRY)
    other = Registry([SealedBidAuction(b"\x5f" * 20)])
    with pytest.raises(OtherRegistry):
        decode_state_snapshot(data, other)
    with pytest.raises(OtherRegistry):
        decode_state_snapshot(data, Registry())


def test_the_auction_state_codec_round_trips_and_is_strict() -> None:
    state = full(auction_log()).states[AUCTION.contract_id].value
    assert state.grants and state.auctions
    raw = AUCTION.encode_state(state)
    assert AUCTION.decode_state(raw) == state
    for bad in (raw[:-1], raw + b"\x00", b"\x00\x00\x00\x05"):
        with pytest.raises(ValueError):
            AUCTION.decode_state(bad)


# ---- the engine -----------------------------------------------------------------------------------------------------


class Chain:
    def __init__(self, notes: list[bytes]) -> None:
        self.notes = list(notes)
        self.served = 0  # notes handed out (what a whole-log read per sync would make quadratic)

    async def notes_after(self, position: int) -> NoteTail:
        if position > len(self.notes):
            return NoteTail(position, None, ())
        self.served += len(self.notes) - position
        return NoteTail(position, note_log_hash(self.notes[:position]), tuple(self.notes[position:]))

    async def final_calls(self) -> list[BridgeMessage]:
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def engine(
    chain: Chain,
    store: SealedCheckpoints | None = None,
    *,
    every: int = 1_000,
    wait_ms: int = 300_000,
    clock: Clock | None = None,
) -> ConfidentialEngine:
    node = SimpleNamespace(record=SimpleNamespace(group_keys=SimpleNamespace(ed25519=ACCOUNT)))
    cp = None if store is None else StateCheckpoints(store, "phala/confidential-state", every)
    e = ConfidentialEngine(
        node,  # type: ignore[arg-type]
        REGISTRY,
        chain,
        checkpoints=cp,
        state_wait_ms=wait_ms,
        clock=clock or Clock(),
    )
    e._keyring = KEYRING  # the state key's threshold recovery is tested with a committee elsewhere
    return e


def bid_of(e: ConfidentialEngine, auction_id: int, bidder_key: str = ALICE_KEY) -> int | None:
    bidder = bytes.fromhex(Account.from_key(bidder_key).address[2:])
    q = prepare_query(AUCTION.contract_id, encode_query(BidOf(auction_id, bidder)), ethereum_key=bidder_key)
    answer = decrypt_answer(q, asyncio.run(e.query(q.signed)))
    return decode_bid_answer(answer.body)


def first_auction(notes: list[bytes]) -> int:
    return int.from_bytes(decode_record(notes[0]).call_id, "big")


def test_syncs_apply_only_new_notes_and_a_log_that_is_no_extension_is_replayed_in_full() -> None:
    notes = auction_log()
    chain = Chain(notes[:1])
    e = engine(chain)
    for n in range(1, len(notes) + 1):
        chain.notes = notes[:n]
        asyncio.run(e._sync(KEYRING))
    assert e.stats == {"full_replays": 1, "records_applied": sum(n[:4] == b"PHCR" for n in notes)}
    assert chain.served == len(notes)  # each note handed out once, not the whole log per sync
    assert e._log == full(notes)
    # a lagging node (restarted alone): a shorter log that may be a prefix is waited for (see the tests below)
    chain.notes = notes[:2]
    with pytest.raises(NotReady):
        asyncio.run(e._sync(KEYRING))
    assert e._log == full(notes) and e.stats["full_replays"] == 1
    # a shorter log that cannot be a prefix (its 2nd record is in a log the states hold none of), then another log
    # of the same length (another bridge account): replayed in full at once
    shorter = build_log([("other", 1, 0, 0, 0)])
    chain.notes = shorter
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))
    assert [x["reason"] for x in logs if x["event"] == "confidential_log_diverged"] == ["shorter_log"]
    assert e._log == full(shorter) and e.stats["full_replays"] == 2
    other = build_log([("bid", 2, 0, 3, 0)])
    chain.notes = other
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))
    assert [x["reason"] for x in logs if x["event"] == "confidential_log_diverged"] == ["other_prefix"]
    assert e._log == full(other)


def test_a_restart_resumes_from_its_sealed_snapshot_and_answers_the_same(tmp_path: Path) -> None:
    notes = auction_log()
    store = SealedCheckpoints(Sealer(b"\x07" * 32), tmp_path / "checkpoints")
    chain = Chain(notes[:3])
    first = engine(chain, store, every=2)

    async def run_then_stop() -> bool:
        await first._sync(KEYRING)  # 3 records >= 2: a snapshot is saved in the background
        return await first.save_snapshot()  # a clean stop

    assert asyncio.run(run_then_stop())
    path = store.path_of("phala/confidential-state/" + ACCOUNT.hex()[:16])
    assert path.exists() and b"PBCS" not in path.read_bytes()  # sealed, never plain
    chain.notes = notes
    restarted = engine(chain, store)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(restarted._sync(KEYRING))
    (resumed,) = [x for x in logs if x["event"] == "confidential_state_resumed"]
    assert (resumed["notes"], resumed["records"], resumed["replayed"]) == (3, 3, len(notes) - 4)
    assert restarted.stats["full_replays"] == 0 and restarted._log == full(notes)
    auction = first_auction(notes)
    assert bid_of(restarted, auction) is None  # Alice (the seller) did not bid
    assert bid_of(restarted, auction, BOB_KEY) == 5 == bid_of(engine(Chain(notes)), auction, BOB_KEY)


@pytest.mark.parametrize("case", ["tampered", "other_key", "other_account", "log_mismatch", "truncated"])
def test_a_snapshot_that_does_not_fit_falls_back_to_a_full_replay(tmp_path: Path, case: str) -> None:
    notes = auction_log()
    store = SealedCheckpoints(Sealer(b"\x07" * 32), tmp_path / "checkpoints")
    name = "phala/confidential-state/" + ACCOUNT.hex()[:16]
    account, key, log = ACCOUNT, KEYRING.key_id(), full(notes[:3])
    if case == "other_key":
        key = StateKeyring(b"\x43" * 32).key_id()
    if case == "other_account":
        account = b"\xad" * 32
    if case == "log_mismatch":
        log = full(build_log([("bid", 3, 0, 2, 0), ("bid", 2, 0, 4, 0)]))
    data = encode_state_snapshot(StateSnapshot(account, key, registry_id(REGISTRY), log), REGISTRY)
    store.save_checkpoint(name, data[:-5] if case == "truncated" else data, 0)
    if case == "tampered":
        raw = bytearray(store.path_of(name).read_bytes())
        raw[-3] ^= 1
        store.path_of(name).write_bytes(bytes(raw))
    e = engine(Chain(notes), store)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))
    reasons = [x["reason"] for x in logs if x["event"] == "confidential_state_snapshot_fallback"]
    expected = {"tampered": "unreadable", "truncated": "malformed"}.get(case, case)
    assert reasons == [expected]
    assert not [x for x in logs if x["event"] == "confidential_state_resumed"]
    assert e._log == full(notes) and e.stats["full_replays"] == 1


def test_the_null_log_and_unknown_contracts_are_in_the_snapshot() -> None:
    notes = build_log([("other", 1, 0, 0, 0), ("junk", 2, 0, 0, 0)])
    snap = decode_state_snapshot(snapshot_bytes(notes), REGISTRY)
    assert snap.log.states[OTHER].position == 1 and snap.log.states[OTHER].value is None
    assert NULL_CONTRACT_ID in snap.log.states and snap.log == full(notes)


def test_another_bridge_account_resets_the_states() -> None:
    notes = auction_log()
    chain = Chain(notes)
    e = engine(chain)
    asyncio.run(e._sync(KEYRING))
    assert e.node.record is not None
    e.node.record.group_keys.ed25519 = b"\xad" * 32  # a new DKG: another account
    chain.notes = notes[:2]  # ...whose log is another (here: shorter) one
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))
    assert [x["reason"] for x in logs if x["event"] == "confidential_state_reset"] == ["bridge_account_or_key_changed"]
    assert e._log == full(notes[:2]) and e.stats["full_replays"] == 2


# ---- a restart whose Phala node lags: wait for it, within a bound ---------------------------------------------------

NAME = "phala/confidential-state/" + ACCOUNT.hex()[:16]


def saved_snapshot(tmp_path: Path, notes: list[bytes]) -> SealedCheckpoints:
    store = SealedCheckpoints(Sealer(b"\x07" * 32), tmp_path / "checkpoints")
    snap = StateSnapshot(ACCOUNT, KEYRING.key_id(), registry_id(REGISTRY), full(notes))
    store.save_checkpoint(NAME, encode_state_snapshot(snap, REGISTRY), 0)
    return store


def events(logs: Sequence[Mapping[str, Any]], name: str) -> list[object]:
    return [x.get("reason") for x in logs if x["event"] == name]


def test_a_node_behind_the_snapshot_is_waited_for_and_the_snapshot_resumed(tmp_path: Path) -> None:
    notes = auction_log()
    chain, clock = Chain(notes[:2]), Clock()
    e = engine(chain, saved_snapshot(tmp_path, notes), wait_ms=60_000, clock=clock)
    auction = first_auction(notes)
    with structlog.testing.capture_logs() as logs:
        for n, advance in [(2, 0), (2, 30), (4, 29.9)]:  # behind, then less behind, still within 60 s in all
            chain.notes, clock.now = notes[:n], clock.now + advance
            with pytest.raises(NotReady, match="waiting for it to catch up"):
                asyncio.run(e._sync(KEYRING))
            with pytest.raises(NotReady):  # no answer from a state ahead of the chain view either
                bid_of(e, auction, BOB_KEY)
    assert events(logs, "confidential_state_waiting") == ["chain_behind"]  # once, not per call
    assert not events(logs, "confidential_state_snapshot_fallback") and not events(logs, "confidential_log_diverged")
    assert e._log is e._unverified and e._log == full(notes)  # the snapshot is kept
    chain.served = 0
    chain.notes = notes  # the node reached (and passed: nothing more here) the snapshot's position
    with structlog.testing.capture_logs() as logs:
        assert bid_of(e, auction, BOB_KEY) == 5
    assert events(logs, "confidential_state_resumed") == [None]
    assert not events(logs, "confidential_state_snapshot_fallback")
    assert e.stats["full_replays"] == 0 and e._log == full(notes) and e._behind is None


def test_a_node_behind_past_the_bound_gets_a_full_replay_of_its_log(tmp_path: Path) -> None:
    notes = auction_log()
    chain, clock = Chain(notes[:3]), Clock()
    e = engine(chain, saved_snapshot(tmp_path, notes), wait_ms=60_000, clock=clock)
    with pytest.raises(NotReady):
        asyncio.run(e._sync(KEYRING))
    clock.now += 60.0
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))
    assert events(logs, "confidential_state_snapshot_fallback") == ["chain_behind"]
    assert e._log == full(notes[:3]) and e.stats["full_replays"] == 1 and e._unverified is None
    chain.notes = notes  # from then on the chain's log is followed as usual
    asyncio.run(e._sync(KEYRING))
    assert e._log == full(notes) and e.stats["full_replays"] == 1


@pytest.mark.parametrize("case", ["shorter", "same_length", "longer"])
def test_a_log_with_another_prefix_is_a_divergence_even_when_shorter(tmp_path: Path, case: str) -> None:
    notes = auction_log()  # 6 notes: the snapshot's
    other = {
        # shorter: its 2nd record is in a log the snapshot holds none of (cannot be a prefix of it)
        "shorter": build_log([("other", 1, 0, 0, 0)]),
        "same_length": build_log(
            [("bid", 2, 0, 3, 0), ("bid", 1, 0, 4, 0), ("grant", 1, 0, 0, 0), ("junk", 0, 0, 0, 0), ("bid", 3, 0, 6, 0)]
        ),
        "longer": build_log([("bid", 2, 0, 3, 0)] * 3 + [("close", 0, 0, 0, 5), ("bid", 1, 0, 1, 0)]),
    }[case]
    sign = {"shorter": -1, "same_length": 0, "longer": 1}[case]
    assert (len(other) > len(notes)) - (len(other) < len(notes)) == sign
    e = engine(Chain(other), saved_snapshot(tmp_path, notes), wait_ms=60_000)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(e._sync(KEYRING))  # no NotReady: at once
    assert events(logs, "confidential_state_snapshot_fallback") == ["log_mismatch"]
    assert not events(logs, "confidential_state_waiting")
    assert e._log == full(other) and e.stats["full_replays"] == 1


def test_a_call_seen_before_a_snapshot_is_a_replay_after_it() -> None:
    notes = auction_log()
    cid = AUCTION.contract_id
    loaded = decode_state_snapshot(snapshot_bytes(notes), REGISTRY).log
    state = loaded.states[cid]
    bid = decode_record(notes[1])  # Bob's bid: nonce 2
    call = ConfidentialCall(bid.source_domain, bid.source_nonce, BOB, 100, b"")
    again = execute(cid, state, DecryptedCall(call, cid, b"\xff"), KEYRING, registry=REGISTRY)
    assert (again.status, again.code) == (CallStatus.REFUSED, "replayed")
    assert again.state.executed == state.executed and again.state.position == state.position + 1
    # and the log with that record replays the same through the snapshot and from scratch
    log = [*notes, again.record_bytes]
    assert loaded.extend([again.record_bytes], KEYRING, registry=REGISTRY) == full(log)
    # a replay refusal of an id the snapshot never saw does not replay
    fresh = ConfidentialCall(1, 99, BOB, 100, b"")
    unseen = execute(cid, state, DecryptedCall(fresh, cid, b"\xff"), KEYRING, registry=REGISTRY)
    forged = encode_record(unseen.record.__class__(**{**unseen.record.__dict__, "code": "replayed"}))
    with pytest.raises(ReplayError, match="never seen"):
        loaded.extend([forged], KEYRING, registry=REGISTRY)
