"""anvil: the devnet's Ethereum node."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bridge.devnet.ports import free_port
from bridge.devnet.processes import ManagedProcess, ProcessSupervisor
from bridge.devnet.tools import anvil_binary

_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class AnvilNode:
    rpc_url: str
    port: int
    chain_id: int
    process: ManagedProcess


def start_anvil(
    supervisor: ProcessSupervisor,
    *,
    chain_id: int,
    name: str = "anvil",
    load_state: Path | None = None,
    block_time: float | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 15.0,
) -> AnvilNode:
    """Start anvil on a free port (anvil picks it: `--port 0`) and wait until it listens.

    `load_state` restores a dump made with `--dump-state`; the chain id is not part of a dump, so it is always
    passed again.
    """
    argv = [str(anvil_binary()), "--host", "127.0.0.1", "--port", "0", "--chain-id", str(chain_id)]
    if load_state is not None:
        argv += ["--load-state", str(load_state)]
    if block_time is not None:
        argv += ["--block-time", str(block_time)]
    argv += list(extra_args)
    proc = supervisor.spawn(name, argv)
    proc.wait_for_log(lambda text: _LISTENING.search(text) is not None, timeout)
    match = _LISTENING.search(proc.log_path.read_text(errors="replace"))
    assert match is not None  # wait_for_log saw it
    port = int(match.group(1))
    return AnvilNode(rpc_url=f"http://127.0.0.1:{port}", port=port, chain_id=chain_id, process=proc)


__all__ = ["AnvilNode", "free_port", "start_anvil"]
