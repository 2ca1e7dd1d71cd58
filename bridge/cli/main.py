"""`phala-bridge`: the entry point."""

from __future__ import annotations

from typing import Literal

import typer

from bridge.cli import (
    call_cmd,
    committee_cmd,
    config_cmd,
    demo_cmd,
    devnet_cmd,
    enclave_cmd,
    relayer_cmd,
    store_cmd,
    transfer_cmd,
)
from bridge.telemetry import configure_logging

app = typer.Typer(
    name="phala-bridge",
    help="Phala bridge: relayers, enclave committee, devnet and user commands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(devnet_cmd.app, name="devnet")
app.add_typer(config_cmd.app, name="config")
app.add_typer(enclave_cmd.app, name="enclave")
app.add_typer(committee_cmd.app, name="committee")
app.add_typer(relayer_cmd.app, name="relayer")
app.add_typer(store_cmd.app, name="store")
app.add_typer(call_cmd.app, name="call")
app.command(name="demo")(demo_cmd.demo)
app.command(name="transfer")(transfer_cmd.transfer)
app.command(name="status")(transfer_cmd.status)


@app.callback()
def _root(
    log_format: Literal["console", "json"] = typer.Option("console", "--log-format", help="console or json"),
    log_level: Literal["debug", "info", "warning", "error"] = typer.Option("warning", "--log-level"),
) -> None:
    configure_logging(log_format, log_level)


if __name__ == "__main__":
    app()
