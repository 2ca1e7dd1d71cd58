"""The raw JSON-RPC batches (send inputs, bridge views, source reads) against a small local JSON-RPC server: what is
asked (one HTTP request, at which block), how answers and errors come back (a revert is the typed error)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_abi.abi import encode

from relayers.ethereum.errors import BridgeContractError, RpcUnavailable, TransactionRejected
from relayers.ethereum.rpc import EthRpc
from tests.unit.ethereum.helpers import BRIDGE, TOKEN

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@contextmanager
def node(answer: Answer) -> Iterator[tuple[str, list[Any]]]:
    """A JSON-RPC server over HTTP that answers each request of a batch with `answer`; records every body."""
    bodies: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            bodies.append(body)
            reply = [dict(answer(r), jsonrpc="2.0", id=r["id"]) for r in body] if isinstance(body, list) else {}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def _rpc(url: str) -> EthRpc:
    return EthRpc(url, chain_id=31337, bridge=BRIDGE, timeout=5)


def test_send_inputs_is_one_request_and_estimates_at_latest() -> None:
    def answer(r: dict[str, Any]) -> dict[str, Any]:
        replies: dict[str, dict[str, Any]] = {
            "eth_estimateGas": {"result": hex(61_000)},
            "eth_getBlockByNumber": {"result": {"number": "0x10", "baseFeePerGas": hex(7)}},
            "eth_maxPriorityFeePerGas": {"result": hex(2)},
            "eth_createAccessList": {
                "result": {"accessList": [{"address": TOKEN, "storageKeys": ["0x" + "00" * 31 + "01"]}]}
            },
        }
        return replies[r["method"]]

    with node(answer) as (url, bodies):
        inputs = _rpc(url).send_inputs({"from": BRIDGE, "to": BRIDGE, "data": b"\x01\x02"}, access_list=True)
    assert (inputs.estimate, inputs.base_fee, inputs.tip) == (61_000, 7, 2)
    assert inputs.access_list == [{"address": TOKEN, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    (body,) = bodies  # one HTTP request
    estimate = next(r for r in body if r["method"] == "eth_estimateGas")
    # At `latest`: on `pending`, a batch already in the pool for the same nonces would make this one revert.
    assert estimate["params"][1] == "latest" and estimate["params"][0]["data"] == "0x0102"


def test_a_revert_in_the_batch_is_the_typed_contract_error() -> None:
    selector = bytes.fromhex("deadbeef")

    def answer(r: dict[str, Any]) -> dict[str, Any]:
        if r["method"] == "eth_estimateGas":
            return {"error": {"code": 3, "message": "execution reverted", "data": "0x" + selector.hex()}}
        return {"result": hex(1)}

    with node(answer) as (url, _), pytest.raises(BridgeContractError):
        _rpc(url).send_inputs({"from": BRIDGE, "to": BRIDGE, "data": b""}, access_list=False)


def test_a_refused_raw_transaction_is_transaction_rejected() -> None:
    with (
        node(lambda r: {"error": {"code": -32000, "message": "nonce too low"}}) as (url, _),
        pytest.raises(TransactionRejected, match="nonce too low"),
    ):
        _rpc(url).send_raw(b"\x02\x01")


def test_bridge_reads_decode_as_web3_did() -> None:
    def answer(r: dict[str, Any]) -> dict[str, Any]:
        if r["method"] == "eth_blockNumber":
            return {"result": "0x2a"}
        selector = r["params"][0]["data"][2:10]
        out = {
            "resource": encode(["address", "uint8"], [TOKEN, 6]),
            "nonceWord": encode(["uint256"], [5]),
        }
        name = "resource" if selector == _selector("resource(bytes32)") else "nonceWord"
        assert r["params"][1] == "latest"
        return {"result": "0x" + out[name].hex()}

    with node(answer) as (url, bodies):
        head, (resource, word) = _rpc(url).bridge_reads([("resource", (b"\x01" * 32,)), ("nonceWord", (2, 0))])
    assert head == 42
    assert resource == [TOKEN, 6]  # several outputs: a list, the address checksummed
    assert word == 5  # one output: the value itself
    assert len(bodies) == 1


def test_a_garbled_answer_is_unavailable_not_a_refusal() -> None:
    """Not JSON (a proxy's error page, a cut answer): the node's verdict is unknown, so a raw transaction is NOT
    reported as refused (which would mean nothing was sent): the transport error passes on, retryable."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"oops")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rpc = _rpc(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(RpcUnavailable, match="not JSON"):
            rpc.send_raw(b"\x01")
        with pytest.raises(RpcUnavailable):
            rpc.bridge_reads([("nonceWord", (2, 0))])
    finally:
        server.shutdown()
        server.server_close()


def _selector(signature: str) -> str:
    from eth_hash.auto import keccak

    return keccak(signature.encode())[:4].hex()
