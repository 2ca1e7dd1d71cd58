"""Child processes that never outlive their owner.

Every child runs in its own session (so its whole process group can be killed by PID) with its output captured
to a log file. On Linux each child also gets PR_SET_PDEATHSIG=SIGKILL: if the owner dies, even by SIGKILL, the
kernel kills the child, so a crashed test or a killed supervisor leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for_log(self, needle: str | Callable[[str], bool], timeout: float) -> None:
        """Block until the log contains `needle` (or the predicate holds); raise if the process dies or times out."""
        check = (lambda text: needle in text) if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check(self.log_path.read_text(errors="replace")):
                    return
            except OSError:
                pass
            if not self.alive():
                raise ProcessStartError(self.name, f"exited with code {self.popen.returncode}", self.log_tail())
            time.sleep(0.02)
        raise ProcessStartError(self.name, f"not ready after {timeout:.0f}s", self.log_tail())


class ProcessStartError(RuntimeError):
    def __init__(self, name: str, reason: str, log_tail: str) -> None:
        super().__init__(f"{name} {reason}; last log lines:\n{log_tail}")
        self.name = name


def kill_group(pid: int, grace: float = 5.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL whatever is left after `grace` seconds."""
    kill_groups([pid], grace)


def kill_groups(pids: Sequence[int], grace: float = 5.0) -> None:
    """`kill_group` for several groups at once: all are sent SIGTERM together and share one grace period, so
    stopping n processes that each take a second to exit cleanly takes a second, not n."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        for pid in alive:
            _reap(pid)
        alive = [pid for pid in alive if group_alive(pid)]
        if alive:
            time.sleep(0.02)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        _reap(pid)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still "exists"; treat a group whose only member is our unreaped zombie as dead.
    return not _is_zombie(pgid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class ProcessSupervisor:
    """Owns a set of child processes; `stop_all` (also run at interpreter exit) kills every group it started."""

    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    die_with_parent: bool = True

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        import atexit

        atexit.register(self.stop_all)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
        try:
            popen = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        finally:
            log.close()
        proc = ManagedProcess(name=name, popen=popen, log_path=log_path)
        self.processes.append(proc)
        return proc

    def stop(self, proc: ManagedProcess, grace: float = 5.0) -> None:
        self.stop_together([proc], grace)

    def stop_together(self, procs: Sequence[ManagedProcess], grace: float = 5.0) -> None:
        """Stop `procs` at once (one SIGTERM each, one shared grace period, then SIGKILL)."""
        kill_groups([p.pid for p in procs], grace)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=1)
            if proc in self.processes:
                self.processes.remove(proc)

    def stop_all(self, grace: float = 5.0) -> None:
        """Newest first, as a dependency order (relayers before their enclaves, enclaves before the broker and the
        chains), with the members of one role (`relayer-1` .. `relayer-5`) stopped together: a clean stop takes a
        second or two per daemon, which one at a time was ~15 s for a committee devnet."""
        for _, group in itertools.groupby(reversed(list(self.processes)), key=_role):
            self.stop_together(list(group), grace)


def _role(proc: ManagedProcess) -> str:
    """`relayer-3` -> `relayer`; a name without a member number is its own role (`xcm-origin`, `anvil`)."""
    head, _, tail = proc.name.rpartition("-")
    return head if head and tail.isdigit() else proc.name
