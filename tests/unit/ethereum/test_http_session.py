"""The JSON-RPC session reads the environment once and still honours it: proxies, NO_PROXY, CA bundle, netrc.

The proxy case goes over real sockets: the endpoint's host does not resolve, so an answer proves the request went
through the proxy named in the environment, for web3's calls and for the raw batches alike."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relayers.ethereum.http_session import rpc_session
from relayers.ethereum.rpc import EthRpc
from tests.unit.ethereum.helpers import BRIDGE

ENDPOINT = "http://rpc.invalid:8545"  # .invalid never resolves (RFC 6761)
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


class _Proxy(ThreadingHTTPServer):
    seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    """A forward proxy that answers every JSON-RPC request itself: chain id 31337, block 7."""

    server: _Proxy

    def do_POST(self) -> None:
        self.server.seen.append(self.requestline)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        calls = body if isinstance(body, list) else [body]
        answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x7a69" if c["method"] == "eth_chainId" else "0x7"}
                   for c in calls]  # fmt: skip
        data = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy(("127.0.0.1", 0), _Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_calls_go_through_the_proxy_the_environment_names(clean_env: pytest.MonkeyPatch, proxy: _Proxy) -> None:
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    rpc = EthRpc(ENDPOINT, chain_id=31337, bridge=BRIDGE, timeout=5.0)
    assert asyncio.run(rpc.run(lambda r: r.head_number())) == 7  # web3's session (and the chain-id check)
    assert rpc._raw_batch([("eth_blockNumber", [])]) == ["0x7"]  # the raw batch session
    assert len(proxy.seen) >= 3
    assert all(line.startswith(f"POST {ENDPOINT}") for line in proxy.seen)  # absolute URI: a proxy request


def test_no_proxy_covering_the_host_means_a_direct_connection(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    clean_env.setenv("NO_PROXY", "rpc.invalid")
    assert rpc_session(ENDPOINT).proxies == {}
    assert rpc_session("http://elsewhere.invalid:8545").proxies.get("http") == "http://127.0.0.1:9"


def test_the_environment_is_read_once_and_not_per_request(clean_env: pytest.MonkeyPatch) -> None:
    session = rpc_session(ENDPOINT)
    assert session.trust_env is False
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # too late for this session: a daemon's env is fixed
    assert session.proxies == {}
    assert session.verify is True


def test_ca_bundle_and_netrc_are_taken(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine rpc.invalid login relayer password s3cret\n")
    netrc.chmod(0o600)
    clean_env.setenv("NETRC", str(netrc))
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    session = rpc_session(ENDPOINT)
    assert session.auth == ("relayer", "s3cret")
    assert session.verify == str(tmp_path / "ca.pem")
