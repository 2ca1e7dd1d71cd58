"""`phala-bridge config check FILE`: validate a config file and say exactly what is wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import typer
from pydantic import BaseModel

from bridge.cli.errors import handle_errors
from bridge.cli.loading import load_config
from bridge.config import ChainRegistry, DevnetConfig, NodeConfig

app = typer.Typer(help="Validate configuration files.")

_MODELS: dict[str, type[BaseModel]] = {"node": NodeConfig, "devnet": DevnetConfig, "chains": ChainRegistry}


def _guess_kind(path: Path) -> str:
    try:
        keys = set(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "node"  # load_config reports the real problem
    if "devnet" in keys:
        return "devnet"
    if "node" in keys:
        return "node"
    return "chains" if "resources" in keys or keys == {"chains"} else "node"


@app.command()
@handle_errors
def check(
    file: Path = typer.Argument(..., help="the TOML file"),
    kind: Literal["auto", "node", "devnet", "chains"] = typer.Option("auto", help="which kind of file it is"),
) -> None:
    """Validate FILE; print `ok` or every problem with its key path."""
    chosen = _guess_kind(file) if kind == "auto" else kind
    load_config(file, _MODELS[chosen])
    typer.echo(f"{file}: ok ({chosen} config)")
