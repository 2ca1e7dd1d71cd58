"""A daemon's heap at exit.

A relayer or an enclave holds a few hundred thousand long-lived objects (chiefly decoded runtime metadata, ~100,000
objects per chain runtime, and the type registry each Substrate connection builds from it). When the process ends,
the interpreter's last garbage collections walk all of them: seconds of CPU under load, between the daemon's clean
stop and its exit, which a supervisor (systemd, the devnet, a restart by an operator) waits out. Freezing the heap
once the daemon's work is over moves those objects out of the collector's reach, and the process exits at once.
Nothing is lost by it: the process is about to end and the OS takes its memory back.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap_at_exit() -> Iterator[None]:
    """Run a daemon's body; whatever way it ends, freeze the heap before the interpreter shuts down."""
    try:
        yield
    finally:
        gc.freeze()
