"""/metrics and /health over a real socket."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from prometheus_client import Counter

from bridge.telemetry import new_registry
from relayers.daemon.http import StatusServer


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_metrics_and_health() -> None:
    registry = new_registry()
    Counter("phala_bridge_probe_total", "probe", registry=registry).inc(2)
    state = {"ok": True}

    async def main() -> None:
        server = StatusServer(registry, lambda: (state["ok"], {"lag": {"ethereum": 0}}), "127.0.0.1", 0)
        port = await server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            status, body = await asyncio.to_thread(_get, base + "/metrics")
            assert status == 200 and b"phala_bridge_probe_total 2.0" in body
            status, body = await asyncio.to_thread(_get, base + "/health")
            assert status == 200 and json.loads(body) == {"status": "ok", "lag": {"ethereum": 0}}
            state["ok"] = False
            status, body = await asyncio.to_thread(_get, base + "/health")
            assert status == 503 and json.loads(body)["status"] == "degraded"
            status, _ = await asyncio.to_thread(_get, base + "/nope")
            assert status == 404
        finally:
            await server.close()

    asyncio.run(main())
