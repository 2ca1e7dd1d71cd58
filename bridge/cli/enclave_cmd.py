"""`phala-bridge enclave run | info`: the enclave process of one committee member."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from bridge.cli.errors import EXIT_FAILURE, handle_errors
from bridge.cli.heap import frozen_heap_at_exit
from bridge.cli.loading import load_config
from bridge.config import NodeConfig

app = typer.Typer(help="The enclave process: key shares, attestation, the committee member and its local API.")

ConfigOpt = typer.Option(..., "--config", "-c", help="node TOML file (with [enclave] and [committee])")


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_FAILURE)


@app.command()
@handle_errors
def run(config: Path = ConfigOpt) -> None:
    """Run the enclave until SIGTERM/SIGINT: join the committee over MQTT, serve the local API socket."""
    from bridge.telemetry import configure_logging
    from enclave_signer.process import EnclaveStartError, run_enclave

    cfg = load_config(config, NodeConfig)
    configure_logging(cfg.node.log_format, cfg.node.log_level)
    verifier = None
    confidential = None
    if cfg.committee is not None and cfg.committee.verifier == "chain":
        from bridge.cli.chain_verifier import ChainBatchVerifier
        from bridge.cli.confidential_wiring import MemberChainView, registry_of
        from bridge.cli.wiring import state_checkpoints
        from enclave_signer.checkpoints import SealedCheckpoints
        from enclave_signer.process import ConfidentialSetup
        from enclave_signer.process.setup import parts_of

        checkpoints = None
        if cfg.checkpoints.enabled:
            # Sealed by this enclave's own key: it trusts no snapshot it did not write itself.
            try:
                sealer = parts_of(cfg).platform.sealer()
            except EnclaveStartError as exc:
                raise _fail(str(exc)) from None
            checkpoints = SealedCheckpoints(sealer, Path(cfg.enclave.sealed_dir) / "checkpoints")
        verifier = lambda keys: ChainBatchVerifier(cfg, keys, checkpoints)  # noqa: E731 - built once the node exists
        confidential = ConfidentialSetup(
            registry_of(cfg),
            lambda keys: MemberChainView(cfg, keys, checkpoints),
            state_checkpoints(cfg, checkpoints),
            cfg.checkpoints.state_wait_ms,
        )
    try:
        with frozen_heap_at_exit():
            run_enclave(cfg, verifier=verifier, confidential=confidential)
    except EnclaveStartError as exc:
        raise _fail(str(exc)) from None
    except BaseExceptionGroup as group:  # a crash inside the running node: one line, the log has the rest
        first = group.exceptions[0]
        raise _fail(f"the enclave stopped: {type(first).__name__}: {first}") from None


@app.command()
@handle_errors
def info(config: Path = ConfigOpt) -> None:
    """Print this enclave build's measurement and its (simulated) platform's id and root public key: what the other
    members' configs list under committee.allowed_measurements and committee.trusted_roots."""
    from enclave_signer.measurement import current_measurement
    from enclave_signer.process.setup import EnclaveStartError, parts_of

    cfg = load_config(config, NodeConfig)
    try:
        parts = parts_of(cfg)
    except EnclaveStartError as exc:
        raise _fail(str(exc)) from None
    out = {
        "member_id": cfg.node.member_index,
        "measurement": current_measurement().hex(),
        "platform_id": parts.platform.platform_id,
        "platform_root_public_key": parts.platform.root_public_key.hex(),
    }
    typer.echo(json.dumps(out, indent=2))
