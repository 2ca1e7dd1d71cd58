"""`phala-bridge devnet up | down | status`."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import load_config
from bridge.config import DevnetConfig
from bridge.devnet import control
from bridge.devnet.manager import Devnet
from bridge.devnet.state import DevnetState

app = typer.Typer(help="Run the local devnet: anvil, two Chopsticks parachains with XCMP, an MQTT broker.")
console = Console()

DEFAULT_CONFIG = Path("config/devnet.toml")
ConfigOpt = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="devnet TOML file")
WorkDirOpt = typer.Option(None, "--work-dir", help="state and logs (default: the config's devnet.work_dir)")


def _load(config: Path) -> DevnetConfig:
    # The default file may be absent (the defaults apply); one the user names must exist.
    return load_config(config, DevnetConfig) if config.exists() or config != DEFAULT_CONFIG else DevnetConfig()


def _checked_work_dir(path: Path) -> Path:
    wd = control.resolve_work_dir(path)
    if wd.exists() and not wd.is_dir():
        raise UsageError(
            f"{wd}: the devnet's work directory is a file, not a directory (--work-dir or devnet.work_dir)"
        )
    return wd


def _work_dir(config: Path, work_dir: Path | None) -> Path:
    cfg = _load(config)
    return _checked_work_dir(work_dir if work_dir is not None else Path(cfg.devnet.work_dir))


def print_status(state: DevnetState) -> bool:
    table = Table(title=f"devnet ({state.work_dir})")
    for col in ("endpoint", "url", "block height", "status"):
        table.add_column(col)
    ok = True
    for ep in control.probe(state):
        height = "" if ep.height is None else str(ep.height)
        table.add_row(ep.name, ep.url, height, "[green]up[/]" if ep.error is None else f"[red]{ep.error}[/]")
        ok = ok and ep.error is None
    console.print(table)
    console.print(f"ready in {state.ready_seconds:.2f}s; logs in {state.work_dir}/logs")
    return ok


@app.command()
@handle_errors
def up(
    config: Path = ConfigOpt,
    work_dir: Path | None = WorkDirOpt,
    foreground: bool = typer.Option(False, "--foreground", help="stay attached; Ctrl-C stops the devnet"),
    committee: bool = typer.Option(True, "--committee/--no-committee", help="also run the bridge (enclaves, relayers)"),
) -> None:
    """Start the devnet (chains, broker and, by default, the bridge committee) and print its endpoints."""
    cfg = _load(config)
    if not committee:
        cfg = cfg.model_copy(
            update={
                "devnet": cfg.devnet.model_copy(
                    update={"committee": cfg.devnet.committee.model_copy(update={"enabled": False})}
                )
            }
        )
    wd = _checked_work_dir(work_dir or Path(cfg.devnet.work_dir))
    if not foreground:
        state = control.start_detached(config.resolve() if config.exists() else config, wd, committee=committee)
        print_status(state)
        console.print("stop it with: phala-bridge devnet down")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Devnet(cfg.devnet, work_dir=wd) as state:
        print_status(state)
        console.print("Ctrl-C to stop")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


@app.command()
@handle_errors
def down(config: Path = ConfigOpt, work_dir: Path | None = WorkDirOpt) -> None:
    """Stop the devnet; no process is left behind."""
    wd = _work_dir(config, work_dir)
    if control.read_state(wd) is None:
        console.print(f"no devnet running in {wd}")
        return
    forced = control.stop(wd)
    console.print("devnet stopped" + (f" (killed by force: {', '.join(forced)})" if forced else ""))


@app.command()
@handle_errors
def status(config: Path = ConfigOpt, work_dir: Path | None = WorkDirOpt) -> None:
    """Show the devnet's endpoints and live block heights."""
    wd = _work_dir(config, work_dir)
    state = control.read_state(wd)
    if state is None:
        console.print(f"no devnet running in {wd}")
        raise typer.Exit(EXIT_FAILURE)
    if not print_status(state):
        raise typer.Exit(EXIT_FAILURE)


@app.command(name="xcm-origin")
@handle_errors
def xcm_origin(
    phala_ws: str = typer.Option(..., "--phala", help="Phala's websocket endpoint (the devnet's Chopsticks)"),
    bridge_account: str = typer.Option(..., help="0x + 64 hex: the bridge account whose gateway records count"),
    start_block: int = typer.Option(..., help="first Phala block to read"),
) -> None:
    """Devnet only: the relay stand-in that sends, with root origin on Phala, the XCM the bridge account's gateway
    records ask for (relayers/substrate/xcm_origin.py; production uses an origin granted by Phala governance)."""
    from bridge.addresses import parse_substrate_account
    from relayers.substrate import SubstrateClient
    from relayers.substrate.xcm_origin import DevnetRelayOrigin

    at_least(start_block, 0, "--start-block")
    account = parse_substrate_account(bridge_account)  # before connecting: a bad account is said at once
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SubstrateClient(phala_ws, timeout=30) as client:
        origin = DevnetRelayOrigin(client, account, start_block=start_block)
        console.print("xcm origin watching", phala_ws)
        with contextlib.suppress(KeyboardInterrupt):
            origin.run(stop.is_set)
