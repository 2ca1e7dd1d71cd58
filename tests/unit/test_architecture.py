"""The import direction the design promises, checked on the source (not on trust).

- `bridge` core (everything but `bridge.cli`, `bridge.devnet` and `bridge.client`) imports nothing else of ours and does
  no I/O.
- `enclave_signer` and `relayers` depend on `bridge` only, never on each other or on the application edge.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.imports import ROOT, imports_of

EDGE = ("bridge.cli", "bridge.devnet", "bridge.client")
IO_MODULES = {
    "socket", "subprocess", "urllib", "http", "requests", "aiohttp", "websocket", "websockets", "web3",
    "substrateinterface", "aiomqtt", "paho", "sqlite3", "psycopg", "shutil", "asyncio.subprocess",
}  # fmt: skip
PURE_EXCEPTIONS = {"urllib.parse"}  # string parsing only


def _modules(package: str) -> list[tuple[str, Path]]:
    base = ROOT / package
    out = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        out.append((name, path))
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def test_bridge_core_is_pure() -> None:
    problems = []
    for name, path in _modules("bridge"):
        if name.startswith(EDGE):
            continue
        for imp in imports_of(path):
            if imp.startswith(EDGE) or _top(imp) in ("relayers", "enclave_signer"):
                problems.append(f"{name} imports {imp} (the core depends on nothing of ours)")
            if imp not in PURE_EXCEPTIONS and (imp in IO_MODULES or _top(imp) in IO_MODULES):
                problems.append(f"{name} imports {imp} (the core does no I/O)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("package", "forbidden"), [("enclave_signer", "relayers"), ("relayers", "enclave_signer")])
def test_adapters_and_signers_do_not_depend_on_each_other(package: str, forbidden: str) -> None:
    if not (ROOT / package).exists():
        pytest.skip(f"{package} not present")
    problems = []
    for name, path in _modules(package):
        for imp in imports_of(path):
            if _top(imp) == forbidden or imp.startswith(EDGE):
                problems.append(f"{name} imports {imp}")
    assert not problems, "\n".join(problems)


def test_the_rule_detects_a_violation(tmp_path: Path) -> None:
    # Guard against a checker that can never fail.
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nfrom relayers.ethereum import x\n")
    assert imports_of(bad) == {"socket", "relayers.ethereum"}
