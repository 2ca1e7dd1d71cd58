"""The detached devnet owner behind `phala-bridge devnet up`: `python -m bridge.devnet.supervisor`.

It starts the devnet, writes the state file, and waits for SIGTERM/SIGINT to take everything down. Its children
die with it even if it is SIGKILLed (PR_SET_PDEATHSIG), so `devnet down` only has to signal this one process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from bridge.config import ConfigError, DevnetConfig, parse_config
from bridge.devnet.manager import Devnet, DevnetError
from bridge.telemetry import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--no-committee", action="store_true", help="chains and broker only")
    args = parser.parse_args(argv)
    configure_logging("json")
    try:
        text = args.config.read_text() if args.config.exists() else ""
        cfg = parse_config(text, DevnetConfig, source=str(args.config))
    except (OSError, ConfigError) as exc:
        print(f"devnet supervisor: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    devnet = Devnet(cfg.devnet, work_dir=args.work_dir, committee=False if args.no_committee else None)
    try:
        devnet.start()
    except DevnetError as exc:
        print(f"devnet supervisor: {exc}", file=sys.stderr)
        return 1
    try:
        while not stop.wait(0.5):
            if devnet.supervisor and any(not p.alive() for p in devnet.supervisor.processes):
                dead = [p.name for p in devnet.supervisor.processes if not p.alive()]
                print(f"devnet supervisor: process died: {', '.join(dead)}; stopping the devnet", file=sys.stderr)
                return 1
        return 0
    finally:
        devnet.stop()


if __name__ == "__main__":
    sys.exit(main())
