"""`phala-bridge demo`: the main job. Brings the devnet up, shows it working, takes it down."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from bridge.cli.devnet_cmd import print_status
from bridge.cli.errors import handle_errors
from bridge.cli.loading import load_config
from bridge.config import DevnetConfig
from bridge.devnet.manager import Devnet

console = Console()


@handle_errors
def demo(
    config: Path = typer.Option(Path("config/devnet.toml"), "--config", "-c", help="devnet TOML file"),
) -> None:
    """Bring up the devnet, show its endpoints and live block heights, and take it down again."""
    cfg = load_config(config, DevnetConfig)
    with Devnet(cfg.devnet, work_dir=Path(cfg.devnet.work_dir) / "demo") as state:
        console.rule("devnet up")
        if not print_status(state):
            raise typer.Exit(1)
    console.rule("devnet down: every process stopped")
