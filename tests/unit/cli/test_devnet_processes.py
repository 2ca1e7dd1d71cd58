"""The devnet's process supervisor stops the members of one role together, and the roles newest first.

Real child processes: each notes when SIGTERM reaches it and, after a clean-up that takes a while, when it exits;
the order of the notes says what was stopped together (no timing is asserted)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bridge.devnet.processes import ProcessSupervisor, group_alive

CHILD = """
import os, signal, sys, time
name, notes = sys.argv[1], sys.argv[2]
def note(what):
    fd = os.open(notes, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{what} {name}\\n".encode())
    os.close(fd)
def on_term(*_):
    note("term")
    time.sleep(0.3)  # a clean stop that takes a while (an enclave saving its snapshots)
    note("exit")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
note("up")
while True:
    time.sleep(1)
"""


def _start(sup: ProcessSupervisor, names: list[str], notes: Path) -> None:
    for name in names:
        sup.spawn(name, [sys.executable, "-c", CHILD, name, str(notes)])
    while not notes.exists() or notes.read_text().count("up ") < len(names):
        time.sleep(0.01)


def test_one_role_stops_together_and_roles_stop_newest_first(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    sup = ProcessSupervisor(tmp_path / "logs", die_with_parent=False)
    _start(sup, ["anvil", "enclave-1", "enclave-2", "relayer-1", "relayer-2", "relayer-3"], notes)
    sup.stop_all(grace=10)
    lines = [line for line in notes.read_text().splitlines() if not line.startswith("up ")]

    def steps(role: str) -> list[str]:
        return [line.split()[0] for line in lines if line.split()[1].startswith(role)]

    # Every relayer was told to stop before any of them finished: they were stopped together.
    assert steps("relayer") == ["term"] * 3 + ["exit"] * 3
    assert steps("enclave") == ["term"] * 2 + ["exit"] * 2
    # A role is stopped only once the newer one is gone: relayers, then enclaves, then anvil.
    order = [line.split()[1].rpartition("-")[0] or line.split()[1] for line in lines if line.startswith("term")]
    assert order == ["relayer"] * 3 + ["enclave"] * 2 + ["anvil"]
    last_relayer_exit = max(i for i, line in enumerate(lines) if line.startswith("exit relayer"))
    first_enclave_term = min(i for i, line in enumerate(lines) if line.startswith("term enclave"))
    assert last_relayer_exit < first_enclave_term
    assert sup.processes == []


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    sup = ProcessSupervisor(tmp_path / "logs", die_with_parent=False)
    stubborn = sup.spawn("stubborn-1", [sys.executable, "-c", "import signal, time\n"
                                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                                        "time.sleep(600)"])  # fmt: skip
    polite = sup.spawn("stubborn-2", [sys.executable, "-c", "import time\nprint('up', flush=True)\ntime.sleep(600)"])
    for proc in (stubborn, polite):
        while "up" not in proc.log_path.read_text():
            time.sleep(0.01)
    sup.stop_all(grace=0.5)
    # Both are gone: the one that ignores SIGTERM only SIGKILL (after the grace) could stop.
    assert not group_alive(stubborn.pid)
    assert not group_alive(polite.pid)
    assert sup.processes == []
