"""Committee benchmark: signing-session latency (p50/p99) and batches signed per second, 3-of-5, for both suites.

Five enclave processes (`phala-bridge enclave run`) over a real Mosquitto, the DKG run through the local socket,
then batches signed through member 1's socket the way the relayer does it (`EnclaveBatchSigner`). Latency: one batch
at a time. Throughput: several batches in flight at once.

The broker is the devnet's own (`bridge.devnet.broker`: Mosquitto with `set_tcp_nodelay true`, or the embedded
broker where Mosquitto is not installed). Before the devnet set nodelay, Nagle's algorithm with the clients' delayed
ACKs cost ~40 ms per hop of a session (p50 ~91 ms instead of ~11 ms).
Run: `python -m bench.bench_committee` (or `python -m bench committee`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.results import record
from bridge.devnet.broker import start_broker
from bridge.devnet.processes import ProcessSupervisor
from bridge.enclave_api import KeyName, SigningRequestModel
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from enclave_signer.attestation import SimulatedPlatform
from enclave_signer.frost import ED25519, SECP256K1, verify
from enclave_signer.measurement import current_measurement
from relayers.enclave_client import EnclaveBatchSigner, EnclaveClient

IDS = (1, 2, 3, 4, 5)
BATCH = 10  # messages per signed batch
LATENCY_RUNS = int(os.environ.get("PB_BENCH_RUNS", "200"))
THROUGHPUT_BATCHES = int(os.environ.get("PB_BENCH_BATCHES", "400"))
IN_FLIGHT = 16
ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "phala-bridge")


def _configs(work: Path, broker_url: str) -> list[Path]:
    seeds, roots = {}, {}
    for m in IDS:
        seed = secrets.token_bytes(32)
        path = work / f"seed-{m}.hex"
        path.write_text(seed.hex())
        os.chmod(path, 0o600)
        seeds[m] = path
        roots[f"node-{m}"] = SimulatedPlatform.from_seed(f"node-{m}", seed).root_public_key.hex()
    out = []
    for m in IDS:
        path = work / f"node-{m}.toml"
        path.write_text(
            "\n".join(
                [
                    "[node]",
                    f'name = "node-{m}"',
                    f"member_index = {m}",
                    'log_level = "warning"',
                    "[broker]",
                    f'url = "{broker_url}"',
                    'topic_prefix = "bench"',
                    "[enclave]",
                    f'socket = "{work / f"e{m}.sock"}"',
                    f'sealed_dir = "{work / f"sealed-{m}"}"',
                    "[chains]",
                    "[committee]",
                    f"members = {list(IDS)}",
                    "threshold = 3",
                    f'platform_seed_file = "{seeds[m]}"',
                    "trusted_roots = {" + ", ".join(f'"{k}" = "{v}"' for k, v in roots.items()) + "}",
                    f'allowed_measurements = ["{current_measurement().hex()}"]',
                    'verifier = "policy"',
                    "",
                ]
            )
        )
        out.append(path)
    return out


def _batch(dest: int, start: int) -> tuple[SigningRequestModel, tuple[BridgeMessage, ...]]:
    msgs = tuple(
        BridgeMessage(
            source_domain=3 - dest,
            dest_domain=dest,
            nonce=start + i,
            kind=MessageKind.TRANSFER,
            sender=b"\x11" * 20,
            recipient=b"\x22" * 32,
            resource_id=b"\x33" * 32,
            source_amount=10**18,
            amount=10**12,
            source=SourceRef(block_number=start, block_hash=b"\x44" * 32, tx_hash=b"\x55" * 32, index=i),
        )
        for i in range(BATCH)
    )
    payload = secrets.token_bytes(32)
    return SigningRequestModel(destination=dest, message_ids=tuple(m.id_hex for m in msgs), payload=payload), msgs


async def _wait_ready(sockets: Sequence[Path], within: float = 60) -> None:
    deadline = time.monotonic() + within
    for sock in sockets:
        while True:
            try:
                async with EnclaveClient(sock, connect_timeout=1) as client:
                    if set(IDS) <= set((await client.status()).attested):
                        break
            except Exception:  # not up yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{sock}: the committee did not assemble in {within}s")
            await asyncio.sleep(0.1)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _latency(signer: EnclaveBatchSigner, dest: int, runs: int) -> list[float]:
    latencies = []
    for i in range(runs):
        request, msgs = _batch(dest, 1000 + i * BATCH)
        t0 = time.perf_counter()
        await signer.sign(request.to_port(), msgs)
        latencies.append((time.perf_counter() - t0) * 1e3)
    return latencies


async def _throughput(signer: EnclaveBatchSigner, dest: int) -> float:
    batches = [_batch(dest, 10**6 + i * BATCH) for i in range(THROUGHPUT_BATCHES)]
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(b: tuple[SigningRequestModel, tuple[BridgeMessage, ...]]) -> None:
        async with gate:
            await signer.sign(b[0].to_port(), b[1])

    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for b in batches:
            tg.create_task(one(b))
    return THROUGHPUT_BATCHES / (time.perf_counter() - t0)


async def _bench(work: Path, prefix: str, *, where: str) -> None:
    sockets = [work / f"e{m}.sock" for m in IDS]
    await _wait_ready(sockets)
    async with EnclaveClient(sockets[0], timeout=60) as client:
        t0 = time.perf_counter()
        ceremony = await client.dkg(timeout_s=60)
        record(
            f"{prefix}dkg_3of5_ms",
            (time.perf_counter() - t0) * 1e3,
            "ms",
            note=f"three DKG runs at once, 5 enclave processes, {where}, via the local socket",
        )
        keys = ceremony.record.group_keys
        signer = EnclaveBatchSigner(client, {1: "secp256k1", 2: "ed25519"}, timeout_s=30)
        for dest, key, suite in ((1, "secp256k1", SECP256K1), (2, "ed25519", ED25519)):
            name: KeyName = key  # type: ignore[assignment]
            request, msgs = _batch(dest, 1)
            sig = await signer.sign(request.to_port(), msgs)  # warm-up, and a correctness check
            assert verify(suite, keys.get(name), request.payload, sig)
            runs = LATENCY_RUNS
            latencies = await _latency(signer, dest, runs)
            p50, p99 = statistics.median(latencies), _pct(latencies, 0.99)
            note = f"3-of-5, 5 enclave processes, {where}, {BATCH}-message batch, one at a time, {runs} runs"
            record(f"{prefix}sign_{key}.p50_ms", p50, "ms", target="<= 50", met=p50 <= 50, note=note)
            record(f"{prefix}sign_{key}.p99_ms", p99, "ms", target="<= 1000", met=p99 <= 1000, note=note)
            rate = await _throughput(signer, dest)
            record(
                f"{prefix}sign_{key}.batches_per_s",
                rate,
                "batch/s",
                note=f"{IN_FLIGHT} sessions in flight, {BATCH}-message batches ({rate * BATCH:.0f} messages/s), "
                f"{where}, 2 cores shared by 5 enclaves, the broker and this client",
            )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pb-bench-"))
    supervisor = ProcessSupervisor(work / "logs")
    try:
        broker = start_broker(supervisor, work_dir=work)
        for m, cfg in zip(IDS, _configs(work, broker.url), strict=True):
            supervisor.spawn(f"enclave-{m}", [CLI, "enclave", "run", "--config", str(cfg)], cwd=ROOT)
        asyncio.run(_bench(work, "committee.", where=f"the devnet broker ({broker.kind}, TCP_NODELAY)"))
    finally:
        supervisor.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
