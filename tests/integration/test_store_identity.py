"""The store's deployment record against real SQLite and a real PostgreSQL server: recorded on first use, checked
after, a mismatch refused without a write, a store made before the record adopted once, a rebind that moves the old
deployment's messages aside (refused while some are pending unless forced), and the `store` commands."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli import store_cmd
from bridge.cli.main import app
from bridge.cli.store_identity import minimums_successor
from bridge.lifecycle import MessageState
from relayers.store import Cursor, PendingMessages, SqlStore, open_store
from relayers.store.base import SCHEMA
from relayers.store.identity import ChainIdentity, IdentityMismatch, bind, rebind
from tests.integration.conftest import transfer_message

ROOT = Path(__file__).resolve().parents[2]
OLD_BRIDGE = "0x" + "11" * 20
NEW_BRIDGE = "0x" + "22" * 20


def ident(bridge: str = OLD_BRIDGE, start: int = 100) -> list[ChainIdentity]:
    return [
        ChainIdentity(
            "ethereum",
            {"kind": "ethereum", "chain_id": "31337", "bridge_address": bridge, "start_block": str(start)},
            ("ethereum",),
        ),
        ChainIdentity("phala", {"kind": "substrate", "bridge_account": "0x" + "ab" * 32}, ("phala", "phala-replies")),
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    s = open_store(url)
    yield s
    s.close()


def _snapshot(s: SqlStore) -> tuple[object, ...]:
    """Everything a start must not touch."""
    return (s.deployment_rows(), s.cursors(), s.counts(), s.checkpoint_list(), s.archived())


def test_a_new_store_records_the_identity_and_then_checks_it(store: SqlStore) -> None:
    first = bind(store, ident(), store_name="s")
    assert first.recorded == ("ethereum", "phala") and first.adopted == ()
    rows = store.deployment_rows()
    assert {(c, f, v, o) for c, f, v, o, _ in rows} >= {
        ("ethereum", "bridge_address", OLD_BRIDGE, "recorded"),
        ("phala", "bridge_account", "0x" + "ab" * 32, "recorded"),
    }
    again = bind(store, ident(), store_name="s")
    assert again.recorded == () and again.adopted == () and store.deployment_rows() == rows


def test_a_mismatch_names_each_field_and_changes_nothing(store: SqlStore) -> None:
    bind(store, ident(), store_name="s")
    store.set_cursor(Cursor("ethereum", 500, "0xaa"))
    store.add_observed([transfer_message(1)])
    before = _snapshot(store)
    with pytest.raises(IdentityMismatch) as err:
        bind(store, ident(bridge=NEW_BRIDGE, start=200), store_name="sqlite:///x.db", config="n.toml")
    assert [(d.field, d.recorded, d.current) for d in err.value.differences] == [
        ("bridge_address", OLD_BRIDGE, NEW_BRIDGE),
        ("start_block", "100", "200"),
    ]
    assert "store rebind --config n.toml" in str(err.value)
    assert _snapshot(store) == before


def _phala_minimums(schedule: str) -> list[ChainIdentity]:
    eth, phala = ident()
    fields = {**phala.fields, "min_deposit": schedule}
    return [
        eth,
        ChainIdentity(
            "phala", fields, phala.cursors, successors={"min_deposit": minimums_successor(0)}, counted_by="phala"
        ),
    ]


def test_a_minimum_change_above_the_deposit_cursor_updates_the_record_and_one_below_is_refused(store: SqlStore) -> None:
    flat = "1:1000/1000"
    bind(store, _phala_minimums(flat), store_name="s")
    store.set_cursor(Cursor("phala", 150, "0xaa", 3))  # deposits counted up to block 150
    store.add_observed([transfer_message(1)])
    # A change scheduled in the past of the counted deposits: they were judged by other values. Nothing written.
    before = _snapshot(store)
    with pytest.raises(IdentityMismatch) as err:
        bind(store, _phala_minimums(flat + "@150:2000/2000"), store_name="s")
    assert [(d.field, d.recorded, d.current) for d in err.value.differences] == [
        ("min_deposit", flat, flat + "@150:2000/2000")
    ]
    assert _snapshot(store) == before
    # A change from a block after the cursor: every counted deposit judged alike. Recorded as an update, and the
    # cursor, messages and checkpoints stay.
    ahead = flat + "@151:2000/2000"
    bind(store, _phala_minimums(ahead), store_name="s")
    rows = {(c, f): (v, o) for c, f, v, o, _ in store.deployment_rows()}
    assert rows[("phala", "min_deposit")] == (ahead, "updated")
    assert store.cursor("phala") == Cursor("phala", 150, "0xaa", 3) and store.counts() == before[2]
    # the next start compares against the new record: the same schedule matches, the old one is now a difference
    assert bind(store, _phala_minimums(ahead), store_name="s").recorded == ()
    store.set_cursor(Cursor("phala", 200, "0xbb", 5))
    with pytest.raises(IdentityMismatch):
        bind(store, _phala_minimums(flat), store_name="s")


def test_a_store_made_before_the_record_adopts_the_config_once(url: str) -> None:
    # A store as the code before this record made it: every table but the two new ones, with a cursor and a message.
    old_schema = [s for s in SCHEMA if "deployment (" not in s and "archived_messages (" not in s]
    assert len(old_schema) == len(SCHEMA) - 2
    plain = open_store(url)
    for table in ("deployment", "archived_messages"):
        plain._exec(f"DROP TABLE {table}")
    plain._conn.commit()
    plain.set_cursor(Cursor("ethereum", 700, "0xbb"))
    plain.add_observed([transfer_message(1)])
    plain.close()

    upgraded = open_store(url)  # the migration: CREATE TABLE IF NOT EXISTS on open
    try:
        assert upgraded.deployment() == {} and upgraded.cursor("ethereum") == Cursor("ethereum", 700, "0xbb")
        result = bind(upgraded, ident(), store_name="s")
        assert result.adopted == ("ethereum",) and result.recorded == ("phala",)  # phala had no cursor: new
        origins = {(c, o) for c, _, _, o, _ in upgraded.deployment_rows()}
        assert origins == {("ethereum", "adopted"), ("phala", "recorded")}
        # adopted once: from now on it is checked like any record
        with pytest.raises(IdentityMismatch):
            bind(upgraded, ident(bridge=NEW_BRIDGE), store_name="s")
        assert upgraded.counts() == {"observed": 1}
    finally:
        upgraded.close()


def test_a_rebind_refuses_while_messages_are_pending(store: SqlStore) -> None:
    bind(store, ident(), store_name="s")
    store.add_observed([transfer_message(1), transfer_message(2), transfer_message(3)])
    store.transition([transfer_message(1).id_hex], MessageState.VERIFIED)
    store.transition([transfer_message(3).id_hex], MessageState.FAILED, reason="x")
    store.set_cursor(Cursor("ethereum", 500, "0xaa"))
    before = _snapshot(store)
    with pytest.raises(PendingMessages) as err:
        rebind(store, ident(bridge=NEW_BRIDGE), force=False, store_name="s")
    assert err.value.pending == {"observed": 1, "verified": 1}
    assert _snapshot(store) == before


def test_a_forced_rebind_moves_the_old_deployment_aside(store: SqlStore) -> None:
    bind(store, ident(), store_name="s")
    store.add_observed([transfer_message(1), transfer_message(2)])
    store.transition([transfer_message(2).id_hex], MessageState.VERIFIED)
    store.transition([transfer_message(2).id_hex], MessageState.EXECUTED)
    store.set_cursor(Cursor("ethereum", 500, "0xaa"))
    store.set_cursor(Cursor("phala", 90, "0xcc", 4))
    store.save_checkpoint("phala/executed-index/destination", b"snap", 90)
    done = rebind(store, ident(bridge=NEW_BRIDGE), force=True, store_name="s")
    assert (done.archived, done.pending, done.cursors, done.checkpoints) == (2, {"observed": 1}, 2, 1)
    assert store.counts() == {} and store.cursors() == [] and store.checkpoint_list() == []
    assert store.deployment()["ethereum"]["bridge_address"] == NEW_BRIDGE
    assert {o for *_, o, _ in store.deployment_rows()} == {"rebound"}
    [(_, under, total, pending)] = store.archived()
    assert total == 2 and pending == {"observed": 1}
    old = json.loads(under)
    assert old["identity"]["ethereum"]["bridge_address"] == OLD_BRIDGE
    assert old["cursors"]["ethereum"] == [500, "0xaa", 0] and old["cursors"]["phala"] == [90, "0xcc", 4]
    # The reason the messages move: the new deployment numbers from 1 again, and ids are (source domain, nonce).
    assert store.add_observed([transfer_message(1)]) == 1
    bind(store, ident(bridge=NEW_BRIDGE), store_name="s")  # the new identity is now the one checked


# ---- the commands ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, url: str, status_port: int | None = None) -> Path:
    text = (ROOT / "config" / "node.example.toml").read_text()
    old = 'url = "postgresql://phala_bridge@127.0.0.1:5432/phala_bridge"'
    assert old in text and 'listen = "127.0.0.1:9101"' in text
    text = text.replace(old, f'url = "{url}"')
    text = text.replace('listen = "127.0.0.1:9101"', f'listen = "127.0.0.1:{status_port or _free_port()}"')
    path = tmp_path / "node.toml"
    path.write_text(text)  # the example names its resource ([resources.PHA])
    return path


def test_store_show_prints_the_record_cursors_and_counts(url: str, tmp_path: Path) -> None:
    s = open_store(url)
    bind(s, ident(), store_name="s")
    s.set_cursor(Cursor("phala", 90, "0xcc", 4))
    s.add_observed([transfer_message(1)])
    s.close()
    config = _config(tmp_path, url)
    result = CliRunner().invoke(app, ["store", "show", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert {"chain": "ethereum", "field": "bridge_address", "value": OLD_BRIDGE, "origin": "recorded"}.items() <= next(
        r for r in info["deployment"] if r["field"] == "bridge_address"
    ).items()
    assert info["cursors"] == [{"name": "phala", "block": 90, "hash": "0xcc", "sequence": 4}]
    assert info["messages"] == {"observed": 1} and info["pending"] == {"observed": 1}
    table = CliRunner().invoke(app, ["store", "show", "--config", str(config)])
    assert table.exit_code == 0 and "bridge_address" in table.output and "pending: 1" in table.output


def test_store_rebind_command(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The identity the enclave and chains would give (the devnet test reads the real ones); the store is real.
    async def current(_cfg: object) -> list[ChainIdentity]:
        return ident(bridge=NEW_BRIDGE)

    monkeypatch.setattr(store_cmd, "_current", current)
    s = open_store(url)
    bind(s, ident(), store_name="s")
    s.add_observed([transfer_message(1)])
    s.close()
    config = str(_config(tmp_path, url))
    runner = CliRunner()

    refused = runner.invoke(app, ["store", "rebind", "--config", config, "--yes"])
    assert refused.exit_code == 1
    assert "ethereum.bridge_address: recorded " + OLD_BRIDGE + " -> " + NEW_BRIDGE in refused.output
    assert "1 message(s) in this store are still pending (1 observed)" in refused.output
    not_confirmed = runner.invoke(app, ["store", "rebind", "--config", config, "--force"], input="n\n")
    assert not_confirmed.exit_code == 1 and "nothing changed" in not_confirmed.output
    s = open_store(url)
    assert s.deployment()["ethereum"]["bridge_address"] == OLD_BRIDGE and s.counts() == {"observed": 1}
    s.close()

    done = runner.invoke(app, ["store", "rebind", "--config", config, "--force"], input="y\n")
    assert done.exit_code == 0, done.output
    assert "1 message(s) archived (1 pending)" in done.output
    s = open_store(url)
    assert s.deployment()["ethereum"]["bridge_address"] == NEW_BRIDGE and s.counts() == {}
    s.close()
    again = runner.invoke(app, ["store", "rebind", "--config", config])
    assert again.exit_code == 0 and "already bound to this deployment" in again.output


def test_store_rebind_refuses_while_a_relayer_answers(url: str, tmp_path: Path) -> None:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a relayer whose enclave is down answers 503: still running
            self.send_response(503)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = _config(tmp_path, url, status_port=server.server_address[1])
        result = CliRunner().invoke(app, ["store", "rebind", "--config", str(config), "--yes", "--force"])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert "stop it before rebinding its store (nothing changed)" in result.output


def test_store_show_does_not_create_a_missing_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing.db"
    result = CliRunner().invoke(app, ["store", "show", "--config", str(_config(tmp_path, url))])
    assert result.exit_code == 1 and "no store at" in result.output
    assert not (tmp_path / "missing.db").exists()
