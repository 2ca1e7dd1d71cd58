"""What an enclave needs to check Ethereum messages and batches stays pure: no web3, requests, sockets or threads,
so it can run (or move) where only the core is available."""

from __future__ import annotations

import ast
from pathlib import Path

import relayers.ethereum as package

ROOT = Path(__file__).resolve().parents[3]
PURE = ["views", "logs", "rebuild", "source_check", "fees", "outcome", "errors"]
FORBIDDEN = {"web3", "requests", "socket", "asyncio", "threading", "structlog", "enclave_signer"}


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "relayers" / "ethereum" / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_check_closure_is_pure() -> None:
    problems = []
    for module in PURE:
        for imp in _imports(module):
            if imp.split(".")[0] in FORBIDDEN:
                problems.append(f"{module} imports {imp}")
            if imp.startswith("relayers.ethereum.") and imp.rsplit(".", 1)[1] not in PURE:
                problems.append(f"{module} imports {imp}, outside the pure set")
    assert not problems, "\n".join(problems)


def test_public_api_is_exported() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name
