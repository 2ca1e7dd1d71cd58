"""A daemon's heap is frozen when its body ends, however it ends, so the interpreter's last collections skip it.

Run in a child interpreter: freezing is process-wide, and the test runner's own heap is not the subject."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc, sys
from bridge.cli.heap import frozen_heap_at_exit

graph = [[i] for i in range(200_000)]  # a daemon's long-lived objects (decoded metadata, say)
assert gc.get_freeze_count() == 0
try:
    with frozen_heap_at_exit():
        if sys.argv[1] == "crash":
            raise RuntimeError("the daemon's body failed")
except RuntimeError:
    pass
print(gc.get_freeze_count())
"""


def _frozen_after(how: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, how], capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip())


def test_the_heap_is_frozen_after_a_clean_stop() -> None:
    assert _frozen_after("clean") >= 200_000


def test_the_heap_is_frozen_after_a_crash_too() -> None:
    assert _frozen_after("crash") >= 200_000
