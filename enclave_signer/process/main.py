"""Run one enclave: unseal (or create) the identity and key shares, join the committee over MQTT, serve the local
API, stop cleanly on SIGTERM/SIGINT. Start-up problems raise `EnclaveStartError` with one clear sentence."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from bridge.config.schema import NodeConfig
from bridge.enclave_api import GroupKeys
from enclave_signer.committee.mqtt_transport import MqttTransport
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.verification import BatchVerifier, ChainFollower
from enclave_signer.contracts import Registry
from enclave_signer.keystore import Keystore, KeystoreError
from enclave_signer.measurement import current_measurement
from enclave_signer.process.confidential import (
    DEFAULT_STATE_WAIT_MS,
    ConfidentialChain,
    ConfidentialEngine,
    StateCheckpoints,
)
from enclave_signer.process.server import ApiServer, SocketInUseError
from enclave_signer.process.setup import EnclaveStartError, committee_config, parts_of
from enclave_signer.sealing import SealingError

__all__ = ["ConfidentialSetup", "EnclaveStartError", "run_enclave"]

_log = structlog.get_logger(__name__)


GroupKeysSource = Callable[[], GroupKeys | None]
VerifierFactory = Callable[[GroupKeysSource], BatchVerifier]


@dataclass(frozen=True)
class ConfidentialSetup:
    """Confidential contracts: the registry this member runs, its own chain view (built once keys exist) and where
    the engine seals its state snapshots (None: every start replays the whole log)."""

    registry: Registry
    chain: Callable[[GroupKeysSource], ConfidentialChain]
    checkpoints: StateCheckpoints | None = None
    state_wait_ms: int = DEFAULT_STATE_WAIT_MS  # [checkpoints] state_wait_ms


def run_enclave(
    config: NodeConfig,
    *,
    verifier: BatchVerifier | VerifierFactory | None = None,
    confidential: ConfidentialSetup | None = None,
) -> None:
    """Blocking: run until SIGTERM/SIGINT. `verifier` overrides the configured one: the application edge wires the
    chain verifiers here, as a verifier or as a factory that is given a way to read the committee's current group
    keys (the Phala checks need the bridge account, which exists only after the DKG). With `confidential`, the
    enclave runs confidential contracts (its decryption policy becomes the confidential-call policy, and a
    verifier with `attach_confidential(engine)` is handed the engine to check Phala extrinsics against)."""
    asyncio.run(_main(config, verifier, confidential))


async def _main(
    cfg: NodeConfig, verifier: BatchVerifier | VerifierFactory | None, confidential: ConfidentialSetup | None
) -> None:
    parts = parts_of(cfg)
    keystore = Keystore(parts.platform.sealer(), Path(cfg.enclave.sealed_dir))
    try:
        identity = keystore.identity()
        keys = keystore.load()
    except (SealingError, KeystoreError, OSError) as exc:
        raise EnclaveStartError(f"cannot open the keystore in {cfg.enclave.sealed_dir}: {exc}") from None
    transport = MqttTransport(parts.transport_config)
    nodes: list[CommitteeNode] = []

    def group_keys() -> GroupKeys | None:
        keys = nodes[0].keys if nodes else None
        return None if keys is None else keys.record.group_keys

    if verifier is not None and not isinstance(verifier, BatchVerifier):
        verifier = verifier(group_keys)
    node = CommitteeNode(
        committee_config(cfg, parts.committee),
        identity=identity,
        platform=parts.platform,
        quote_verifier=parts.quote_verifier,
        transport=transport,
        keystore=keystore,
        keys=keys,
        verifier=verifier or parts.verifier,
        decryption_verifier=parts.decryption_verifier,
    )
    nodes.append(node)
    engine = None
    if confidential is not None:
        engine = ConfidentialEngine(
            node,
            confidential.registry,
            confidential.chain(group_keys),
            checkpoints=confidential.checkpoints,
            state_wait_ms=confidential.state_wait_ms,
        )
        node.decryption_verifier = engine.policy
        attach = getattr(node.verifier, "attach_confidential", None)
        if attach is not None:
            attach(engine)
    server = ApiServer(
        node, Path(cfg.enclave.socket), max_connections=parts.committee.api_max_connections, confidential=engine
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except (SocketInUseError, OSError) as exc:
        raise EnclaveStartError(f"cannot serve the local API on {cfg.enclave.socket}: {exc}") from None
    await transport.start()
    try:
        async with asyncio.TaskGroup() as tg:
            node_task = tg.create_task(node.run(), name="committee-node")
            started = tg.create_task(node.wait_started(), name="committee-started")
            await asyncio.wait([node_task, started], return_when=asyncio.FIRST_COMPLETED)
            _log.info(
                "enclave_ready",
                member_id=node.member_id,
                committee_id=node.committee_id,
                epoch=node.epoch,
                has_keys=node.keys is not None,
                socket=str(server.path),
                measurement=current_measurement().short(),
                identity_public_key=identity.public_key.hex(),
            )
            follower = None
            if isinstance(verifier, ChainFollower):
                follower = tg.create_task(verifier.follow(), name="chain-follower")
            stop_task = tg.create_task(stop.wait(), name="stop-signal")
            await asyncio.wait([node_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
            node_task.cancel()
            stop_task.cancel()
            if follower is not None:
                follower.cancel()
    finally:
        if engine is not None:  # a clean stop: the next start replays only the records after this
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.save_snapshot(), 30)
        await server.close()
        with contextlib.suppress(Exception):
            await transport.close()
        _log.info("enclave_stopped", member_id=node.member_id)
