"""What an enclave needs to check Ethereum messages and batches stays pure: no web3, requests, sockets or threads,
so it can run (or move) where only the core is available."""

from __future__ import annotations

import relayers.ethereum as package
from tests.unit.imports import impure_imports

PURE = ["views", "logs", "rebuild", "source_check", "fees", "outcome", "errors"]
FORBIDDEN = {"web3", "requests", "socket", "asyncio", "threading", "structlog", "enclave_signer"}


def test_check_closure_is_pure() -> None:
    problems = impure_imports("relayers.ethereum", PURE, FORBIDDEN)
    assert not problems, "\n".join(problems)


def test_the_purity_check_can_fail() -> None:
    # Guard against a checker that can never fail: the adapter's RPC module is not pure.
    assert any("web3" in p for p in impure_imports("relayers.ethereum", ["rpc"], FORBIDDEN))


def test_public_api_is_exported() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name
