"""`phala-bridge status` finds a message a `store rebind --force` moved aside, through a relayer's real status server
over a real SQLite or PostgreSQL store; and says so, in one line, when the relayer's store fails under it."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from bridge.cli.loading import load_network
from bridge.cli.main import app
from bridge.cli.transfer_cmd import live_message
from bridge.lifecycle import MessageState
from relayers.daemon.http import StatusServer
from relayers.daemon.node import status_routes
from relayers.store import SqlStore
from relayers.store.identity import ChainIdentity, bind, rebind
from tests.integration.conftest import transfer_message


def _ident(bridge: str) -> list[ChainIdentity]:
    return [ChainIdentity("ethereum", {"kind": "ethereum", "bridge_address": bridge}, ("ethereum",))]


@pytest.fixture
def network(store: SqlStore, tmp_path: Path) -> Iterator[Path]:
    """A relayer's status server on `store`, in its own thread and loop, and a network file naming it."""
    loop = asyncio.new_event_loop()
    server = StatusServer(CollectorRegistry(), lambda: (True, {}), "127.0.0.1", 0, status_routes(store))
    port = loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    path = tmp_path / "network.json"
    path.write_text(
        json.dumps(
            {
                "name": "test",
                "ethereum": {
                    "rpc_url": "http://127.0.0.1:1",
                    "chain_id": 31337,
                    "bridge": "0x" + "11" * 20,
                    "pha_token": "0x" + "12" * 20,
                },
                "phala": {"ws_url": "ws://127.0.0.1:1", "para_id": 2035, "bridge_account": "0x" + "ab" * 32},
                "pha_resource_id": "0x" + "33" * 32,
                "relayer_status_urls": [f"http://127.0.0.1:{port}"],
            }
        )
    )
    try:
        yield path
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


ARCHIVED = re.compile(
    r"archived \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by a store rebind; its state when moved aside was (\w+)"
)


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps its lines at the terminal's width


def test_status_finds_a_message_moved_aside_by_a_rebind(store: SqlStore, network: Path) -> None:
    bind(store, _ident("0x" + "11" * 20), store_name="s")
    store.add_observed([transfer_message(1), transfer_message(2)])
    store.transition([transfer_message(1).id_hex], MessageState.VERIFIED)
    rebind(store, _ident("0x" + "22" * 20), force=True, store_name="s")
    store.add_observed(
        [transfer_message(2)]
    )  # the new deployment's message 2: same id, live; the live one is what status shows
    runner = CliRunner()

    by_id = runner.invoke(app, ["status", transfer_message(1).id_hex, "--network", str(network)])
    assert by_id.exit_code == 0, by_id.output
    assert [m.group(1) for m in ARCHIVED.finditer(_flat(by_id.output))] == ["verified"], by_id.output
    assert f"message {transfer_message(1).id_hex}" in by_id.output and "nonce 1" in by_id.output

    live = runner.invoke(app, ["status", transfer_message(2).id_hex, "--network", str(network)])
    assert live.exit_code == 0 and "state observed" in live.output and "archived" not in live.output, live.output

    by_tx = runner.invoke(app, ["status", "0x" + "01" * 32, "--network", str(network)])  # message 1's source tx
    assert by_tx.exit_code == 0, by_tx.output
    assert [m.group(1) for m in ARCHIVED.finditer(_flat(by_tx.output))] == ["verified"], by_tx.output

    unknown = runner.invoke(app, ["status", "0x" + "77" * 32, "--network", str(network)])
    assert unknown.exit_code == 1 and "no bridge message known" in unknown.output, unknown.output

    # Following a message just sent (`transfer`, `call`) takes live records only: after a rebind the new deployment
    # numbers from 1 again, and an archived copy with the same id is another deployment's message.
    net = load_network(network)
    assert live_message(net, transfer_message(1).id_hex) is None
    assert (live_message(net, transfer_message(2).id_hex) or {}).get("state") == "observed"


def test_status_says_when_the_relayers_store_fails(store: SqlStore, network: Path) -> None:
    store.close()  # the relayer's database connection gone under its status server
    result = CliRunner().invoke(app, ["status", transfer_message(1).id_hex, "--network", str(network)])
    assert result.exit_code == 1, result.output
    # The relayer runs in this process: its own log line (`status_store_failed`) is in the output too.
    lines = [line for line in result.output.splitlines() if line.strip() and "status_store_failed" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: no relayer could answer"), result.output
    assert "the relayer's store failed" in lines[0], result.output
    assert "Traceback" not in result.output
