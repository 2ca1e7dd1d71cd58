"""A relayer on PostgreSQL whose database goes away mid-run, on the real bridge devnet (anvil, Chopsticks, Mosquitto,
5 enclaves 3-of-5, 5 relayers): the leader's relayer is moved onto a fresh PostgreSQL database behind a TCP proxy,
the proxy is closed as a deposit becomes final and opened again seconds later. The relayer keeps running (same
process, its stages paused, `/health` saying so), and the transfer is delivered exactly once, judged on the chains.
The unit and integration tests of the same: tests/unit/relayer/test_store_outage.py,
tests/integration/test_store_outage.py (docs/faults.md, "The store's database restarted under a running relayer")."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import FaultBridge, wait_for
from tests.integration.test_store_outage import TcpProxy

pytestmark = pytest.mark.devnet

LEADER = 1


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
