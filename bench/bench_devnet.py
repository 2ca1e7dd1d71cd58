"""Devnet start-up: time until every chain and the broker answer, and the memory the devnet holds.

Target (issue 2): ready in <= 15 s on the 2-core machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.results import record
from bridge.devnet import Devnet
from bridge.devnet.control import probe

RUNS = 3


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    times: list[float] = []
    memory: dict[str, list[float]] = {}
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            devnet = Devnet(work_dir=Path(tmp), committee=False)
            state = devnet.start()
            # "Ready" means answering: probe every endpoint for real before stopping the clock.
            statuses = probe(state)
            elapsed = time.monotonic() - t0
            bad = [s for s in statuses if s.error]
            if bad:
                raise RuntimeError(f"devnet not answering: {bad}")
            times.append(elapsed)
            time.sleep(2)  # let Chopsticks settle after genesis before reading memory
            for p in state.processes:
                memory.setdefault(p.name, []).append(_rss_mib(p.pid))
            devnet.stop()
    med = statistics.median(times)
    record("devnet.startup_s", med, "s", target="<= 15", met=med <= 15, note=f"median of {RUNS}; max {max(times):.2f}")
    total = 0.0
    for name, values in sorted(memory.items()):
        v = statistics.median(values)
        total += v
        record(f"devnet.rss_mib.{name}", v, "MiB", note="resident memory after start-up")
    record("devnet.rss_mib.total", total, "MiB", note="anvil + broker + Chopsticks (two parachains)")


if __name__ == "__main__":
    main()
