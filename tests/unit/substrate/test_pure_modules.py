"""What an enclave needs to rebuild a Phala batch stays pure: no substrate-interface, scalecodec or sockets, so it can
run (or move) where only the core is available."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PURE = ["scale", "bridge_calls", "payload", "plan", "rebuild", "isolation", "errors", "events"]
FORBIDDEN = {"substrateinterface", "scalecodec", "websocket", "socket", "asyncio", "threading", "enclave_signer"}


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "relayers" / "substrate" / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_rebuild_closure_is_pure() -> None:
    problems = []
    for module in PURE:
        for imp in _imports(module):
            if imp.split(".")[0] in FORBIDDEN:
                problems.append(f"{module} imports {imp}")
            if imp.startswith("relayers.substrate.") and imp.rsplit(".", 1)[1] not in PURE:
                problems.append(f"{module} imports {imp}, outside the pure set")
    assert not problems, "\n".join(problems)
