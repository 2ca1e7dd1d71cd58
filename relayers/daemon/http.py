"""`/metrics` (Prometheus text) and `/health` (JSON) over a tiny asyncio HTTP server: no framework needed for two
read-only endpoints, and nothing here can change the daemon's state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]
# GET /<prefix>/<arg> -> (status, JSON body); e.g. "message" -> the state of one message
RouteFn = Callable[[str], tuple[int, Any]]


class StatusServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        health: HealthFn,
        host: str,
        port: int,
        routes: dict[str, RouteFn] | None = None,
        extra_metrics: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self.registry = registry
        self.health = health
        self.routes = routes or {}
        self.extra_metrics = extra_metrics  # more families appended to /metrics (the local enclave's)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request = await reader.readuntil(b"\r\n\r\n")
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            if method != "GET":
                self._reply(writer, 405, "text/plain", b"method not allowed\n")
            elif path == "/metrics":
                extra = b"" if self.extra_metrics is None else await self.extra_metrics()
                self._reply(writer, 200, CONTENT_TYPE_LATEST, generate_latest(self.registry) + extra)
            elif path == "/health":
                ok, detail = self.health()
                body = json.dumps({"status": "ok" if ok else "degraded", **detail}, default=str).encode()
                self._reply(writer, 200 if ok else 503, "application/json", body)
            elif path.count("/") == 2 and path.split("/")[1] in self.routes:
                _, prefix, arg = path.split("/")
                status, body = self.routes[prefix](urllib.parse.unquote(arg))
                self._reply(writer, status, "application/json", json.dumps(body, default=str).encode())
            else:
                self._reply(writer, 404, "text/plain", b"not found\n")
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    def _reply(writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            503: "Service Unavailable",
        }[status]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
