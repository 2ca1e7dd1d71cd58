"""`phala-bridge` starts without loading the chain clients: every command pays the CLI's import time (it was 2.2 s
for `--help` when the relayer and store commands imported web3 and eth_account at the top; ~0.8 s now). The chain
clients are imported by the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("web3", "eth_account", "substrateinterface", "psycopg", "aiohttp", "aiomqtt")


def test_importing_the_cli_loads_no_chain_client() -> None:
    probe = f"import sys, bridge.cli.main; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [], f"imported at start: {result.stdout.strip()}"
