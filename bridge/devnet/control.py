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
from typing import Literal

from pydantic import ValidationError

from bridge.devnet.manager import DevnetError
from bridge.devnet.probe import ProbeError, broker_alive, eth_block_number, substrate_block_number
from bridge.devnet.processes import _is_zombie, group_alive, kill_group
from bridge.devnet.state import STATE_FILE_NAME, DevnetState, current_boot_id, process_start
from bridge.devnet.tools import PROJECT_ROOT
from bridge.errors import validation_problems


def resolve_work_dir(work_dir: str | Path) -> Path:
    path = Path(work_dir)
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def read_state(work_dir: Path) -> DevnetState | None:
    """The state of the devnet in `work_dir`; None when there is none. A file that is not a valid state (corrupt,
    edited, a PID such as -1 or 0 that would signal every process or our own group) names no process that may be
    signalled: it is moved aside to `state.json.corrupt` (so `devnet down` and `devnet up` can go on) and refused in
    one line; nothing is signalled."""
    path = work_dir / STATE_FILE_NAME
    if not path.exists():
        return None
    try:
        return DevnetState.read(path)
    except OSError as exc:
        raise DevnetError(f"{path}: cannot read the devnet state ({exc.strerror})") from None
    except ValueError as exc:
        problem = validation_problems(exc) if isinstance(exc, ValidationError) else "not UTF-8 text"
        aside = path.with_name(STATE_FILE_NAME + ".corrupt")
        try:
            os.replace(path, aside)
            moved = f"moved it to {aside.name}"
        except OSError as move:
            moved = f"could not move it aside ({move.strerror}): remove it"
        raise DevnetError(
            f"{path}: not a valid devnet state ({problem}); no process was signalled, {moved}; if a devnet still "
            f"runs, stop its processes by hand (see {work_dir / 'logs'})"
        ) from None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


Identity = Literal["ours", "gone", "unknown"]


def identify(pid: int, started: int | None, boot_id: str | None) -> Identity:
    """Whether `pid` still is the process a state file recorded (`started`, `boot_id`: see bridge/devnet/state.py):
    "ours"; "gone": it exited (or the machine rebooted) and the number is free or another process's; "unknown": the
    state records no start time (written by an older version) or there is no /proc to compare with."""
    if pid <= 1:  # never -1 (every process), 0 (our own group) or init; the state's schema refuses them too
        return "gone"
    if not Path("/proc/self/stat").exists():
        return "unknown" if pid_alive(pid) else "gone"
    now = current_boot_id()
    if boot_id is not None and now is not None and now != boot_id:
        return "gone"  # rebooted: nothing of that devnet runs
    current = process_start(pid)
    if current is None:
        return "gone"
    if started is None:
        return "unknown"
    return "ours" if current == started else "gone"


def start_detached(config_path: Path, work_dir: Path, timeout: float = 300.0, *, committee: bool = True) -> DevnetState:
    existing = read_state(work_dir)
    if existing is not None and _supervisor(existing) != "gone":
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


def _supervisor(state: DevnetState) -> Identity:
    return identify(state.supervisor_pid, state.supervisor_started, state.boot_id)


def _running(state: DevnetState) -> bool:
    return _supervisor(state) == "ours" and not _is_zombie(state.supervisor_pid)


def stop(work_dir: Path, grace: float = 15.0) -> list[str]:
    """Stop the devnet recorded in `work_dir`; returns the names of processes that had to be killed by force. Only
    processes that still are the ones recorded (`identify`) are signalled: a PID the state names may since belong to
    another process (the devnet crashed, the machine rebooted)."""
    state = read_state(work_dir)
    if state is None:
        return []
    forced: list[str] = []
    unsure: list[str] = []
    supervisor = _supervisor(state)
    if supervisor == "unknown":
        unsure.append(f"supervisor (pid {state.supervisor_pid})")
    if supervisor == "ours":
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        zombie_since: float | None = None
        # Until it is gone (reaped); an exited supervisor nobody reaps (no init in a container) stops the wait too.
        while time.monotonic() < deadline and _supervisor(state) == "ours":
            if _is_zombie(state.supervisor_pid):
                zombie_since = zombie_since or time.monotonic()
                if time.monotonic() - zombie_since > 2.0:
                    break
            time.sleep(0.05)
        if _running(state):
            kill_group(state.supervisor_pid, grace=0.5)
            forced.append("supervisor")
    for record in state.processes:
        who = identify(record.pid, record.started, state.boot_id)
        if who == "ours" and group_alive(record.pid):
            kill_group(record.pid, grace=2.0)
            forced.append(record.name)
        elif who == "unknown":
            unsure.append(f"{record.name} (pid {record.pid})")
    path = work_dir / STATE_FILE_NAME
    if unsure:
        raise DevnetError(
            f"{path} records no start time for {', '.join(unsure)} (written by an older version?), so it cannot tell"
            f" them from other processes that reuse their PIDs: not signalled; stop them by hand, then remove {path}"
        )
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
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
