"""A leader that censors by never proposing one message loses the lead, on the real bridge (anvil + Chopsticks +
Mosquitto + 5 enclaves 3-of-5 + 5 relayers; docs/decisions.md, "A leader that passes a message over").

Member 1 leads (lowest up). Its relayer runs a copy of `relayers/` whose pipeline never batches one chosen Phala ->
Ethereum deposit (by its amount): one condition added to the loop that takes verified messages, by text replacement
in the copy (`Devnet(relayer_builds=...)`, a test-only constructor argument); no rogue behaviour exists in the code
that ships. Its enclave is the honest build: the censorship is in what the relayer never asks it to sign.

The censored deposit, then a later one, are made on Phala. Member 1 delivers the later one and never proposes the
first. Every honest member's enclave sees, in its own view, the earlier deposit final, valid and unexecuted while the
leader proposed a later one of the same lane: a `skipped` strike per grace period (10 s here), three of them and it
distrusts member 1; with t members distrusting it, member 2 leads, its relayer (honest) proposes the deposit, and it
is delivered, exactly once. The chains are the judges; the enclaves' logs show the evidence.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from tests.e2e.conftest import (
    ALL_MEMBERS,
    UNIT_ETH,
    FaultBridge,
    Transfer,
    patched_relayer_build,
    running_fault_bridge,
    wait_for,
)

pytestmark = pytest.mark.devnet

CENSOR = 1
OLDEST_WAITING = "phala_bridge_oldest_waiting_seconds"
SKIPPED = "phala_bridge_committee_skipped_messages_total"
HONEST = (2, 3, 4, 5)
GRACE_MS = 10_000  # the schema's minimum: three strikes take ~30-45 s
CENSORED_PHA = 37  # in 1/10 PHA: the deposit the copy never batches (its amount on Ethereum, 18 decimals, below)
CENSORED_WEI = CENSORED_PHA * UNIT_ETH // 10


@pytest.fixture(scope="module")
def censor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultBridge]:
    build = tmp_path_factory.mktemp("censoring-build")
    patched_relayer_build(build, f"rec.message.amount == {CENSORED_WEI}")  # never proposes that deposit
    devnet = Devnet(
        DevnetSection(),
        work_dir=tmp_path_factory.mktemp("censor"),
        committee=True,
        relayer_builds={CENSOR: build},
        committee_settings={"omission_grace_ms": GRACE_MS},
    )
    yield from running_fault_bridge(devnet)


def _to_ethereum(bridge: FaultBridge, amount_pha: int) -> Transfer:
    tx, recipient, amount = bridge.deposit_to_ethereum(bridge.phala_depositor(), amount_pha)
    return bridge.resolve(tx, recipient, amount, ALL_MEMBERS)


def test_a_leader_whose_relayer_never_proposes_a_message_loses_the_lead_and_it_is_delivered(
    censor: FaultBridge,
) -> None:
    bridge = censor
    marks = bridge.eth_block(), bridge.phala_block()
    wait_for("member 1 leading", lambda: all(bridge.leader_seen_by(i) == CENSOR for i in ALL_MEMBERS), timeout=60)
    censored = _to_ethereum(bridge, CENSORED_PHA)
    later = _to_ethereum(bridge, 23)
    assert later.nonce > censored.nonce  # the same lane (Phala deposits to Ethereum), later
    bridge.wait_delivered([later])
    # Member 1 delivered the later deposit and holds the censored one back: verified in its store, never batched.
    assert not bridge.delivered(censored)
    assert bridge.state(CENSOR, censored.message_id) == "verified"
    # What an operator sees meanwhile on every relayer, followers included: the lane to Ethereum has a message
    # waiting, and its age grows (the gauge a stalled lane to Phala, which no omission rule covers, is seen by).
    waiting = {i: bridge.metric(i, OLDEST_WAITING, destination="ethereum") for i in ALL_MEMBERS}
    assert all(age is not None and age > 0 for age in waiting.values()), waiting
    wait_for(
        "the held message's age to grow on a follower",
        lambda: (bridge.metric(3, OLDEST_WAITING, destination="ethereum") or 0.0) > (waiting[3] or 0.0) + 1,
        timeout=30,
    )
    wait_for(
        "the honest members to move the lead to member 2",
        lambda: all(bridge.leader_seen_by(i) == 2 for i in HONEST),
        timeout=GRACE_MS / 1000 * 8,
    )
    health = bridge.health(2) or {}
    assert sorted(health.get("members_up", [])) == list(ALL_MEMBERS)  # member 1 is up, only not leading
    bridge.wait_delivered([censored])
    wait_for("member 2 to settle it", lambda: bridge.settled_on([censored.message_id], (2,)))
    bridge.assert_exactly_once([censored, later], *marks)
    # Delivered: nothing waits any more, on every relayer (followers mark it executed when they reconcile).
    wait_for(
        "every relayer to see nothing waiting for Ethereum",
        lambda: all(bridge.metric(i, OLDEST_WAITING, destination="ethereum") == 0.0 for i in ALL_MEMBERS),
        timeout=60,
    )
    # The evidence: each honest enclave logged the censored message passed over, struck member 1 for it (`skipped`),
    # and t of them (here every honest one) distrusted it.
    prefix = censored.message_id[:18]
    distrusting = 0
    for i in HONEST:
        skips = bridge.logged(i, "enclave", "leader_skipped_message")
        assert skips, f"member {i} logged no skipped message"
        assert {(e["leader"], e["message_id"], e["lane"]) for e in skips} == {(CENSOR, prefix, "2->1/message")}
        assert all(e["age_s"] >= GRACE_MS / 1000 for e in skips)
        strikes = [e for e in bridge.logged(i, "enclave", "leader_strike") if e["leader"] == CENSOR]
        assert strikes and {e["code"] for e in strikes} == {"skipped"}
        distrusting += any(e["leader"] == CENSOR for e in bridge.logged(i, "enclave", "member_distrusted"))
        # Nobody struck the next leader, who proposed in order.
        assert not [e for e in bridge.logged(i, "enclave", "leader_strike") if e["leader"] == 2]
    assert distrusting >= 3
    # The same evidence where an operator's Prometheus reads it: each honest member's relayer serves its enclave's
    # strike counter, and the members skipped for the lead (config/alerts.yml: PhalaBridgeLeaderStruck and
    # PhalaBridgeLeaderDistrusted). The distrust lasts distrust_ttl_ms (5 min), far longer than this test.
    for i in HONEST:
        assert (bridge.metric(i, SKIPPED, destination="1", lane="message") or 0.0) >= 1, i
        assert bridge.metric(i, "phala_bridge_committee_distrusted_members") == 1.0, i
        assert bridge.metric(i, "phala_bridge_enclave_up") == 1.0, i
    # The later deposit was never passed over by anyone: no evidence about it anywhere.
    assert all(later.message_id[:18] != e["message_id"] for e in bridge.logged(2, "enclave", "leader_skipped_message"))
