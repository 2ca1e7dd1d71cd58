"""`phala-bridge committee dkg | reshare | status`: operator commands, run through the local enclave's socket."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import load_config
from bridge.config import NodeConfig
from bridge.enclave_api import CeremonyResult, CommitteeRecord, StatusResult
from relayers.enclave_client import EnclaveApiError, EnclaveClient, EnclaveClientError

app = typer.Typer(help="Committee ceremonies and status, through this node's enclave.")
console = Console()
T = TypeVar("T")

ConfigOpt = typer.Option(..., "--config", "-c", help="node TOML file ([enclave] socket)")
JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")


def _ids(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated member ids, got {text!r}") from None
    if not ids or any(not 0 < i < 65536 for i in ids) or len(set(ids)) != len(ids):
        raise UsageError(f"{what}: expected distinct member ids in 1..65535, got {text!r}")
    return ids


def _call(config: Path, action: Callable[[EnclaveClient], Awaitable[T]]) -> T:
    cfg = load_config(config, NodeConfig)

    async def go() -> T:
        async with EnclaveClient(cfg.enclave.socket) as client:
            return await action(client)

    try:
        return asyncio.run(go())
    except EnclaveApiError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None
    except EnclaveClientError as exc:
        print(f"error: {exc} (is `phala-bridge enclave run --config {config}` running?)", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None


def _print_json(model: BaseModel) -> None:
    typer.echo(json.dumps(model.model_dump(mode="json"), indent=2))


def _print_record(record: CommitteeRecord) -> None:
    table = Table(title=f"committee {record.committee_id}, epoch {record.epoch}, threshold {record.threshold}")
    for col in ("member", "identity public key", "quote digest", "platform"):
        table.add_column(col)
    for m in record.members:
        table.add_row(str(m.member_id), m.identity_public_key.hex(), m.quote_digest.hex()[:32] + "...", m.platform_id)
    console.print(table)
    keys = record.group_keys
    console.print(f"group key secp256k1 (Ethereum):   0x{keys.secp256k1.hex()}")
    console.print(f"group key ed25519 (Phala account): 0x{keys.ed25519.hex()}")
    console.print(f"group key encryption (ECIES):      0x{keys.encryption.hex()}")
    if record.excluded:
        console.print(f"[yellow]excluded: {list(record.excluded)}[/]")
    console.print(f"record digest: 0x{record.digest().hex()} (record it on chain: `--json` prints the full record)")


def _print_ceremony(result: CeremonyResult, as_json: bool) -> None:
    if as_json:
        _print_json(result)
    else:
        _print_record(result.record)


@app.command()
@handle_errors
def dkg(
    config: Path = ConfigOpt,
    participants: str | None = typer.Option(None, help="member ids, e.g. 1,2,3,4,5 (default: committee.members)"),
    threshold: int | None = typer.Option(None, help="default: committee.threshold"),
    timeout: float = typer.Option(60.0, help="seconds for the whole ceremony"),
    as_json: bool = JsonOpt,
) -> None:
    """Run the DKG ceremony (this node's enclave coordinates) and print the group keys and the committee record."""
    if threshold is not None:
        at_least(threshold, 1, "--threshold")
    at_least(timeout, 1, "--timeout", " s")
    ids = _ids(participants, "--participants")
    result = _call(config, lambda c: c.dkg(ids, threshold, timeout_s=timeout))
    _print_ceremony(result, as_json)


@app.command()
@handle_errors
def reshare(
    config: Path = ConfigOpt,
    new_members: str = typer.Option(..., help="the new committee's member ids, e.g. 2,3,4,5,6"),
    new_threshold: int = typer.Option(...),
    old_signers: str | None = typer.Option(None, help="old members that deal (default: t members up)"),
    timeout: float = typer.Option(60.0, help="seconds for the whole ceremony"),
    as_json: bool = JsonOpt,
) -> None:
    """Move the same group keys to a new committee (new epoch); members joining must run at the new epoch."""
    at_least(new_threshold, 1, "--new-threshold")
    at_least(timeout, 1, "--timeout", " s")
    members = _ids(new_members, "--new-members") or []
    signers = _ids(old_signers, "--old-signers")
    if new_threshold > len(members):
        raise UsageError(f"--new-threshold {new_threshold} exceeds the {len(members)} new members")
    result = _call(config, lambda c: c.reshare(members, new_threshold, old_signers=signers, timeout_s=timeout))
    _print_ceremony(result, as_json)


@app.command()
@handle_errors
def status(config: Path = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Who this enclave is, its epoch and keys, who is up and who leads."""
    result: StatusResult = _call(config, lambda c: c.status())
    if as_json:
        _print_json(result)
        return
    console.print(
        f"member {result.member_id} of committee {result.committee_id}, epoch {result.epoch}, "
        f"threshold {result.threshold}, keys: {'yes' if result.has_keys else 'no'}"
    )
    console.print(f"members {list(result.members)}; up {list(result.members_up)}; leader {result.leader}")
    console.print(f"attested {list(result.attested)}; broker {'connected' if result.broker_connected else 'down'}")
    console.print(f"measurement 0x{result.measurement.hex()}; platform {result.platform_id}")
    if result.group_keys is not None:
        console.print(f"secp256k1 0x{result.group_keys.secp256k1.hex()}")
        console.print(f"ed25519   0x{result.group_keys.ed25519.hex()}")
    if result.quote_rejections:
        console.print(f"[yellow]quotes refused: {result.quote_rejections}[/]")
