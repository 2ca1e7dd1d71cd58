"""A node whose answers are not UTF-8 is a broken connection (`SubstrateConnectionError`), not a crash.

Frames are not UTF-8-checked in Python (relayers/substrate/client.py: it cost a third of a connect's CPU); the
decoding of the answer still refuses them. A real socket serves the WebSocket handshake and then a text frame
holding invalid UTF-8 for every request."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from collections.abc import Iterator

import pytest

from relayers.substrate import SubstrateClient
from relayers.substrate.errors import SubstrateConnectionError

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _serve_one(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))  # fmt: skip
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())  # RFC 6455 handshake
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")  # fmt: skip
        payload = b'{"jsonrpc":"2.0","id":1,"result":"\xff\xfe not utf-8"}'
        conn.sendall(bytes([0x81, len(payload)]) + payload)  # FIN + text frame, unmasked (server to client)
        conn.recv(4096)  # the client's close, if any


@pytest.fixture
def hostile_node() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    thread = threading.Thread(target=_serve_one, args=(listener,), daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_an_answer_that_is_not_utf8_is_a_connection_error(hostile_node: str) -> None:
    with pytest.raises(SubstrateConnectionError) as info:
        SubstrateClient(hostile_node, timeout=5.0)
    assert hostile_node in str(info.value)
    assert "utf-8" in str(info.value).lower()
