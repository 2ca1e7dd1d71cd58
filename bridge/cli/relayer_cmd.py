"""`phala-bridge relayer run --config node.toml`: one committee member's relayer daemon."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import typer

from bridge.batching import BatchPolicy
from bridge.cli.errors import EXIT_FAILURE, at_least, handle_errors
from bridge.cli.heap import frozen_heap_at_exit
from bridge.cli.loading import load_config
from bridge.config import NodeConfig, redact
from bridge.telemetry import configure_logging

if TYPE_CHECKING:
    from relayers.ethereum import EthereumConfig
    from relayers.store import SqlStore
    from relayers.substrate import PhalaConfig, PhalaDestination

app = typer.Typer(help="The relayer daemon: observe -> verify -> sign -> submit -> confirm.")
log = structlog.get_logger("relayer")


@app.command()
@handle_errors
def run(
    config: Path = typer.Option(..., "--config", "-c", help="node TOML file"),
    keys_timeout: float = typer.Option(600.0, help="seconds to wait for the enclave's committee keys (DKG)"),
) -> None:
    """Run until SIGTERM/SIGINT. Waits for the local enclave to hold committee keys first."""
    at_least(keys_timeout, 1, "--keys-timeout", " s")
    cfg = load_config(config, NodeConfig)
    configure_logging(cfg.node.log_format, cfg.node.log_level)
    try:
        with frozen_heap_at_exit():
            asyncio.run(_main(cfg, keys_timeout, str(config)))
    except _StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None


class _StartError(RuntimeError):
    pass


async def _check_phala_endpoint(dest: PhalaDestination) -> None:
    """Connect once at start, so an endpoint serving another parachain than `[chains.phala] para_id` stops the
    relayer with that sentence (every later connection checks it again). An endpoint that is down is not fatal:
    the stages retry, as on any outage."""
    from relayers.substrate.errors import ParaIdMismatch, SubstrateError

    try:
        await dest.session.run(lambda _reader: None)
    except ParaIdMismatch as exc:
        raise _StartError(redact.redact_urls(str(exc))) from None
    except SubstrateError as exc:
        # the endpoint's path or user info may hold its API key: logged as scheme, host and port
        log.warning(
            "phala_unreachable_at_start", url=redact.redact_url(dest.session.url), error=redact.redact_urls(str(exc))
        )


async def _bind_store(
    store: SqlStore, cfg: NodeConfig, eth: EthereumConfig, phala: PhalaConfig, config: str, stop: asyncio.Event
) -> bool:
    """Check the store was made for this deployment (record it on first use) before anything reads a cursor or
    writes: a mismatch stops the relayer with every differing field and the remedy. False: stopped while waiting
    for an endpoint."""
    from bridge.cli.store_identity import current_identity
    from relayers.ethereum.errors import ChainIdMismatch
    from relayers.store import StoreError, redact_url, store_errors
    from relayers.store.identity import bind
    from relayers.substrate.errors import ParaIdMismatch

    try:
        identity = await current_identity(eth, phala, stop=stop)
    except (ChainIdMismatch, ParaIdMismatch) as exc:  # they name the endpoint
        raise _StartError(redact.redact_urls(str(exc))) from None
    if identity is None:
        return False
    try:
        with store_errors(cfg.store.url, "check the deployment of"):
            await asyncio.to_thread(bind, store, identity, store_name=redact_url(cfg.store.url), config=config)
    except StoreError as exc:  # IdentityMismatch, or the database failing under the check
        raise _StartError(str(exc)) from None
    return True


async def _open_store(url: str, stop: asyncio.Event, retry: float = 1.0, max_retry: float = 30.0) -> SqlStore | None:
    """The store, opened before anything else (a wrong path or database stops the relayer at once, before it waits
    for its enclave). A database server that does not answer is waited for, with backoff, as a chain endpoint is: a
    PostgreSQL restarting under a node is normal operations (docs/decisions.md). None: stopped while waiting."""
    from relayers.store import StoreError, StoreUnavailable, open_store, redact_url

    delay = retry
    while True:
        try:
            return await asyncio.to_thread(open_store, url)
        except StoreUnavailable as exc:
            log.warning("store_unreachable", store=redact_url(url), error=str(exc), retry_in=delay)
        except StoreError as exc:
            raise _StartError(str(exc)) from None
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return None
        except TimeoutError:
            delay = min(delay * 2, max_retry)


async def _main(cfg: NodeConfig, keys_timeout: float, config: str = "node.toml") -> None:
    from relayers.store import StoreError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    store = await _open_store(cfg.store.url, stop)
    if store is None:
        return
    try:
        await _start(cfg, keys_timeout, config, store, stop)
    except BaseExceptionGroup as group:
        # A store that failed for good under the pipeline (a SQLite file locked or failing; a PostgreSQL that went
        # away is waited out instead): its one line, which `handle_errors` prints with exit 1, not the task group.
        failed = _first(group.subgroup(StoreError))
        if failed is None:
            raise
        raise failed from None
    finally:
        store.close()


def _first(found: BaseException | None) -> BaseException | None:
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


async def _start(cfg: NodeConfig, keys_timeout: float, config: str, store: SqlStore, stop: asyncio.Event) -> None:
    # Imported here, not at the top: `phala-bridge` answers every other command without loading the chain clients.
    from bridge.cli.wiring import ethereum_config, index_checkpoints, phala_config, policy_of
    from relayers.daemon.node import RelayerParts, run_relayer
    from relayers.daemon.pipeline import PipelineConfig
    from relayers.enclave_client import EnclaveClient, EnclaveClientError
    from relayers.ethereum import EthereumDestination, EthereumWatcher
    from relayers.store import StoreError, open_store
    from relayers.substrate import PhalaDestination, PhalaWatcher
    from relayers.substrate.replies import ReplyWatcher

    loop = asyncio.get_running_loop()
    enclave = EnclaveClient(cfg.enclave.socket)
    deadline = loop.time() + keys_timeout
    keys = None
    while keys is None and not stop.is_set():
        try:
            keys = (await enclave.status()).group_keys
        except EnclaveClientError as exc:
            log.info("waiting_for_enclave", socket=cfg.enclave.socket, error=str(exc))
        if keys is None:
            if loop.time() > deadline:
                raise _StartError(
                    f"the enclave at {cfg.enclave.socket} has no committee keys after {keys_timeout:.0f}s"
                )
            log.info("waiting_for_committee_keys", socket=cfg.enclave.socket)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    if keys is None:
        return
    # The enclave counts this relayer attached while it polls as one (`relayer_timeout_ms`, 10 s: "longer than a
    # relayer restart"). The store check below opens a session on each chain, which adds seconds to a restart, so
    # the relayer says it is attached as soon as its enclave has keys, and again once the check passed: a relayer
    # restarted after a crash keeps the lead instead of having it handed away while it starts (one that cannot
    # start stops polling, and loses it 10 s later).
    with contextlib.suppress(EnclaveClientError):
        await enclave.status(relayer=True)
    eth = ethereum_config(cfg, group_public_key=keys.secp256k1)
    phala = phala_config(cfg, keys.ed25519)
    if not await _bind_store(store, cfg, eth, phala, config, stop):
        return
    with contextlib.suppress(EnclaveClientError):  # attached, again (above): the store and both chains answered
        await enclave.status(relayer=True)
    try:
        # Checkpoints are written from the chain sessions' worker threads: their own connection, so a save never
        # commits in the middle of the pipeline's transactions.
        checkpoint_store = open_store(cfg.store.url) if cfg.checkpoints.enabled else None
    except StoreError as exc:
        raise _StartError(str(exc)) from None
    host, _, port = cfg.metrics.listen.rpartition(":")
    replies = ReplyWatcher(phala, checkpoints=index_checkpoints(cfg, checkpoint_store, "replies"))
    phala_dest = PhalaDestination(
        phala,
        executor=enclave.confidential_run,
        checkpoints=index_checkpoints(cfg, checkpoint_store, "destination"),
    )
    await _check_phala_endpoint(phala_dest)
    b = cfg.batching
    parts = RelayerParts(
        member_id=cfg.node.member_index,
        store=store,
        policy=policy_of(cfg),
        watchers=[EthereumWatcher(eth), PhalaWatcher(phala), replies],
        # Confidential calls run in the local enclave (their plaintext never reaches this process).
        destinations=[EthereumDestination(eth), phala_dest],
        enclave=enclave,
        pipeline_config=PipelineConfig(
            batch=BatchPolicy(max_messages=b.max_messages, max_wait=b.max_wait_ms / 1000, max_gas=b.max_gas)
        ),
        status_host=host,
        status_port=int(port),
    )
    try:
        await run_relayer(parts, stop)
    finally:
        # A clean stop: the next start reads only the blocks from here on.
        for index in (phala_dest.index, replies.view.index):
            await asyncio.to_thread(index.save_checkpoint)
        if checkpoint_store is not None:
            checkpoint_store.close()
