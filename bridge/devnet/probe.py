"""Liveness probes of devnet endpoints over plain JSON-RPC (no heavy clients: status must be quick)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from bridge.devnet.ports import port_is_open


class ProbeError(RuntimeError):
    pass


def _rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 3.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback devnet URLs
            reply = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise ProbeError(f"{url}: {exc}") from exc
    if "error" in reply:
        raise ProbeError(f"{url}: {method} failed: {reply['error']}")
    return reply.get("result")


def eth_block_number(rpc_url: str) -> int:
    return int(_rpc(rpc_url, "eth_blockNumber"), 16)


def substrate_block_number(http_url: str) -> int:
    header = _rpc(http_url, "chain_getHeader")
    return int(header["number"], 16)


def broker_alive(host: str, port: int) -> bool:
    return port_is_open(port, host)
