"""The operator's requeue (failed -> verified), bodies replaced after a deep source reorg, and messages set aside
when the re-scan does not see them again (in-memory fakes for the chains; the store on SQLite:
tests/integration/test_store_requeue_reorg.py runs the store parts on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from bridge.errors import TransitionError
from bridge.lifecycle import SET_ASIDE_PREFIX, MessageState, check_requeue
from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition, SigningRefused, SigningRequest, WatchResult
from relayers.store import SqlStore, UnknownMessage, open_store
from tests.unit.relayer.test_pipeline import FakeDestination, _msg, _pipeline, _run_until


def _moved(m: BridgeMessage, block: int, tx: int) -> BridgeMessage:
    """`m` re-included after a reorg: the same nonce (hence id), another block and transaction."""
    src = m.source.model_copy(update={"block_number": block, "block_hash": b"\x99" * 32, "tx_hash": bytes([tx]) * 32})
    return m.model_copy(update={"source": src})


def _other_deposit(m: BridgeMessage, block: int) -> BridgeMessage:
    """Another deposit that took `m`'s nonce on the new fork (same id, another body)."""
    moved = _moved(m, block, 0xC0)
    return moved.model_copy(update={"recipient": b"\x55" * 32, "source_amount": 3 * 10**18, "amount": 3 * 10**12})


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    return open_store(f"sqlite:///{tmp_path}/s.db")


# ---- the requeue transition -------------------------------------------------------------------------------------


def test_only_failed_can_be_requeued() -> None:
    check_requeue(MessageState.FAILED)
    for state in MessageState:
        if state is not MessageState.FAILED:
            with pytest.raises(TransitionError, match=f"this one is {state}"):
                check_requeue(state)


def test_requeue_moves_failed_to_verified_and_records_who_and_why(store: SqlStore) -> None:
    m = _msg(1)
    store.add_observed([m])
    store.transition([m.id_hex], MessageState.FAILED, reason="refused by policy: token disabled")
    before = store.requeue(m.id_hex.upper().replace("0X", "0x"), reason="token enabled again", by="alice")
    assert before.state is MessageState.FAILED
    rec = store.get(m.id_hex)
    assert rec is not None and rec.state is MessageState.VERIFIED
    assert rec.reason is not None and rec.reason.startswith("requeued by alice at ")
    assert "token enabled again" in rec.reason and "refused by policy: token disabled" in rec.reason
    # The stages' own transitions never revive a failed message: only the operator's requeue does.
    store.transition([m.id_hex], MessageState.FAILED, reason="again")
    assert store.transition([m.id_hex], MessageState.VERIFIED) == []


@pytest.mark.parametrize("state", [MessageState.OBSERVED, MessageState.VERIFIED, MessageState.EXECUTED])
def test_requeue_refuses_other_states_and_unknown_ids(store: SqlStore, state: MessageState) -> None:
    m = _msg(1)
    store.add_observed([m])
    if state is not MessageState.OBSERVED:
        store.transition([m.id_hex], state)
    with pytest.raises(TransitionError):
        store.requeue(m.id_hex, reason="x", by="alice")
    rec = store.get(m.id_hex)
    assert rec is not None and rec.state is state and rec.reason is None
    with pytest.raises(UnknownMessage):
        store.requeue("0x" + "ab" * 32, reason="x", by="alice")


# ---- bodies replaced, messages set aside (store) -----------------------------------------------------------------


def test_a_body_seen_again_differently_replaces_the_old_one_before_signing(store: SqlStore) -> None:
    a, b, c = _msg(1), _msg(2), _msg(3)
    store.add_observed([a, b, c])
    store.transition([a.id_hex, b.id_hex], MessageState.VERIFIED)
    store.transition([c.id_hex], MessageState.VERIFIED)
    store.transition([c.id_hex], MessageState.SIGNED, batch_id="0xb")
    a2, b2, c2 = _moved(a, 40, 0xA0), _other_deposit(b, 41), _moved(c, 42, 0xA2)
    done = store.record_observed([a2, b2, c2, a2])
    assert done.new == 0
    assert [(r.id, r.old_block, r.new_block) for r in done.replaced] == [(a.id_hex, 1, 40), (b.id_hex, 2, 41)]
    assert done.conflicting == (c.id_hex,)  # signed: kept as signed, the destination judges it
    for new in (a2, b2):
        rec = store.get(new.id_hex)
        assert rec is not None and rec.message == new and rec.state is MessageState.OBSERVED
    assert store.by_source_tx("0x" + "c0" * 32)[0].message == b2
    rec = store.get(c.id_hex)
    assert rec is not None and rec.message == c and rec.state is MessageState.SIGNED
    # The same body again changes nothing.
    again = store.record_observed([a2, b2])
    assert again.new == 0 and again.replaced == () and again.conflicting == ()


def test_messages_not_seen_again_after_a_reorg_are_set_aside_until_observed_again(store: SqlStore) -> None:
    early, a, b, d = _msg(1), _msg(10), _msg(11), _msg(12)
    store.add_observed([early, a, b, d])
    store.transition([early.id_hex, a.id_hex, b.id_hex], MessageState.VERIFIED)
    other_source = _msg(13).model_copy(update={"source_domain": 2, "dest_domain": 1})
    store.add_observed([other_source])
    moved = store.set_aside_after_reorg(1, 10, keep=[a.id_hex])
    assert sorted(moved) == sorted([b.id_hex, d.id_hex])  # not `early` (before the reorg), not `a` (seen again)
    for m in (b, d):
        rec = store.get(m.id_hex)
        assert rec is not None and rec.state is MessageState.OBSERVED
        assert rec.reason is not None and rec.reason.startswith(SET_ASIDE_PREFIX)
    assert {r.id_hex for r in store.to_verify()} == {other_source.id_hex}
    assert store.set_aside_after_reorg(1, 10, keep=[a.id_hex]) == []  # already aside
    done = store.record_observed([b])  # observed again, same body: back to the verify stage
    assert done.restored == (b.id_hex,)
    rec = store.get(b.id_hex)
    assert rec is not None and rec.state is MessageState.OBSERVED and rec.reason is None
    assert {r.id_hex for r in store.to_verify()} == {other_source.id_hex, b.id_hex}


# ---- the pipeline ------------------------------------------------------------------------------------------------


class ScriptedWatcher:
    """Hands over one scripted poll result per call, then nothing new."""

    name = "ethereum"
    domain = 1

    def __init__(self, polls: list[WatchResult]) -> None:
        self.polls = polls

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        if self.polls:
            return self.polls.pop(0)
        pos = after or ChainPosition(0, "0x0")
        return WatchResult([], pos, head=pos.block_number)


class ChainSigner:
    """Signs only what the source chain holds: like the members' checks, refuses naming the first message whose body
    differs from the chain's (`mismatch`), or that the chain does not hold at all."""

    def __init__(self, chain: dict[str, BridgeMessage]) -> None:
        self.chain = chain
        self.calls = 0
        self.refused: list[str] = []

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        self.calls += 1
        for m in messages:
            if self.chain.get(m.id_hex) != m:
                self.refused.append(m.id_hex)
                raise SigningRefused(
                    f"2 of 3 members refused or were dropped; 2 needed [member 1: mismatch: message {m.id_hex} "
                    "field source.block_hash: differs from the chain; member 2: mismatch: message "
                    f"{m.id_hex} field source.block_hash: differs from the chain]"
                )
        return b"sig:" + request.payload


def test_a_reorg_deeper_than_the_confirmations_does_not_stall_the_lane(tmp_path: Path) -> None:
    """Deposits A, B, D in block 20 are stored `verified`; a reorg drops block 20; A is re-included in block 23, a new
    deposit C takes B's nonce, D is never re-included. The re-scan hands over A' and C: both replace the old bodies,
    D is set aside, and A', C and a later deposit E are signed and executed; D is never signed."""
    a, b, d = (_moved(_msg(n), 20, n) for n in (1, 2, 3))
    a2, c = _moved(a, 23, 0xA1), _other_deposit(b, 23)
    e = _moved(_msg(4), 30, 4)
    first = WatchResult([a, b, d], ChainPosition(20, "0x20"), head=40)
    rescan = WatchResult([a2, c], ChainPosition(25, "0x25b"), head=45, reorg_from=19)
    later = WatchResult([e], ChainPosition(30, "0x30"), head=50)
    watcher = ScriptedWatcher([first])
    dest = FakeDestination()
    signer = ChainSigner({m.id_hex: m for m in (a2, c, e)})
    p = _pipeline(tmp_path, watcher, dest, signer)

    async def scenario() -> None:
        await p.observe_once(watcher)
        await p.verify_once()
        assert p.store.counts() == {"verified": 3}
        watcher.polls = [rescan, later]
        await _run_until(p, lambda: p.store.counts().get("executed") == 3)

    asyncio.run(scenario())
    assert sorted(dest.executed) == sorted([a2.id_hex, c.id_hex, e.id_hex])
    for m in (a2, c):
        rec = p.store.get(m.id_hex)
        assert rec is not None and rec.message == m  # executed with the body the chain holds
    rec = p.store.get(d.id_hex)
    assert rec is not None and rec.state is MessageState.OBSERVED and rec.reason is not None
    assert rec.reason.startswith(SET_ASIDE_PREFIX) and d.id_hex not in signer.refused
    assert signer.refused == []  # nothing stale was ever put before the committee
