"""A store that cannot be used, for each command that opens one (`store show`, `store rebind`, `relayer run`, and
the relayer's answers to `status`), against real SQLite files and the machine's real PostgreSQL: one line naming
the store (password masked), what failed and what to do, a non-zero exit, never a traceback; a relayer whose
PostgreSQL does not answer waits for it (docs/decisions.md)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app
from relayers.store import StoreError, StoreUnavailable, open_store, store_errors
from relayers.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _config(tmp_path: Path, url: str) -> Path:
    text = (ROOT / "config" / "node.example.toml").read_text()
    old = 'url = "postgresql://phala_bridge@127.0.0.1:5432/phala_bridge"'
    assert old in text and 'listen = "127.0.0.1:9101"' in text
    text = text.replace(old, f'url = "{url}"').replace(
        'listen = "127.0.0.1:9101"', f'listen = "127.0.0.1:{_closed_port()}"'
    )
    # An enclave socket nobody serves: a command that asked the enclave before the store would say so instead.
    text = text.replace('socket = "/run/phala-bridge/enclave-1.sock"', f'socket = "{tmp_path}/no-enclave.sock"')
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def _garbage(tmp_path: Path) -> str:
    path = tmp_path / "store.db"
    path.write_bytes(b"not a database, " * 512)
    return f"sqlite:///{path}"


def _under_a_file(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("x")
    return f"sqlite:///{tmp_path}/a-file/store.db"


def _pg_closed(_tmp_path: Path) -> str:
    return f"postgresql://postgres:{SECRET}@127.0.0.1:{_closed_port()}/phala_bridge"


STORES = {
    "sqlite-garbage": (_garbage, "not an SQLite database"),
    "sqlite-under-a-file": (_under_a_file, "is not a directory"),
    "postgres-closed-port": (_pg_closed, "the server did not answer"),
}


def _assert_one_line_error(result: object, *expected: str) -> None:
    output = getattr(result, "output", "")
    assert getattr(result, "exit_code", 0) == 1, output
    assert "Traceback" not in output and SECRET not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for text in expected:
        assert text in lines[0], output


@pytest.mark.parametrize("case", sorted(STORES))
@pytest.mark.parametrize("command", [["store", "show"], ["store", "rebind", "--yes", "--force"]])
def test_store_commands_say_what_is_wrong_with_the_store(case: str, command: list[str], tmp_path: Path) -> None:
    make, expected = STORES[case]
    url = make(tmp_path)
    config = _config(tmp_path, url)
    result = CliRunner().invoke(app, [*command, "--config", str(config)])
    if case == "sqlite-under-a-file":  # nothing there: the commands that only read say so (they create nothing)
        expected = "no store at"
    _assert_one_line_error(result, expected, "store")


@pytest.mark.parametrize("command", [["store", "show"], ["store", "rebind", "--yes"], ["relayer", "run"]])
def test_a_wrong_postgres_database_name(command: list[str], tmp_path: Path, postgres_server: str) -> None:
    base, _, _ = postgres_server.rpartition("/")
    scheme, rest = base.split("://", 1)
    user_host = rest if "@" in rest else f"postgres@{rest}"
    user, host = user_host.rsplit("@", 1)
    url = f"{scheme}://{user.split(':')[0]}:{SECRET}@{host}/phala_bridge_no_such_database"
    result = CliRunner().invoke(app, [*command, "--config", str(_config(tmp_path, url))])
    _assert_one_line_error(result, "phala_bridge_no_such_database", "does not exist", "fix the name in [store] url")
    assert ":***@" in result.output


@pytest.mark.parametrize("case", ["sqlite-garbage", "sqlite-under-a-file"])
def test_relayer_run_stops_at_once_on_a_store_it_cannot_use(case: str, tmp_path: Path) -> None:
    # Before it waits for its enclave (none runs here): a bad store is the first thing said.
    make, expected = STORES[case]
    result = CliRunner().invoke(app, ["relayer", "run", "--config", str(_config(tmp_path, make(tmp_path)))])
    _assert_one_line_error(result, expected)


def test_relayer_run_waits_for_an_unreachable_postgres_and_stops_cleanly(tmp_path: Path) -> None:
    config = _config(tmp_path, _pg_closed(tmp_path))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli.main", "--log-format", "json", "relayer", "run", "--config", str(config)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum("store_unreachable" in line for line in lines) < 2:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert sum("store_unreachable" in line for line in lines) >= 2, "".join(lines)  # retried, not exited
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    text = "".join(lines) + out
    assert proc.returncode == 0, text
    assert '"retry_in": 1.0' in text and '"retry_in": 2.0' in text, text  # backoff, logged with fields
    assert SECRET not in text and "Traceback" not in text, text


def test_a_locked_sqlite_store_says_so(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: nobody else may even read
    try:
        with (
            pytest.raises(StoreError, match="locked by another process: stop whatever holds it") as err,
            store_errors(f"sqlite:///{path}", "open"),
        ):
            SqliteStore(path, timeout=0.1)
        assert not isinstance(err.value, StoreUnavailable)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_postgres_unreachable_is_retryable_and_masks_the_password() -> None:
    with pytest.raises(StoreUnavailable) as err:
        open_store(f"postgresql://u:{SECRET}@127.0.0.1:{_closed_port()}/db?password={SECRET}")
    assert SECRET not in str(err.value) and "\n" not in str(err.value)
    assert "postgresql://u:***@127.0.0.1" in str(err.value)
