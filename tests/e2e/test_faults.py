"""Exactly once whatever fails (issue 6), against the real bridge devnet: anvil (1 s blocks, 2 confirmations),
Chopsticks, Mosquitto, 5 enclave processes (3-of-5) and 5 relayer processes.

Each test injects one kind of fault while transfers are in flight in both directions, lets the bridge recover, and
judges on the chains only: every fresh recipient holds exactly its amount, Ethereum's nonce bitmap has the nonce,
and exactly one successful destination transaction carried each message (executeBatch on Ethereum, the bridge
account's batch extrinsic and its executed-ids record on Phala). docs/faults.md explains what happens inside.

The tests share one devnet (tests/e2e/conftest.py: `fault_bridge`); the `bridge` fixture makes it whole again
before each test, so one failure does not cascade.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pytest

from bridge.ids import message_id
from relayers.ethereum.contracts import event_logs
from tests.e2e.conftest import ETH_DOMAIN, ChainTap, FaultBridge, Transfer, wait_for
from tests.integration.test_store_outage import TcpProxy

pytestmark = pytest.mark.devnet

LEADER = 1  # the lowest-numbered member up leads; the `bridge` fixture starts every test with all five up


def _marks(bridge: FaultBridge) -> tuple[int, int]:
    """Where the chains are now: the judges scan for executions from here."""
    return bridge.eth_block(), bridge.phala_block()


def _finish(
    bridge: FaultBridge, transfers: list[Transfer], marks: tuple[int, int], settled_on: tuple[int, ...] = (LEADER,)
) -> None:
    """Wait until every transfer arrived and the given members' stores reconciled it, then judge on the chains."""
    bridge.wait_delivered(transfers)
    ids = [t.message_id for t in transfers]
    wait_for(f"members {settled_on} to record every message as executed", lambda: bridge.settled_on(ids, settled_on))
    bridge.assert_exactly_once(transfers, *marks)


def _eth_id(nonce: int) -> str:
    return "0x" + message_id(ETH_DOMAIN, nonce).hex()


def _deposit_nonce(bridge: FaultBridge, tx_hash: str) -> int:
    (log,) = event_logs(bridge.bridge, bridge.receipt(tx_hash), "Deposit")
    return int(log["nonce"])


def _resumed(bridge: FaultBridge, process: str, role: str, member: int = LEADER) -> dict[str, Any] | None:
    found = [e for e in bridge.logged(member, process, "index_resumed") if e["checkpoint"].endswith(f"/{role}")]
    return found[0] if found else None


def _to_ethereum(bridge: FaultBridge, amount_pha: int, members: tuple[int, ...] = (1, 2, 3, 4, 5)) -> Transfer:
    tx, recipient, amount = bridge.deposit_to_ethereum(bridge.phala_depositor(), amount_pha)
    return bridge.resolve(tx, recipient, amount, members)


# ---- 1. SIGKILL of the leader's relayer at each stage -----------------------------------------------------------


def test_relayer_killed_after_observe(bridge: FaultBridge) -> None:
    """Both directions observed and verified by the leader, not yet signed: SIGKILL. The restarted relayer reads
    them back from its store as `verified` and signs them; meanwhile its enclave still leads, so no one else does."""
    marks = _marks(bridge)
    # Line both messages up in front of the leader: freeze its relayer while they become final on their sources,
    # so that on thawing it observes both in one poll (they are then ~250 ms from being signed).
    bridge.freeze_relayer(LEADER)
    try:
        to_phala = bridge.deposit_to_phala(2, 11)
        to_eth = _to_ethereum(bridge, 21, members=(2, 3, 4, 5))
        ids = [to_phala.message_id, to_eth.message_id]
        wait_for("member 2 to verify both", lambda: bridge.store_states(2, ids) == dict.fromkeys(ids, "verified"))
    finally:
        bridge.thaw_relayer(LEADER)
    states = bridge.kill_relayer_when(
        LEADER, ids, lambda s: len(s) == 2 or any(v not in ("observed", "verified") for v in s.values())
    )
    assert set(states) == set(ids) and set(states.values()) <= {"observed", "verified"}, states
    bridge.start_relayer(LEADER)
    _finish(bridge, [to_phala, to_eth], marks)


@pytest.mark.parametrize("direction", ["to_phala", "to_ethereum"])
def test_relayer_killed_after_sign(bridge: FaultBridge, direction: str) -> None:
    """SIGKILL the leader's relayer the moment its store says `signed`: the committee's signature is made, no
    transaction sent. On restart `signed` goes back to `verified` and the batch is signed again (the signature was
    never used). The window is tens of milliseconds: a kill that lands later is retried with a new transfer."""
    marks = _marks(bridge)
    transfers: list[Transfer] = []
    landed: list[str] = []
    for attempt in range(3):
        if direction == "to_phala":
            t = bridge.deposit_to_phala(2, 12 + attempt)
            key = t.message_id
        else:
            tx, recipient, amount = bridge.deposit_to_ethereum(bridge.phala_depositor(), 22 + attempt)
            key = tx

        def signed_or_later(states: dict[str, str], key: str = key) -> bool:
            return states.get(key) not in (None, "observed", "verified")

        states = bridge.kill_relayer_when(LEADER, [key], signed_or_later)
        landed.append(states[key])
        bridge.start_relayer(LEADER)
        transfers.append(t if direction == "to_phala" else bridge.resolve(tx, recipient, amount))
        if states[key] == "signed":
            break
    assert "signed" in landed, f"no kill landed between sign and submit: {landed}"
    _finish(bridge, transfers, marks)


@pytest.mark.parametrize("direction", ["to_phala", "to_ethereum"])
def test_relayer_killed_between_send_and_record(bridge: FaultBridge, direction: str) -> None:
    """The harshest point: the destination has accepted the transaction, the leader's store still says `signed`.
    A ChainTap in front of the destination's RPC forwards the submission, waits for the chain's answer and SIGKILLs
    the relayer instead of handing it back. Block production is stopped, so the transaction waits in the pool; the
    restarted relayer does not know it sent anything, signs the batch again and sends a second transaction. The
    destination takes one: on Phala both carry the bridge account's same nonce, on Ethereum the second reverts on
    the nonce bitmap."""
    marks = _marks(bridge)
    to_ethereum = direction == "to_ethereum"
    upstream = bridge.net.ethereum.rpc_url if to_ethereum else bridge.net.phala.ws_url
    try:
        with ChainTap(upstream, lambda: bridge.sigkill_relayer_now(LEADER)) as tap:
            bridge.kill_relayer(LEADER)
            bridge.start_relayer(LEADER, **({"ethereum_rpc": tap.url} if to_ethereum else {"phala_ws": tap.url}))
            if to_ethereum:
                bridge.eth_rpc("evm_setIntervalMining", 0)
            else:
                bridge.phala_build_mode("Manual")
            tap.armed.set()
            t = _to_ethereum(bridge, 24, members=(2, 3, 4, 5)) if to_ethereum else bridge.deposit_to_phala(3, 14)
            wait_for("the tap to cut the leader off", tap.fired.is_set)
        bridge.kill_relayer(LEADER)  # reap it
        assert bridge.state(LEADER, t.message_id) == "signed"
        if to_ethereum:
            first = bridge.eth_pool_from(bridge.submitter(LEADER))
            assert len(first) == 1
        else:
            assert len(bridge.phala_pool()) == 1
        bridge.start_relayer(LEADER)
        # The restarted relayer signs again and sends again (its store said `signed`: nothing known to confirm).
        wait_for("the leader to send a second time", lambda: bridge.state(LEADER, t.message_id) == "submitted")
        if to_ethereum:
            assert len(bridge.eth_pool_from(bridge.submitter(LEADER))) == 2
        else:
            # Chopsticks pools both (a full node refuses the second outright). On a loaded machine there can be
            # more: a submit that timed out is sent again, or a member that took the lead meanwhile sends its own.
            # Every copy spends the bridge account's same nonce: one executes (assert_exactly_once below).
            assert len(bridge.phala_pool()) >= 2
    finally:
        bridge.eth_rpc("evm_setIntervalMining", 1)
        bridge.phala_build_mode("Instant")
        bridge.phala_new_block()
    _finish(bridge, [t], marks)
    if to_ethereum:
        second = str((bridge.message(LEADER, t.message_id) or {})["dest_tx"])
        assert second not in first
        assert sorted(bridge.receipt(h)["status"] for h in (*first, second)) == [0, 1]


def test_relayer_killed_after_submit(bridge: FaultBridge) -> None:
    """Both directions submitted, neither transaction in a block (block production stopped on both chains):
    SIGKILL. The restarted relayer re-confirms each `submitted` batch against its destination; once the chains
    move, both transactions execute, and nothing is signed or sent a second time."""
    marks = _marks(bridge)
    leader_pool: dict[str, str] = {}
    try:
        # Ethereum -> Phala: Phala builds no block, so the bridge account's extrinsic waits in the pool.
        bridge.phala_build_mode("Manual")
        to_phala = bridge.deposit_to_phala(3, 13)
        wait_for("the leader to submit to Phala", lambda: bridge.state(LEADER, to_phala.message_id) == "submitted")
        # Phala -> Ethereum: anvil stops mining; the deposit goes into a Phala block of its own (the pool, holding
        # the bridge's extrinsic, is left alone), and the leader's executeBatch waits in anvil's pool.
        bridge.eth_rpc("evm_setIntervalMining", 0)
        depositor = bridge.phala_depositor()
        ext, tx, recipient, amount = bridge.signed_deposit_to_ethereum(depositor, 23)
        bridge.phala_new_block([ext])
        to_eth = bridge.resolve(tx, recipient, amount)
        wait_for("the leader to submit to Ethereum", lambda: bridge.state(LEADER, to_eth.message_id) == "submitted")
        for t in (to_phala, to_eth):
            rec = bridge.message(LEADER, t.message_id)
            assert rec is not None and rec["state"] == "submitted" and rec["dest_tx"]
            leader_pool[t.message_id] = rec["dest_tx"]
        bridge.kill_relayer(LEADER)
        assert len(bridge.phala_pool()) == 1 and bridge.in_eth_pool(leader_pool[to_eth.message_id])
        bridge.start_relayer(LEADER)  # returns once it serves: it recovered both batches with the pools still full
        # Its Phala views came back from the checkpoints in its store (saved before the SIGKILL), not from the
        # bridge's first block.
        resumed = lambda: _resumed(bridge, "relayer", "executed-index/destination")  # noqa: E731
        wait_for("the relayer's executed index to resume", resumed)
        assert not bridge.logged(LEADER, "relayer", "index_checkpoint_fallback")
    finally:
        bridge.eth_rpc("evm_setIntervalMining", 1)
        bridge.phala_build_mode("Instant")
        bridge.phala_new_block()
    _finish(bridge, [to_phala, to_eth], marks)
    # What executed is what was sent before the kill: the restarted relayer signed and sent nothing new.
    assert bridge.receipt(leader_pool[to_eth.message_id])["status"] == 1
    assert bridge.phala.find_execution(to_phala.message_id, marks[1]) == leader_pool[to_phala.message_id]


# ---- 2. SIGKILL of enclaves: 3 of 5 keep signing; the killed ones unseal their shares and rejoin ---------------


def test_enclaves_killed_and_rejoin(bridge: FaultBridge) -> None:
    """Two non-leader enclaves SIGKILLed: the other three (exactly the threshold) sign both ways. They restart,
    unseal their shares and rejoin; then the leader's enclave is SIGKILLed in the middle of a signing session
    (with member 2's), so the rejoined 4 and 5 must sign under leader 3. Member 2 returns and leads (its share
    signs), then member 1, whose relayer finds its mid-flight message already executed."""
    marks = _marks(bridge)
    # Two non-leaders down: three members left, exactly the threshold.
    bridge.kill_enclave(4)
    bridge.kill_enclave(5)
    wait_for("members 4 and 5 seen down", lambda: (bridge.health(LEADER) or {}).get("members_up") == [1, 2, 3])
    three_left = [bridge.deposit_to_phala(2, 14), _to_ethereum(bridge, 24)]
    bridge.wait_delivered(three_left)
    # They come back: each unseals its identity and key shares from its sealed directory and is admitted again.
    bridge.start_enclave(4)
    bridge.start_enclave(5)
    wait_for("the committee whole again", bridge.members_whole)
    # Their Phala views (executed index, deposits) came back from their own sealed checkpoints, not from the bridge's
    # first block.
    for member in (4, 5):
        for view in ("executed-index/verifier", "deposits/verifier"):
            wait_for(f"enclave {member}'s {view} to resume", partial(_resumed, bridge, "enclave", view, member))
        assert not bridge.logged(member, "enclave", "index_checkpoint_fallback")
    # The leader's enclave dies in the middle of a signing session, and member 2's with it: 3, 4 and 5 must sign,
    # so the shares 4 and 5 unsealed are put to use.
    offset = bridge.enclave_log_size(LEADER)
    mid_flight = bridge.deposit_to_phala(2, 15)
    bridge.kill_enclave_when_logged(LEADER, "signing_started", offset)
    bridge.kill_enclave(2)
    wait_for("member 3 leading", lambda: bridge.leader_seen_by(3) == 3 and bridge.leader_seen_by(4) == 3)
    led_by_3 = [mid_flight, _to_ethereum(bridge, 25, members=(3, 4, 5))]
    bridge.wait_delivered(led_by_3)
    wait_for("member 3 to settle them", lambda: bridge.settled_on([t.message_id for t in led_by_3], (3,)))
    # Member 2 returns first: it leads (member 1 is still down), so its unsealed share signs.
    bridge.start_enclave(2)
    wait_for("member 2 leading", lambda: bridge.leader_seen_by(2) == 2 and bridge.leader_seen_by(3) == 2)
    led_by_2 = [bridge.deposit_to_phala(3, 16), _to_ethereum(bridge, 26)]
    bridge.wait_delivered(led_by_2)
    wait_for("member 2 to settle them", lambda: bridge.settled_on([t.message_id for t in led_by_2], (2,)))
    # Member 1 returns and leads again; its relayer finds the mid-flight message already executed.
    bridge.start_enclave(LEADER)
    wait_for("the committee whole again", bridge.members_whole)
    led_by_1 = [bridge.deposit_to_phala(3, 17), _to_ethereum(bridge, 27)]
    _finish(bridge, three_left + led_by_3 + led_by_2 + led_by_1, marks)


# ---- 3. Leader failover -------------------------------------------------------------------------------------------


def test_leader_failover(bridge: FaultBridge) -> None:
    """The leader's relayer and enclave die with its executeBatch still in anvil's pool and an Ethereum -> Phala
    deposit not yet final. Member 2 takes over: it sends its own executeBatch for the same nonce (the pending one is
    not on chain yet) and delivers the other deposit. Both executeBatch transactions are mined: one executes, the
    other reverts on the nonce bitmap. The old leader returns and settles what it had in flight; nothing twice."""
    marks = _marks(bridge)
    try:
        bridge.eth_rpc("evm_setIntervalMining", 0)
        # Ethereum -> Phala, mined by hand and left one block deep: not final for the relayers yet.
        recipient = os.urandom(32)
        deposit_tx = bridge.send_raw(bridge.raw_deposit_to_phala(2, 18, recipient))
        bridge.eth_rpc("evm_mine")
        nonce = _deposit_nonce(bridge, deposit_tx)
        to_phala = Transfer(_eth_id(nonce), ETH_DOMAIN, nonce, recipient, 18 * 10**11)
        # Phala -> Ethereum: the leader signs and sends executeBatch; anvil does not mine it.
        to_eth = _to_ethereum(bridge, 28)
        wait_for("the leader to submit", lambda: bridge.state(LEADER, to_eth.message_id) == "submitted")
        old_tx = str((bridge.message(LEADER, to_eth.message_id) or {})["dest_tx"])
        bridge.kill_relayer(LEADER)
        bridge.kill_enclave(LEADER)
        wait_for("member 2 leading", lambda: bridge.leader_seen_by(2) == 2)
        new_tx = wait_for(
            "member 2 to send its own executeBatch",
            lambda: (bridge.message(2, to_eth.message_id) or {}).get("dest_tx"),
        )
        assert new_tx != old_tx
        assert bridge.in_eth_pool(old_tx) and bridge.in_eth_pool(new_tx)
    finally:
        bridge.eth_rpc("evm_setIntervalMining", 1)
    bridge.wait_delivered([to_phala, to_eth])
    wait_for("member 2 to settle both", lambda: bridge.settled_on([to_phala.message_id, to_eth.message_id], (2,)))
    statuses = sorted(bridge.receipt(h)["status"] for h in (old_tx, new_tx))
    assert statuses == [0, 1]  # one executed; the other reverted on the bitmap and moved nothing
    # The old leader returns: it leads again and reconciles both messages with the chains.
    bridge.start_enclave(LEADER)
    bridge.start_relayer(LEADER)
    wait_for("the committee whole again", bridge.members_whole)
    _finish(bridge, [to_phala, to_eth], marks, settled_on=(LEADER, 2))


def test_dead_relayer_behind_a_live_enclave_hands_over_the_lead(bridge: FaultBridge) -> None:
    """The leader's relayer dies and stays dead; its enclave keeps beating. Member 2 must take the lead (its
    enclave stops saying member 1 relays) and deliver both ways, while enclave 1 stays up and in the committee.
    Before leadership followed relayers, the bridge stalled here: enclave 1 kept the lead and nobody relayed."""
    marks = _marks(bridge)
    bridge.kill_relayer(LEADER)
    to_phala = bridge.deposit_to_phala(2, 13)
    to_eth = _to_ethereum(bridge, 23, members=(2, 3, 4, 5))
    wait_for("member 2 leading", lambda: bridge.leader_seen_by(2) == 2 and bridge.leader_seen_by(3) == 2)
    health = bridge.health(2) or {}
    assert sorted(health.get("members_up", [])) == list(range(1, 6))  # enclave 1 is up: only its relayer is gone
    assert LEADER not in health.get("relaying", [LEADER])
    bridge.wait_delivered([to_phala, to_eth])
    wait_for("member 2 to settle both", lambda: bridge.settled_on([to_phala.message_id, to_eth.message_id], (2,)))
    # The relayer returns: member 1 leads again and reconciles what member 2 delivered.
    bridge.start_relayer(LEADER)
    wait_for("the committee whole again", bridge.members_whole)
    _finish(bridge, [to_phala, to_eth], marks, settled_on=(LEADER, 2))


# ---- 4. A reorg within the confirmation depth ------------------------------------------------------------------


def test_reorg_within_confirmation_depth(bridge: FaultBridge) -> None:
    """Two deposits mined in a block that a reorg of depth 2 (= the relayers' confirmations) replaces. Deposit A is
    included again later (same bridge nonce, so the same message id); deposit B never is, and a new deposit C takes
    its bridge nonce. A's and C's recipients are paid once; B's never."""
    marks = _marks(bridge)
    r_a, r_b, r_c = os.urandom(32), os.urandom(32), os.urandom(32)
    try:
        bridge.eth_rpc("evm_setIntervalMining", 0)
        raw_a, raw_b = bridge.raw_deposit_to_phala(3, 19, r_a), bridge.raw_deposit_to_phala(4, 29, r_b)
        tx_a, tx_b = bridge.send_raw(raw_a), bridge.send_raw(raw_b)
        bridge.eth_rpc("evm_mine")
        bridge.eth_rpc("evm_mine")  # one block on top: the deposits are 1 deep, the relayers wait for 2
        receipts = [bridge.receipt(h) for h in (tx_a, tx_b)]
        dropped_block = receipts[0]["blockNumber"]
        assert receipts[1]["blockNumber"] == dropped_block and bridge.eth_block() == dropped_block + 1
        nonce_a, nonce_b = _deposit_nonce(bridge, tx_a), _deposit_nonce(bridge, tx_b)
        id_a, id_b = _eth_id(nonce_a), _eth_id(nonce_b)
        old_hash = bridge.w3.eth.get_block(dropped_block)["hash"]
        bridge.eth_rpc("anvil_reorg", 2, [])
        assert bridge.w3.eth.get_block(dropped_block)["hash"] != old_hash
        assert bridge.eth_rpc("eth_getTransactionByHash", tx_b) is None
        for i in range(1, 6):
            assert bridge.store_states(i, [id_a, id_b]) == {}, f"member {i} saw a deposit of the dropped block"
        bridge.send_raw(raw_a)  # A again, in a later block
        bridge.eth_rpc("evm_mine")
        raw_c = bridge.raw_deposit_to_phala(4, 39, r_c)  # B's sender again: B is gone, C takes its place
        tx_c = bridge.send_raw(raw_c)
        bridge.eth_rpc("evm_mine")
        assert bridge.receipt(tx_a)["blockNumber"] > dropped_block
        assert _deposit_nonce(bridge, tx_a) == nonce_a and _deposit_nonce(bridge, tx_c) == nonce_b
    finally:
        bridge.eth_rpc("evm_setIntervalMining", 1)
    transfers = [
        Transfer(id_a, ETH_DOMAIN, nonce_a, r_a, 19 * 10**11),
        Transfer(id_b, ETH_DOMAIN, nonce_b, r_c, 39 * 10**11),
    ]
    _finish(bridge, transfers, marks)
    assert bridge.substrate.free_balance(r_b) == 0


# ---- 5. The broker restarted under load -------------------------------------------------------------------------


def test_broker_restarted_under_load(bridge: FaultBridge) -> None:
    """Deposits stream in both directions (three Ethereum accounts, one Phala account) while Mosquitto is stopped
    and started again on the same port, nothing reconfigured. It stays down until every enclave has lost sight of
    the others, so each of the five relayers leads at once; when the broker is back they see each other again."""
    marks = _marks(bridge)
    to_phala: list[Transfer] = []
    to_eth_pending: list[tuple[str, bytes, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def stream(deposit: Callable[[int], None]) -> None:
        try:
            k = 0
            while not stop.is_set():
                deposit(k)
                k += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def eth_stream(user: int) -> Callable[[int], None]:
        return lambda k: to_phala.append(bridge.deposit_to_phala(user, 10 + k % 7))

    depositor = bridge.phala_depositor()
    threads = [threading.Thread(target=stream, args=(eth_stream(u),)) for u in (2, 3, 4)]
    threads.append(
        threading.Thread(
            target=stream, args=(lambda k: to_eth_pending.append(bridge.deposit_to_ethereum(depositor, 10 + k % 5)),)
        )
    )
    for t in threads:
        t.start()
    try:
        wait_for("deposits flowing", lambda: len(to_phala) >= 3 and len(to_eth_pending) >= 2)

        def everyone_alone() -> bool:
            views = [bridge.health(i) or {} for i in range(1, 6)]
            return all(v.get("members_up") == [i] and v.get("leader") == i for i, v in enumerate(views, 1))

        bridge.restart_broker(lambda: wait_for("every member to lead alone", everyone_alone, timeout=30))
        wait_for("the committee whole again", bridge.members_whole)
        later = len(to_phala) + 1, len(to_eth_pending) + 1
        wait_for("deposits after the restart", lambda: len(to_phala) >= later[0] and len(to_eth_pending) >= later[1])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    to_eth = [bridge.resolve(*p) for p in to_eth_pending]
    _finish(bridge, to_phala + to_eth, marks)


# The store's database goes away under a running relayer (docs/faults.md, "The store's database restarted under a
# running relayer"; unit and integration tests: tests/unit/relayer/test_store_outage.py,
# tests/integration/test_store_outage.py). The leader's relayer is moved onto a fresh PostgreSQL database behind a TCP
# proxy, the proxy is closed as a deposit becomes final and opened again seconds later: the relayer keeps running
# (same process, its stages paused, `/health` saying so) and the transfer is delivered exactly once. Last in the
# module: it runs member 1 on another store for a while (and puts it back on its own).


def test_a_relayer_whose_postgres_goes_away_mid_run_carries_on_and_delivers_exactly_once(
    bridge: FaultBridge, postgres_url: str
) -> None:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.open()
    url = f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{proxy.port}{parts.path}"
    marks = bridge.eth_block(), bridge.phala_block()
    bridge.kill_relayer(LEADER)
    try:
        bridge.start_relayer(LEADER, store_url=url)  # a fresh store: it re-reads the chains from their start blocks

        def leading_on_postgres() -> bool:
            h = bridge.health(LEADER)
            return (
                h is not None
                and h.get("status") == "ok"
                and h.get("leader") == LEADER
                and h.get("store") == {"up": True}
            )

        wait_for("member 1 leading on its PostgreSQL store", leading_on_postgres, timeout=120)
        relayer = bridge.member(LEADER).relayer
        assert relayer is not None
        pid = relayer.pid

        transfer = bridge.deposit_to_phala(2, 13)
        proxy.close()  # before the relayer sees the deposit final (2 confirmations): every stage meets the outage
        wait_for("member 1 to see its store gone", lambda: (bridge.health(LEADER) or {}).get("store") != {"up": True})
        time.sleep(5)
        h = bridge.health(LEADER)
        assert h is not None and h["status"] == "degraded" and h["store"]["up"] is False and h["messages"] is None, h
        assert relayer.alive() and relayer.pid == pid
        proxy.open()

        bridge.wait_delivered([transfer])
        wait_for(
            "member 1 to record it executed",
            lambda: (bridge.message(LEADER, transfer.message_id) or {}).get("state") == "executed",
        )
        bridge.assert_exactly_once([transfer], *marks)
        assert relayer.alive() and relayer.pid == pid  # the same process all along
        assert bridge.logged(LEADER, "relayer", "store_unavailable")
        (recovered,) = bridge.logged(LEADER, "relayer", "store_recovered")
        assert recovered["down_for"] >= 5
        assert not bridge.logged(LEADER, "relayer", "stage_crashed")
        wait_for("member 1 healthy again", leading_on_postgres)
    finally:
        bridge.kill_relayer(LEADER)
        proxy.close()
        bridge.start_relayer(LEADER)  # back on its own SQLite store for the module's next tests
