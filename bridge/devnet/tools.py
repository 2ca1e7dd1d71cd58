"""Where the pinned Node tools live (installed by `npm ci` from the committed package-lock.json)."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = PROJECT_ROOT / "node_modules"


class ToolMissingError(RuntimeError):
    pass


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolMissingError("node is not on PATH; install Node.js 20 (the Makefile's `make setup` expects it)")
    return node


def anvil_binary() -> Path:
    path = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if not path.exists():
        raise ToolMissingError(f"anvil not found at {path}; run `make setup` (npm ci) first")
    return path


def chopsticks_entry() -> Path:
    path = NODE_MODULES / "@acala-network" / "chopsticks" / "chopsticks.cjs"
    if not path.exists():
        raise ToolMissingError(f"Chopsticks not found at {path}; run `make setup` (npm ci) first")
    return path


def spec_extractor() -> Path:
    return Path(__file__).resolve().parent / "js" / "extract-spec.cjs"
