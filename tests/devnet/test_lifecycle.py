"""Devnet up/down leave nothing behind: no process, every port free, even when the owner is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bridge.devnet.control import pid_alive, read_state
from bridge.devnet.ports import port_is_open
from bridge.devnet.processes import group_alive
from bridge.devnet.state import DevnetState

CLI = [sys.executable, "-m", "bridge.cli.main"]
ROOT = Path(__file__).resolve().parents[2]


def _ports(state: DevnetState) -> list[int]:
    urls = [state.ethereum.rpc_url, state.phala.http_url, state.peer.http_url]
    return [int(u.rsplit(":", 1)[1]) for u in urls] + [state.broker.port]


def _wait_gone(state: DevnetState, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p.name for p in state.processes if group_alive(p.pid)]
        busy = [port for port in _ports(state) if port_is_open(port)]
        if not alive and not busy:
            return
        time.sleep(0.1)
    raise AssertionError(f"left behind: processes {alive}, ports {busy}")


def _assert_running(state: DevnetState) -> None:
    assert {p.name for p in state.processes} == {"anvil", "broker", "chopsticks"}
    for p in state.processes:
        assert group_alive(p.pid), p.name
    for port in _ports(state):
        assert port_is_open(port), port


def test_cli_up_status_down_leaves_nothing(tmp_path: Path) -> None:
    up = subprocess.run(
        [*CLI, "devnet", "up", "--no-committee", "--work-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    state = read_state(tmp_path)
    assert state is not None
    try:
        _assert_running(state)
        status = subprocess.run([*CLI, "devnet", "status", "--work-dir", str(tmp_path)], capture_output=True, text=True)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "phala (para 2035)" in status.stdout and "peer (para 1000)" in status.stdout
        again = subprocess.run(
            [*CLI, "devnet", "up", "--no-committee", "--work-dir", str(tmp_path)], capture_output=True, text=True
        )
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        down = subprocess.run([*CLI, "devnet", "down", "--work-dir", str(tmp_path)], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert "killed by force" not in down.stdout  # a clean SIGTERM shutdown, not a rescue
    _wait_gone(state)
    assert not pid_alive(state.supervisor_pid)
    assert read_state(tmp_path) is None


def test_owner_killed_mid_run_leaves_nothing(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from bridge.devnet import Devnet\n"
        f"Devnet(work_dir=Path({str(tmp_path)!r}), committee=False).start()\n"
        "print('READY', flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        lines = iter(owner.stdout.readline, "")
        assert any(line.strip() == "READY" for line in lines)
        state = read_state(tmp_path)
        assert state is not None and state.supervisor_pid == owner.pid
        _assert_running(state)
        os.kill(owner.pid, signal.SIGKILL)  # a crashed test: no finally, no atexit
        owner.wait(timeout=5)
        _wait_gone(state)
    finally:
        if owner.poll() is None:
            owner.kill()


def test_supervisor_killed_then_down_cleans_stale_state(tmp_path: Path) -> None:
    up = subprocess.run(
        [*CLI, "devnet", "up", "--no-committee", "--work-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    state = read_state(tmp_path)
    assert state is not None
    os.kill(state.supervisor_pid, signal.SIGKILL)
    _wait_gone(state)
    down = subprocess.run([*CLI, "devnet", "down", "--work-dir", str(tmp_path)], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert read_state(tmp_path) is None
