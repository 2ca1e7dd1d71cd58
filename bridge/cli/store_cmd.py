"""`phala-bridge store show | rebind | requeue`: the relayer store's deployment, cursors and messages; binding it to
another deployment on purpose (docs/operations.md, "The store's deployment"); giving a `failed` message another try
(docs/operations.md, "Requeueing a failed message")."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bridge.cli.errors import EXIT_FAILURE, EXIT_USAGE, handle_errors
from bridge.cli.loading import load_config
from bridge.config import NodeConfig
from bridge.errors import TransitionError
from relayers.store import (
    PendingMessages,
    SqlStore,
    StoreError,
    UnknownMessage,
    open_store,
    redact_url,
    store_error,
)
from relayers.store.factory import database_errors
from relayers.store.identity import MISSING_CHAIN, ChainIdentity, compare
from relayers.store.identity import rebind as rebind_store

app = typer.Typer(help="The relayer's store: what deployment it is bound to, its cursors and messages.")
console = Console()

ConfigOpt = typer.Option(..., "--config", "-c", help="node TOML file ([store] url; [enclave] socket for rebind)")


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_FAILURE)


@contextmanager
def _opened(url: str) -> Iterator[SqlStore]:
    # Opening a SQLite path creates the file: a mistyped path must say so, not show an empty store.
    if (
        url.startswith("sqlite:///")
        and url != "sqlite:///:memory:"
        and not Path(url.removeprefix("sqlite:///")).exists()
    ):
        raise _fail(f"no store at {url} (the relayer creates it on its first start)")
    try:
        store = open_store(url)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        yield store
    except database_errors() as exc:  # the database failing under a read or the rebind: one line, not a traceback
        raise _fail(str(store_error(url, exc, "read or write"))) from None
    finally:
        store.close()


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + " UTC"


def _pending(counts: dict[str, int]) -> dict[str, int]:
    return {s: n for s, n in counts.items() if s not in ("executed", "failed") and n}


def _summary(store: SqlStore) -> dict[str, Any]:
    counts = store.counts()
    return {
        "deployment": [
            {"chain": c, "field": f, "value": v, "origin": o, "recorded_at": t}
            for c, f, v, o, t in store.deployment_rows()
        ],
        "cursors": [
            {"name": c.chain, "block": c.block_number, "hash": c.block_hash, "sequence": c.sequence}
            for c in store.cursors()
        ],
        "messages": counts,
        "pending": _pending(counts),
        "checkpoints": [{"name": n, "block": b, "saved_at": t} for n, b, t in store.checkpoint_list()],
        "archived": [
            {"archived_at": at, "deployment": json.loads(dep), "messages": total, "pending": pending}
            for at, dep, total, pending in store.archived()
        ],
        "rejections": len(store.rejections()),
    }


@app.command()
@handle_errors
def show(
    config: Path = ConfigOpt, as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables")
) -> None:
    """The deployment the store is bound to, its cursors, messages by state and what earlier rebinds moved aside.
    Reads the store only (the relayer may be running)."""
    cfg = load_config(config, NodeConfig)
    with _opened(cfg.store.url) as store:
        info = _summary(store)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"store {redact_url(cfg.store.url)}")
    if info["deployment"]:
        table = Table(title="deployment")
        for col in ("chain", "field", "value", "origin", "recorded"):
            table.add_column(col)
        for row in info["deployment"]:
            table.add_row(row["chain"], row["field"], row["value"], row["origin"], _when(row["recorded_at"]))
        console.print(table)
    else:
        typer.echo("deployment: not recorded yet (the relayer records it on its next start)")
    table = Table(title="cursors")
    for col in ("watcher", "block", "hash", "deposits counted"):
        table.add_column(col)
    for c in info["cursors"]:
        table.add_row(c["name"], str(c["block"]), c["hash"], str(c["sequence"]))
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(info["messages"].items())) or "none"
    typer.echo(f"messages: {counts}; pending: {sum(info['pending'].values())}")
    typer.echo(f"funds without a valid intent (rejections): {info['rejections']}")
    for cp in info["checkpoints"]:
        typer.echo(f"checkpoint {cp['name']} at block {cp['block']} ({_when(cp['saved_at'])})")
    for a in info["archived"]:
        pending = sum(a["pending"].values())
        typer.echo(
            f"archived {_when(a['archived_at'])}: {a['messages']} message(s), {pending} of them pending when moved "
            "aside (table archived_messages)"
        )


def _relayer_answers(listen: str, timeout: float = 2.0) -> bool:
    """Whether something answers HTTP on the relayer's status address (`[metrics] listen`): a running relayer would
    write its cursors and messages back over a rebind."""
    import urllib.error
    import urllib.request

    host, _, port = listen.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host.strip("[]")  # noqa: S104 (a listen address, read)
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # 503: a relayer whose enclave or a stage is down still runs
    except (OSError, ValueError):
        return False


async def _current(cfg: NodeConfig) -> list[ChainIdentity]:
    from bridge.cli.store_identity import current_identity
    from relayers.enclave_client import EnclaveClient

    async with EnclaveClient(cfg.enclave.socket) as client:
        keys = (await client.status()).group_keys
    if keys is None:
        raise _fail(f"the enclave at {cfg.enclave.socket} holds no committee keys yet: run the DKG first")
    from bridge.cli.wiring import ethereum_config, phala_config  # the chain clients: only for this command

    eth = ethereum_config(cfg, group_public_key=keys.secp256k1)
    phala = phala_config(cfg, keys.ed25519)
    found = await current_identity(eth, phala)
    assert found is not None  # without `stop`, an unreachable chain raises
    return found


@app.command()
@handle_errors
def rebind(
    config: Path = ConfigOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
    force: bool = typer.Option(False, "--force", help="rebind even if messages are still pending (moved aside)"),
) -> None:
    """Bind the store to the deployment `config` describes: every message is moved to archived_messages, cursors and
    checkpoints are dropped (the watchers start again from start_block), the new identity is recorded. Stop the
    relayer first; the enclave must be running (it gives the Phala bridge account)."""
    from bridge.cli.store_identity import ChainUnreachable
    from relayers.enclave_client import EnclaveClientError
    from relayers.ethereum.errors import ChainIdMismatch
    from relayers.substrate.errors import ParaIdMismatch

    cfg = load_config(config, NodeConfig)
    if _relayer_answers(cfg.metrics.listen):
        raise _fail(
            f"a relayer answers on {cfg.metrics.listen} ([metrics] listen): stop it before rebinding its store "
            "(nothing changed)"
        )
    name = redact_url(cfg.store.url)
    with _opened(cfg.store.url) as store:  # first: a wrong store is said before the enclave and chains are asked
        try:
            current = asyncio.run(_current(cfg))
        except EnclaveClientError as exc:
            raise _fail(f"{exc} (is `phala-bridge enclave run --config {config}` running?)") from None
        except (ChainUnreachable, ChainIdMismatch, ParaIdMismatch) as exc:
            raise _fail(str(exc)) from None
        recorded = store.deployment()
        comparison = compare(recorded, current)
        if recorded and comparison.matches:
            typer.echo(f"the store {name} is already bound to this deployment: nothing to do")
            return
        typer.echo(f"store {name}")
        for d in comparison.differences:
            current_value = "(none)" if d.field == MISSING_CHAIN else d.current
            typer.echo(f"  {d.chain}.{d.field}: recorded {d.recorded} -> {current_value}")
        if not recorded:
            typer.echo("  (no deployment recorded yet)")
        counts = store.counts()
        pending = _pending(counts)
        total = sum(counts.values())
        if pending and not force:
            raise _fail(str(PendingMessages(pending)))
        cursors = len(store.cursors())
        typer.echo(
            f"will move {total} message(s) ({sum(pending.values())} pending) to archived_messages, drop {cursors} "
            "cursor(s) and every checkpoint, and record the identity above"
        )
        if not yes and not typer.confirm("rebind this store?", default=False):
            raise _fail("not confirmed; nothing changed")
        try:
            done = rebind_store(store, current, force=force, store_name=name)
        except PendingMessages as exc:  # a message arrived meanwhile: is the relayer still running?
            raise _fail(str(exc)) from None
    typer.echo(
        f"rebound: {done.archived} message(s) archived ({sum(done.pending.values())} pending), {done.cursors} "
        f"cursor(s) and {done.checkpoints} checkpoint(s) dropped; the relayer starts from each chain's start_block"
    )


_MESSAGE_ID_LENGTH = 66  # 0x + 64 hex


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "an operator"


@app.command()
@handle_errors
def requeue(
    message_id: str = typer.Argument(..., help="0x + 64 hex: the id of a failed message"),
    config: Path = ConfigOpt,
    reason: str = typer.Option("", "--reason", help="why (recorded with who and when, in the message's reason)"),
) -> None:
    """Move a `failed` message back to `verified`, so the relayer signs and submits it again (a token re-enabled, a
    call target allow-listed, a config fixed). Only a failed message: any other state is refused, nothing changed.
    Safe with the relayer running; a message the destination did execute is found executed before signing."""
    mid = message_id.strip().lower()
    if len(mid) != _MESSAGE_ID_LENGTH or not mid.startswith("0x") or any(c not in "0123456789abcdef" for c in mid[2:]):
        print(f"error: expected a 0x + 64 hex message id, got {message_id!r}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    why = " ".join(reason.split())[:500] or "no reason given"
    cfg = load_config(config, NodeConfig)
    with _opened(cfg.store.url) as store:
        try:
            before = store.requeue(mid, reason=why, by=_who())
        except TransitionError as exc:
            print(f"error: message {mid}: {exc}; nothing changed", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
        except UnknownMessage:
            name = redact_url(cfg.store.url)
            print(f"error: no message {mid} in the store {name}; nothing changed", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
    typer.echo(
        f"requeued {mid}: failed -> verified (it had failed: {before.reason or 'no reason recorded'}); the relayer "
        "signs it with its next batch to that destination, unless the destination already executed it"
    )
