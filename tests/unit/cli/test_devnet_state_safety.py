"""`devnet down` signals only the processes the devnet started: never a PID such as -1 (`kill(-1, SIGTERM)` reaches
every process the user may signal), 0 (our own process group) or 1, and never a PID that since went to another
process (an old state file after a crash or a reboot). A state file that is not valid is refused in one line and
moved aside, so the next `down` or `up` goes on. Every signal here is recorded, never sent."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bridge.cli.main import app
from bridge.devnet import control
from bridge.devnet.manager import DevnetError
from bridge.devnet.state import STATE_FILE_NAME, DevnetState, ProcessRecord, current_boot_id, process_start

ROOT = Path(__file__).resolve().parents[3]
ME = os.getpid()

_real_kill, _real_killpg = os.kill, os.killpg


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int, int]]]:
    """os.kill / os.killpg replaced by recorders. Signal 0 (only asks whether a process exists: sends nothing) goes
    through for real PIDs; -1, 0 and 1 are never passed on, whatever the signal."""
    sent: list[tuple[str, int, int]] = []

    def recorder(name: str, real: Any) -> Any:
        def call(pid: int, sig: int) -> None:
            if sig == 0 and pid > 1:
                real(pid, 0)
                return
            sent.append((name, pid, sig))

        return call

    monkeypatch.setattr(os, "kill", recorder("kill", _real_kill))
    monkeypatch.setattr(os, "killpg", recorder("killpg", _real_killpg))
    yield sent


def _state(work_dir: Path, supervisor_pid: int = ME, **extra: Any) -> dict[str, Any]:
    endpoint = {"ws_url": "ws://127.0.0.1:1", "http_url": "http://127.0.0.1:1"}
    data: dict[str, Any] = {
        "work_dir": str(work_dir),
        "supervisor_pid": supervisor_pid,
        "started_at": 1.0,
        "ready_seconds": 1.0,
        "ethereum": {"rpc_url": "http://127.0.0.1:1", "chain_id": 31337},
        "phala": {"name": "phala", "para_id": 2035, **endpoint},
        "peer": {"name": "peer", "para_id": 1000, **endpoint},
        "broker": {"kind": "embedded", "host": "127.0.0.1", "port": 1},
        "processes": [],
    }
    data.update(extra)
    return data


def _write(work_dir: Path, data: dict[str, Any] | str) -> Path:
    path = work_dir / STATE_FILE_NAME
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _down(work_dir: Path) -> tuple[int, list[str]]:
    args = ["devnet", "down", "--config", str(ROOT / "config" / "devnet.toml"), "--work-dir", str(work_dir)]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("field", "bad"),
    [("supervisor_pid", -1), ("supervisor_pid", 0), ("supervisor_pid", 1), ("process", -1), ("process", 0)],
)
def test_a_pid_that_would_signal_everything_signals_nothing(
    field: str, bad: int, tmp_path: Path, signals: list[tuple[str, int, int]]
) -> None:
    if field == "process":
        data = _state(tmp_path, processes=[{"name": "anvil", "pid": bad, "log": "x"}])
    else:
        data = _state(tmp_path, supervisor_pid=bad)
    path = _write(tmp_path, data)
    code, lines = _down(tmp_path)
    assert signals == []
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: not a valid devnet state (") and "greater than 1" in lines[0]
    assert "no process was signalled, moved it to state.json.corrupt" in lines[0]
    assert "input_value" not in lines[0] and "devnet down" not in lines[0]
    # moved aside: the next `down` finds no devnet, and `up` could start one
    assert not path.exists() and (tmp_path / "state.json.corrupt").exists()
    code, lines = _down(tmp_path)
    assert code == 0 and "".join(lines) == f"no devnet running in {tmp_path}"  # (rich wraps a long path)
    assert signals == []


def test_a_corrupt_state_file_is_one_line(tmp_path: Path, signals: list[tuple[str, int, int]]) -> None:
    _write(tmp_path, '{"work_dir": "x", "supervisor_pid": ')
    code, lines = _down(tmp_path)
    assert code == 1 and len(lines) == 1 and "not a valid devnet state ((top): Invalid JSON" in lines[0], lines
    _write(tmp_path, json.dumps({"supervisor_pid": "1234; rm -rf ~"}))
    code, lines = _down(tmp_path)
    assert code == 1 and len(lines) == 1 and "and " in lines[0] and "more)" in lines[0], lines
    assert "rm -rf" not in lines[0]  # no input value
    assert signals == []


def test_the_schema_refuses_such_pids() -> None:
    for pid in (-1, 0, 1, 2**31, True):
        with pytest.raises(ValidationError):
            ProcessRecord(name="x", pid=pid, log="x")


def test_a_reused_pid_is_not_signalled(tmp_path: Path, signals: list[tuple[str, int, int]]) -> None:
    # the state's processes exited; their PIDs went to other processes (here: this test's, alive, started at
    # another time than the state recorded)
    mine = process_start(ME)
    assert mine is not None
    record = {"name": "anvil", "pid": ME, "log": "x", "started": mine + 1}
    path = _write(
        tmp_path, _state(tmp_path, supervisor_started=mine - 1, boot_id=current_boot_id(), processes=[record])
    )
    assert _down(tmp_path) == (0, ["devnet stopped"])
    assert signals == [] and not path.exists()


def test_after_a_reboot_nothing_is_signalled(tmp_path: Path, signals: list[tuple[str, int, int]]) -> None:
    mine = process_start(ME)
    record = {"name": "anvil", "pid": ME, "log": "x", "started": mine}
    _write(tmp_path, _state(tmp_path, supervisor_started=mine, boot_id="another-boot", processes=[record]))
    assert _down(tmp_path) == (0, ["devnet stopped"])
    assert signals == []


def test_the_devnets_own_processes_are_signalled(tmp_path: Path, signals: list[tuple[str, int, int]]) -> None:
    # the supervisor recorded as this very process (its start time matches): signalled, and killed by force when it
    # does not go (the signals are only recorded, so it never does)
    state = DevnetState.model_validate(_state(tmp_path, processes=[{"name": "anvil", "pid": ME, "log": "x"}]))
    state.write(tmp_path / STATE_FILE_NAME)
    forced = control.stop(tmp_path, grace=0.1)
    assert ("kill", ME, signal.SIGTERM) in signals
    assert ("killpg", ME, signal.SIGTERM) in signals
    assert {pid for _, pid, _ in signals} == {ME}
    assert forced[0] == "supervisor"
    assert not (tmp_path / STATE_FILE_NAME).exists()


def test_the_state_records_each_process_start_and_the_boot(tmp_path: Path) -> None:
    state = DevnetState.model_validate(_state(tmp_path, processes=[{"name": "anvil", "pid": ME, "log": "x"}]))
    state.write(tmp_path / STATE_FILE_NAME)
    written = json.loads((tmp_path / STATE_FILE_NAME).read_text())
    assert written["supervisor_started"] == process_start(ME) is not None
    assert written["processes"][0]["started"] == process_start(ME)
    assert written["boot_id"] == current_boot_id() is not None
    assert control.identify(ME, process_start(ME), current_boot_id()) == "ours"


def test_a_state_without_start_times_signals_nothing_and_says_so(
    tmp_path: Path, signals: list[tuple[str, int, int]]
) -> None:
    # written by an older version: a live PID cannot be told from a reused one
    path = _write(tmp_path, _state(tmp_path))
    with pytest.raises(DevnetError, match=r"records no start time for supervisor \(pid \d+\)"):
        control.stop(tmp_path, grace=0.1)
    assert signals == [] and path.exists()
    # and `devnet up` does not start a second devnet over it
    with pytest.raises(DevnetError, match="already running"):
        control.start_detached(ROOT / "config" / "devnet.toml", tmp_path)
    assert signals == []
