"""Errors of the transport are typed at the boundary (no node needed: a closed local port)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from relayers.ethereum.errors import RpcUnavailable
from relayers.ethereum.rpc import EthRpc
from tests.unit.ethereum.helpers import BRIDGE


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_node_is_rpc_unavailable() -> None:
    rpc = EthRpc(f"http://127.0.0.1:{_closed_port()}", chain_id=31337, bridge=BRIDGE, timeout=2.0)
    with pytest.raises(RpcUnavailable) as info:
        asyncio.run(rpc.run(lambda r: r.head_number()))
    assert info.value.retryable
