"""Chopsticks: two real parachain runtimes (Rococo Asset Hub's wasm) joined by real XCMP channels.

The runtime comes from the Rococo Asset Hub genesis chain spec shipped in `@substrate/connect-known-chains`.
Both chains start from the same genesis; `ParachainInfo.ParachainId` is overridden per chain and dev accounts
(plus each chain's sibling sovereign account, for XCM) are funded through `import-storage`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bridge.devnet.accounts import DEV_BALANCE_PLANCK, sibling_sovereign_account
from bridge.devnet.ports import free_port
from bridge.devnet.processes import ManagedProcess, ProcessSupervisor
from bridge.devnet.tools import chopsticks_entry, node_binary, spec_extractor


@dataclass(frozen=True)
class ParachainSpec:
    name: str
    para_id: int


@dataclass(frozen=True)
class ParachainNode:
    name: str
    para_id: int
    port: int
    ws_url: str
    http_url: str


@dataclass(frozen=True)
class ParachainNetwork:
    nodes: dict[str, ParachainNode]
    process: ManagedProcess


def ensure_genesis_spec(cache_dir: Path) -> Path:
    """Extract the chain spec once into `cache_dir` (about 1.2 MB; it carries the runtime's wasm)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / "rococo-asset-hub-spec.json"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        subprocess.run([node_binary(), str(spec_extractor()), str(tmp)], check=True, capture_output=True)
        tmp.rename(out)
    return out


def _chain_config(
    spec: Path, chain: ParachainSpec, port: int, funded: list[str], peers: list[int]
) -> dict[str, object]:
    accounts = [*funded, *(sibling_sovereign_account(p) for p in peers if p != chain.para_id)]
    # import-storage wants balances as strings: they exceed JS's safe integers.
    account_entries = [[[acct], {"providers": 1, "data": {"free": str(DEV_BALANCE_PLANCK)}}] for acct in accounts]
    return {
        "genesis": str(spec),
        "host": "127.0.0.1",
        "port": port,
        "build-block-mode": "Instant",
        "import-storage": {
            "ParachainInfo": {"ParachainId": chain.para_id},
            "System": {"Account": account_entries},
        },
    }


def start_parachains(
    supervisor: ProcessSupervisor,
    *,
    work_dir: Path,
    chains: list[ParachainSpec],
    funded_accounts: list[str],
    timeout: float = 60.0,
) -> ParachainNetwork:
    """Start every chain in one Chopsticks process in `xcm` mode and wait until all are connected."""
    spec = ensure_genesis_spec(work_dir)
    para_ids = [c.para_id for c in chains]
    argv = [node_binary(), str(chopsticks_entry()), "xcm"]
    nodes: dict[str, ParachainNode] = {}
    for chain in chains:
        port = free_port()
        cfg_path = work_dir / f"chopsticks-{chain.name}.json"
        # Chopsticks reads YAML; JSON is valid YAML and needs no extra dependency.
        cfg_path.write_text(json.dumps(_chain_config(spec, chain, port, funded_accounts, para_ids), indent=2))
        argv += ["-p", str(cfg_path)]
        nodes[chain.name] = ParachainNode(
            chain.name, chain.para_id, port, f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        )
    proc = supervisor.spawn("chopsticks", argv, cwd=work_dir)
    if len(chains) > 1:
        proc.wait_for_log("Connected parachains", timeout)
    else:
        proc.wait_for_log("RPC listening", timeout)
    return ParachainNetwork(nodes=nodes, process=proc)
