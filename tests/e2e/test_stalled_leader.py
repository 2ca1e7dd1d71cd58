"""A leader that proposes NOTHING to Ethereum loses the lead, on the real bridge (anvil + Chopsticks + Mosquitto +
5 enclaves 3-of-5 + 5 relayers; docs/decisions.md, "A leader that proposes nothing").

Member 1 leads (lowest up). Its relayer runs a copy of `relayers/` whose submit loop never takes a message for
Ethereum (one condition added to the loop that takes verified messages, by text replacement in the copy:
`Devnet(relayer_builds=...)`, a test-only constructor argument); no stalling behaviour exists in the code that
ships. It still polls its enclave, so member 1 stays `relaying` and, without the `stalled` rule, would lead forever.
Its enclave is the honest build.

A Phala -> Ethereum deposit is made. Every honest member's enclave sees it, in its own view, final, valid and
unexecuted while the leader proposes nothing in that lane: a `stalled` strike per stall grace period (10 s here,
checked every second), three of them and it distrusts member 1; with t members distrusting it, member 2 leads, its
relayer (honest) proposes the deposit, and it is delivered, exactly once. The chains are the judges; the enclaves'
logs show the evidence.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from tests.e2e.conftest import ALL_MEMBERS, FaultBridge, patched_relayer_build, running_fault_bridge, wait_for

pytestmark = pytest.mark.devnet

STALLED = 1
HONEST = (2, 3, 4, 5)
STALL_GRACE_MS = 10_000  # the schema's minimum: three strikes take ~30 s
CHECK_INTERVAL_MS = 1_000


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultBridge]:
    build = tmp_path_factory.mktemp("stalled-build")
    patched_relayer_build(build, "dest.domain == 1")  # proposes nothing for Ethereum
    devnet = Devnet(
        DevnetSection(),
        work_dir=tmp_path_factory.mktemp("stalled"),
        committee=True,
        relayer_builds={STALLED: build},
        committee_settings={"stall_grace_ms": STALL_GRACE_MS, "omission_check_interval_ms": CHECK_INTERVAL_MS},
    )
    yield from running_fault_bridge(devnet)


def test_a_leader_whose_relayer_proposes_nothing_loses_the_lead_and_the_deposit_is_delivered(
    stalled: FaultBridge,
) -> None:
    bridge = stalled
    marks = bridge.eth_block(), bridge.phala_block()
    wait_for("member 1 leading", lambda: all(bridge.leader_seen_by(i) == STALLED for i in ALL_MEMBERS), timeout=60)
    tx, recipient, amount = bridge.deposit_to_ethereum(bridge.phala_depositor(), 31)
    deposit = bridge.resolve(tx, recipient, amount, ALL_MEMBERS)
    # Member 1's relayer has it verified and never batches it; member 1 still leads, its relayer attached.
    wait_for("member 1 to verify it", lambda: bridge.state(STALLED, deposit.message_id) == "verified")
    health = bridge.health(STALLED) or {}
    assert health.get("leader") == STALLED and STALLED in health.get("relaying", [])
    assert not bridge.delivered(deposit)
    wait_for(
        "the honest members to move the lead to member 2",
        lambda: all(bridge.leader_seen_by(i) == 2 for i in HONEST),
        timeout=STALL_GRACE_MS / 1000 * 8,
    )
    assert bridge.state(STALLED, deposit.message_id) == "verified"  # still never proposed by member 1
    health = bridge.health(2) or {}
    assert sorted(health.get("members_up", [])) == list(ALL_MEMBERS)  # member 1 is up, only not leading
    bridge.wait_delivered([deposit])
    wait_for("member 2 to settle it", lambda: bridge.settled_on([deposit.message_id], (2,)))
    bridge.assert_exactly_once([deposit], *marks)
    # The evidence: each honest enclave logged the lane stalled with this deposit waiting, struck member 1 for it
    # (`stalled`, never `skipped`: member 1 passed nothing over), and t of them (here every honest one) distrusted it.
    prefix = deposit.message_id[:18]
    distrusting = 0
    for i in HONEST:
        stalls = bridge.logged(i, "enclave", "leader_stalled_lane")
        assert stalls, f"member {i} logged no stalled lane"
        assert {(e["leader"], e["message_id"], e["lane"]) for e in stalls} == {(STALLED, prefix, "2->1/message")}
        assert all(e["age_s"] >= STALL_GRACE_MS / 1000 for e in stalls)
        strikes = [e for e in bridge.logged(i, "enclave", "leader_strike") if e["leader"] == STALLED]
        assert strikes and {e["code"] for e in strikes} == {"stalled"}
        assert not bridge.logged(i, "enclave", "leader_skipped_message")
        distrusting += any(e["leader"] == STALLED for e in bridge.logged(i, "enclave", "member_distrusted"))
        # Nobody struck the next leader, who proposed the deposit within its own grace.
        assert not [e for e in bridge.logged(i, "enclave", "leader_strike") if e["leader"] == 2]
    assert distrusting >= 3
