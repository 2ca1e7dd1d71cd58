"""Reading a module's imports from its source, for the tests that hold the import rules (architecture, purity)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    """Absolute module names `path` imports (relative imports are not used in this project)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def impure_imports(package: str, pure: Iterable[str], forbidden: set[str]) -> list[str]:
    """What breaks the purity of `pure` (module names inside `package`, e.g. "relayers.ethereum"): importing a
    top-level package in `forbidden`, or a module of `package` outside the pure set."""
    pure = set(pure)
    problems = []
    for module in sorted(pure):
        for imp in imports_of(ROOT.joinpath(*package.split("."), f"{module}.py")):
            if imp.split(".")[0] in forbidden:
                problems.append(f"{module} imports {imp}")
            if imp.startswith(package + ".") and imp.rsplit(".", 1)[1] not in pure:
                problems.append(f"{module} imports {imp}, outside the pure set")
    return problems
