"""Out-of-process control of a devnet (what the CLI uses): start a detached supervisor, stop it, read its state."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bridge.devnet.manager import DevnetError
from bridge.devnet.probe import ProbeError, broker_alive, eth_block_number, substrate_block_number
from bridge.devnet.processes import group_alive, kill_group
from bridge.devnet.state import STATE_FILE_NAME, DevnetState
from bridge.devnet.tools import PROJECT_ROOT


def resolve_work_dir(work_dir: str | Path) -> Path:
    path = Path(work_dir)
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def read_state(work_dir: Path) -> DevnetState | None:
    path = work_dir / STATE_FILE_NAME
    if not path.exists():
        return None
    try:
        return DevnetState.read(path)
    except (OSError, ValueError) as exc:
        raise DevnetError(
            f"{path}: unreadable devnet state ({exc}); remove it or run `phala-bridge devnet down`"
        ) from exc


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_detached(config_path: Path, work_dir: Path, timeout: float = 300.0, *, committee: bool = True) -> DevnetState:
    existing = read_state(work_dir)
    if existing is not None and pid_alive(existing.supervisor_pid):
        raise DevnetError(f"a devnet is already running (supervisor pid {existing.supervisor_pid}, {work_dir})")
    if existing is not None:
        stop(work_dir)  # stale state from a crashed supervisor: clean up whatever is left
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "logs" / "supervisor.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridge.devnet.supervisor",
                "--config",
                str(config_path),
                "--work-dir",
                str(work_dir),
                *([] if committee else ["--no-committee"]),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(work_dir)
        if state is not None and state.supervisor_pid == proc.pid:
            return state
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise DevnetError(f"the devnet did not start (exit code {proc.returncode}):\n{tail}")
        time.sleep(0.1)
    kill_group(proc.pid)
    raise DevnetError(f"the devnet was not ready after {timeout:.0f}s; see {log_path}")


def stop(work_dir: Path, grace: float = 15.0) -> list[str]:
    """Stop the devnet recorded in `work_dir`; returns the names of processes that had to be killed by force."""
    state = read_state(work_dir)
    if state is None:
        return []
    forced: list[str] = []
    if pid_alive(state.supervisor_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(state.supervisor_pid):
            time.sleep(0.05)
        if pid_alive(state.supervisor_pid):
            kill_group(state.supervisor_pid, grace=0.5)
            forced.append("supervisor")
    for record in state.processes:
        if group_alive(record.pid):
            kill_group(record.pid, grace=2.0)
            forced.append(record.name)
    with contextlib.suppress(FileNotFoundError):
        (work_dir / STATE_FILE_NAME).unlink()
    return forced


@dataclass(frozen=True)
class EndpointStatus:
    name: str
    url: str
    height: int | None
    error: str | None


def probe(state: DevnetState) -> list[EndpointStatus]:
    out: list[EndpointStatus] = []

    def one(name: str, url: str, fn: object) -> None:
        try:
            out.append(EndpointStatus(name, url, fn(url), None))  # type: ignore[operator]
        except ProbeError as exc:
            out.append(EndpointStatus(name, url, None, str(exc)))

    one(f"ethereum (chain id {state.ethereum.chain_id})", state.ethereum.rpc_url, eth_block_number)
    one(f"phala (para {state.phala.para_id})", state.phala.http_url, substrate_block_number)
    one(f"peer (para {state.peer.para_id})", state.peer.http_url, substrate_block_number)
    url = f"mqtt://{state.broker.host}:{state.broker.port}"
    alive = broker_alive(state.broker.host, state.broker.port)
    out.append(
        EndpointStatus(f"broker ({state.broker.kind})", url, None, None if alive else "not accepting connections")
    )
    return out
