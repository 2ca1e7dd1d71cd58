"""A raise of the Phala deposit minimum scheduled on a running bridge (docs/operations.md, "Changing the minimum"),
against the real bridge devnet: anvil, Chopsticks, Mosquitto, 5 enclave processes (3-of-5) and 5 relayer processes
(tests/e2e/conftest.py: `fault_bridge`, this module's own).

The operator adds a change from a Phala block a few ahead to every member's node.toml and restarts the members
cleanly (all at once here, to keep the test short; the order does not matter, docs/operations.md). Their enclaves'
deposit snapshots, made under the old config, are taken back (the change lies above their positions: no re-scan).
Before the switch 1.5 PHA is carried to Ethereum; from it, 1.5 PHA is held by every relayer and 2 PHA is carried
with the next nonce, signed by the committee (every enclave's own count agrees), exactly once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from bridge.client import PhalaClient
from bridge.minimums import BelowMinimum
from bridge.network import DepositMinimumSide, MinimumChangeSide
from tests.e2e.conftest import ALL_MEMBERS, ETH_DOMAIN, UNIT_PHA, FaultBridge, wait_for

pytestmark = pytest.mark.devnet

RAISED = 2 * UNIT_PHA  # from 1 PHA (the devnet's minimum)


def _stop(bridge: FaultBridge, index: int) -> None:
    """Stop a member cleanly (SIGTERM: the enclave saves its snapshots), as an operator restarting it."""
    supervisor = bridge.devnet.supervisor
    assert supervisor is not None
    m = bridge.member(index)
    for proc in (m.relayer, m.enclave):
        assert proc is not None
        supervisor.stop(proc, grace=15)


def test_a_scheduled_raise_applies_from_its_block_on_every_member(bridge: FaultBridge) -> None:
    marks = bridge.eth_block(), bridge.phala_block()
    depositor = bridge.phala_depositor()
    tx, recipient, amount = bridge.deposit_to_ethereum(depositor, 15)  # 1.5 PHA: above today's 1 PHA
    before = bridge.resolve(tx, recipient, amount)
    bridge.wait_delivered([before])

    # The operator schedules 2 PHA from a block a few ahead (Chopsticks builds a block per extrinsic only) on every
    # member and restarts them; the members come back under the new schedule.
    switch = bridge.phala_block() + 4
    change = f"\n[[chains.phala.min_deposit.ethereum.changes]]\nfrom_block = {switch}\ntransfer = {RAISED}\n"
    for i in ALL_MEMBERS:
        config = bridge.member(i).config
        config.write_text(config.read_text() + change)
    with ThreadPoolExecutor(len(ALL_MEMBERS)) as pool:  # each stops cleanly (its snapshots saved), all at once
        list(pool.map(lambda i: _stop(bridge, i), ALL_MEMBERS))
    for i in ALL_MEMBERS:
        bridge.start_enclave(i)
        bridge.start_relayer(i)
    wait_for("the committee whole again", bridge.members_whole, timeout=90)
    for i in ALL_MEMBERS:  # the change lies above every snapshot's position: taken, no re-scan

        def resumed(i: int = i) -> list[object]:
            found = bridge.logged(i, "enclave", "index_resumed")
            return [e for e in found if str(e["checkpoint"]).endswith("deposits/verifier")]

        wait_for(f"enclave {i}'s deposit view to resume", resumed)
        assert not bridge.logged(i, "enclave", "index_checkpoint_fallback")
    assert bridge.phala_block() < switch

    # The network file gets the same change: the client refuses 1.5 PHA already (the raise is within its margin).
    side = bridge.net.phala.model_copy(
        update={
            "min_deposit": {
                "ethereum": DepositMinimumSide(
                    transfer=UNIT_PHA, changes=[MinimumChangeSide(from_block=switch, transfer=RAISED)]
                )
            }
        }
    )
    client = PhalaClient(side, bridge.rid, timeout=30)
    try:
        with pytest.raises(BelowMinimum, match=rf"at least 2 PHA .*rises to this from Phala block {switch}"):
            client.deposit(depositor, ETH_DOMAIN, os.urandom(20), 15 * UNIT_PHA // 10)
        while bridge.phala_block() < switch - 1:
            bridge.phala_new_block()
        # From the switch on, 1.5 PHA sent anyway (by hand) is held; 2 PHA is carried.
        call = bridge._phala_deposit_call(os.urandom(20), 15 * UNIT_PHA // 10)
        held = bridge.substrate.submit(call, depositor).raise_for_failure()
        assert held.block_number >= switch
        recipient = os.urandom(20)
        carried = client.deposit(depositor, ETH_DOMAIN, recipient, RAISED)
    finally:
        client.close()
    after = bridge.resolve(carried.extrinsic_hash, recipient, RAISED * 10**6)
    assert after.nonce == before.nonce + 1  # the held deposit took no number
    for i in ALL_MEMBERS:  # every relayer numbers alike and holds the 1.5 PHA, by the minimum at its block
        record = wait_for(f"relayer {i} to observe", partial(bridge.by_source_tx, carried.extrinsic_hash, (i,)))
        assert int(record["nonce"]) == after.nonce

        def rejected(i: int = i) -> list[str]:
            found = bridge.logged(i, "relayer", "deposit_rejected")
            return [str(e["reason"]) for e in found if e.get("extrinsic_hash") == held.extrinsic_hash]

        (reason,) = wait_for(f"relayer {i} to hold the 1.5 PHA", rejected)
        assert reason.startswith("below_minimum: a transfer to domain 1 must carry at least 2 PHA")
    bridge.wait_delivered([before, after])
    bridge.assert_exactly_once([before, after], *marks)
