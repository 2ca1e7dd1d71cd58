"""What an enclave needs to rebuild a Phala batch stays pure: no substrate-interface, scalecodec or sockets, so it can
run (or move) where only the core is available."""

from __future__ import annotations

from tests.unit.imports import impure_imports

PURE = ["scale", "bridge_calls", "payload", "plan", "rebuild", "isolation", "errors", "events"]
FORBIDDEN = {"substrateinterface", "scalecodec", "websocket", "socket", "asyncio", "threading", "enclave_signer"}


def test_rebuild_closure_is_pure() -> None:
    problems = impure_imports("relayers.substrate", PURE, FORBIDDEN)
    assert not problems, "\n".join(problems)
