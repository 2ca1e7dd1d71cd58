"""Five enclave processes (`phala-bridge enclave run`, each in its own process group) over a real MQTT broker:
attestation keeps impostors out, the DKG yields the group keys, batches are signed through the local socket API
(both suites), members refuse messages absent from their chain, hostile MQTT traffic is refused, SIGKILLed members
cost nothing until fewer than t remain, restarted members unseal their shares, and a broker restart mid-session
is survived. Tests run in file order on one committee."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import pytest

from bridge.devnet import DevnetState
from bridge.devnet.broker import BrokerNode, start_broker
from bridge.devnet.processes import ManagedProcess, ProcessSupervisor
from bridge.enclave_api import CommitteeRecord, SignResult, StatusResult
from bridge.messages import BridgeMessage
from bridge.ports import SigningRefused, SigningUnavailable
from enclave_signer.attestation import SimulatedPlatform
from enclave_signer.committee.envelope import Envelope
from enclave_signer.frost import ED25519, SECP256K1, verify
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import current_measurement, measure_tree
from relayers.enclave_client import EnclaveBatchSigner, EnclaveClient
from relayers.substrate import SubstrateClient, keypair_from_uri
from relayers.substrate.chain import ChainReader
from tests.unit.committee.helpers import batch

pytestmark = pytest.mark.devnet

IDS = (1, 2, 3, 4, 5)
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "phala-bridge")
COMMITTEE = "devnet"
T = TypeVar("T")


def _arun(coro: Awaitable[T], timeout: float = 60) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


@dataclass
class Net:
    work: Path
    sockets: Path
    supervisor: ProcessSupervisor
    broker: BrokerNode
    prefix: str
    seeds: dict[int, Path] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    procs: dict[int, ManagedProcess] = field(default_factory=dict)
    record: CommitteeRecord | None = None

    def config(self, member: int) -> Path:
        return self.work / f"node-{member}.toml"

    def socket(self, member: int) -> Path:
        return self.sockets / f"e{member}.sock"

    def chain(self, member: int) -> Path:
        return self.work / f"chain-{member}.json"

    def write_config(
        self,
        member: int,
        *,
        members: tuple[int, ...] = IDS,
        threshold: int = 3,
        platform_id: str | None = None,
        trusted: dict[str, str] | None = None,
        allowed: list[str] | None = None,
    ) -> Path:
        roots = trusted or self.roots
        lines = [
            "[node]",
            f'name = "node-{member}"',
            f"member_index = {member}",
            'log_format = "json"',
            'log_level = "info"',
            "",
            "[broker]",
            f'url = "{self.broker.url}"',
            f'topic_prefix = "{self.prefix}"',
            "",
            "[enclave]",
            f'socket = "{self.socket(member)}"',
            f'sealed_dir = "{self.work / f"sealed-{member}"}"',
            "",
            "[chains]",
            "",
            "[committee]",
            f'id = "{COMMITTEE}"',
            f"members = {list(members)}",
            f"threshold = {threshold}",
            f'platform_id = "{platform_id or f"node-{member}"}"',
            f'platform_seed_file = "{self.seeds[member]}"',
            "trusted_roots = {" + ", ".join(f'"{k}" = "{v}"' for k, v in roots.items()) + "}",
            f"allowed_measurements = {json.dumps(allowed or [current_measurement().hex()])}",
            'verifier = "static"',
            f'static_chain_file = "{self.chain(member)}"',
            "session_timeout_ms = 10000",
            "retransmit_ms = 300",
            "round_timeout_ms = 2000",
            "heartbeat_interval_ms = 500",
            "heartbeat_timeout_ms = 2000",
            "",
        ]
        path = self.config(member)
        path.write_text("\n".join(lines))
        return path

    def new_seed(self, member: int, platform_id: str) -> SimulatedPlatform:
        path = self.work / f"seed-{member}.hex"
        seed = secrets.token_bytes(32)
        path.write_text(seed.hex())
        os.chmod(path, 0o600)
        self.seeds[member] = path
        return SimulatedPlatform.from_seed(platform_id, seed)

    def start(self, member: int, *, env: dict[str, str] | None = None) -> ManagedProcess:
        proc = self.supervisor.spawn(
            f"enclave-{member}-{time.monotonic_ns()}",
            [CLI, "enclave", "run", "--config", str(self.config(member))],
            cwd=ROOT,
            env=env,
        )
        self.procs[member] = proc
        return proc

    def kill(self, member: int) -> None:
        proc = self.procs.pop(member)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)
        self.supervisor.processes.remove(proc)

    def chain_has(self, messages: tuple[BridgeMessage, ...], members: tuple[int, ...] = IDS) -> None:
        for m in members:
            path = self.chain(m)
            known = json.loads(path.read_text()) if path.exists() else []
            path.write_text(json.dumps(known + [msg.id_hex for msg in messages]))

    async def status(self, member: int) -> StatusResult:
        async with EnclaveClient(self.socket(member), connect_timeout=1) as client:
            return await client.status()

    async def wait_status(
        self, member: int, predicate: Callable[[StatusResult], bool], what: str, timeout: float = 30
    ) -> StatusResult:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            proc = self.procs.get(member)
            if proc is not None and not proc.alive():
                raise AssertionError(f"enclave {member} exited:\n{proc.log_tail()}")
            try:
                status = await self.status(member)
                if predicate(status):
                    return status
                last = status
            except Exception as exc:  # not up yet
                last = exc
            await asyncio.sleep(0.1)
        raise AssertionError(f"member {member}: timed out waiting for {what}; last: {last}")

    async def sign(
        self, member: int, dest: int, messages: tuple[BridgeMessage, ...], request: Any, timeout_s: float = 10
    ) -> bytes:
        async with EnclaveClient(self.socket(member), timeout=timeout_s) as client:
            signer = EnclaveBatchSigner(client, {1: "secp256k1", 2: "ed25519"}, timeout_s=timeout_s)
            return await signer.sign(request.to_port(), messages)


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    work = Path(tempfile.mkdtemp(prefix="pb-committee-"))  # short: Unix socket paths are limited to 108 bytes
    supervisor = ProcessSupervisor(work / "logs")
    try:
        broker = start_broker(supervisor, work_dir=work, preference="auto")
        n = Net(work, work / "s", supervisor, broker, prefix=f"pbtest-{secrets.token_hex(4)}")
        n.sockets.mkdir(mode=0o700)
        for m in (*IDS, 7):  # node-7 is a trusted platform too (test_a_member_with_..._unknown_build)
            platform = n.new_seed(m, f"node-{m}")
            n.roots[platform.platform_id] = platform.root_public_key.hex()
        for m in IDS:
            n.write_config(m)
            n.chain(m).write_text("[]")
            n.start(m)
        for m in IDS:
            _arun(n.wait_status(m, lambda s: set(IDS) <= set(s.attested), "every member attested"))
        yield n
    finally:
        supervisor.stop_all()
        if not os.environ.get("PB_KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)


@pytest.mark.timeout(60)
def test_a_member_with_a_bad_quote_or_an_unknown_build_cannot_join(net: Net) -> None:
    # Member 6 claims platform node-2, but its quotes are signed by another root: a forged quote.
    impostor = net.new_seed(6, "node-2")
    net.write_config(
        6,
        members=(*IDS, 6),
        threshold=4,
        platform_id="node-2",
        trusted={**net.roots, "node-2": impostor.root_public_key.hex()},
    )
    net.start(6)
    # Member 7 is on a trusted platform but runs another build of the enclave code (one changed file).
    build = net.work / "other-build"
    shutil.copytree(ROOT / "enclave_signer", build / "enclave_signer", ignore=shutil.ignore_patterns("__pycache__"))
    with open(build / "enclave_signer" / "measurement.py", "a") as f:
        f.write("\n# a modified build\n")
    other = measure_tree(build / "enclave_signer").hex()
    net.write_config(7, members=(*IDS, 7), threshold=4, allowed=[current_measurement().hex(), other])
    net.start(7, env={"PYTHONPATH": str(build)})
    try:
        assert _arun(net.wait_status(7, lambda s: s.member_id == 7, "the other build")).measurement.hex() == other
        for rogue, reason in ((6, "bad_signature"), (7, "measurement")):

            def serving(s: StatusResult, r: int = rogue) -> bool:
                return s.member_id == r

            _arun(net.wait_status(rogue, serving, "the rogue enclave to serve"))
            result = subprocess.run(
                [
                    CLI,
                    "committee",
                    "dkg",
                    "--config",
                    str(net.config(1)),
                    "--participants",
                    f"1,2,3,4,5,{rogue}",
                    "--threshold",
                    "4",  # a majority of six
                    "--timeout",
                    "3",
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            assert result.returncode == 1, result.stdout
            assert "not_ready" in result.stderr and f"member {rogue}: {reason}" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
        for m in IDS:
            s = _arun(net.status(m))
            assert 6 not in s.attested and 7 not in s.attested and not s.has_keys
        s = _arun(net.status(1))
        assert s.quote_rejections.get("bad_signature", 0) >= 1 and s.quote_rejections.get("measurement", 0) >= 1
        # Their envelopes are refused too: they are on nobody's roster.
        _arun(net.wait_status(1, lambda s: s.envelope_rejections.get("unknown_sender", 0) >= 1, "rogue heartbeats"))
    finally:
        for rogue in (6, 7):
            net.kill(rogue)


@pytest.mark.timeout(60)
def test_dkg_through_the_operator_command_yields_the_group_keys(net: Net) -> None:
    result = subprocess.run(
        [CLI, "committee", "dkg", "--config", str(net.config(1)), "--json", "--timeout", "30"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    (net.work / "dkg.json").write_text(result.stdout)  # what an operator saves, then publishes (next test)
    record = CommitteeRecord.model_validate(out["record"])
    assert record.member_ids == IDS and record.threshold == 3 and record.epoch == 1
    assert len(record.group_keys.secp256k1) == 33
    for m in IDS:
        s = _arun(net.status(m))
        assert s.has_keys and s.group_keys == record.group_keys
    net.record = record
    status = subprocess.run(
        [CLI, "committee", "status", "--config", str(net.config(3))], capture_output=True, text=True, cwd=ROOT
    )
    assert status.returncode == 0 and "keys: yes" in status.stdout, status.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "committee", *args], capture_output=True, text=True, cwd=ROOT, timeout=90)


@pytest.mark.timeout(120)
def test_the_operator_publishes_the_ceremony_output_on_phala_and_reads_it_back(net: Net, devnet: DevnetState) -> None:
    assert net.record is not None
    url = devnet.phala.ws_url
    saved = net.work / "dkg.json"
    # The output of `committee dkg --json`, checked against member 1's enclave, written from the operator account.
    result = _cli("publish", "--record", str(saved), "--phala", url, "--dev-account", "//Alice",
                  "--config", str(net.config(1)), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    published = json.loads(result.stdout)
    with SubstrateClient(url) as phala:
        alice = keypair_from_uri("//Alice", phala.ss58_format).ss58_address
        bob = keypair_from_uri("//Bob", phala.ss58_format).ss58_address
        reader = ChainReader(phala)
        deadline = time.monotonic() + 30
        while reader.finalized_head().block_number < published["block"] and time.monotonic() < deadline:
            time.sleep(0.2)
    assert published["signer"] == alice and published["digest"] == "0x" + net.record.digest().hex()
    block = str(published["block"])

    # Anyone reads it back from the chain: the same record, by the operator's account.
    result = _cli("records", "--phala", url, "--from-block", block, "--to-block", block, "--json")
    assert result.returncode == 0, result.stderr
    (found,) = json.loads(result.stdout)
    assert CommitteeRecord.model_validate(found["record"]) == net.record
    assert (found["block"], found["extrinsic"], found["signer"]) == (published["block"], published["extrinsic"], alice)
    table = _cli("records", "--phala", url, "--from-block", block, "--to-block", block)
    assert table.returncode == 0 and "3 of 5" in table.stdout, table.stderr
    only_bob = _cli("records", "--phala", url, "--from-block", block, "--to-block", block, "--signer", bob, "--json")
    assert only_bob.returncode == 0 and json.loads(only_bob.stdout) == [], only_bob.stderr

    # A record that is not this committee as the enclave holds it is refused before anything is sent.
    stale = json.loads(saved.read_text())
    stale["record"]["epoch"] = 7
    (net.work / "stale.json").write_text(json.dumps(stale))
    refused = _cli("publish", "--record", str(net.work / "stale.json"), "--phala", url, "--dev-account", "//Alice",
                   "--config", str(net.config(2)))  # fmt: skip
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.strip() == "error: the record's epoch is 7, this node's enclave has 1", refused.stderr
    since = _cli("records", "--phala", url, "--from-block", block, "--signer", alice, "--json")
    assert since.returncode == 0, since.stderr
    assert [r["record"]["epoch"] for r in json.loads(since.stdout)] == [1], since.stdout


@pytest.mark.timeout(60)
def test_a_batch_is_signed_through_the_socket_for_both_suites(net: Net) -> None:
    assert net.record is not None
    for dest, suite, key in ((1, SECP256K1, "secp256k1"), (2, ED25519, "ed25519")):
        request, msgs = batch(4, dest=dest, start=100 * dest)
        net.chain_has(msgs)
        signature = _arun(net.sign(2, dest, msgs, request))
        assert verify(suite, net.record.group_keys.get(key), request.payload, signature)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_members_whose_chain_lacks_the_message_refuse_and_enough_refusals_mean_no_signature(net: Net) -> None:
    assert net.record is not None
    request, msgs = batch(2, dest=2, start=300)
    net.chain_has(msgs, members=(1, 2, 3, 4))  # member 5's chain does not have them: it refuses, the rest sign
    assert verify(ED25519, net.record.group_keys.ed25519, request.payload, _arun(net.sign(1, 2, msgs, request)))
    request, msgs = batch(2, dest=2, start=400)
    net.chain_has(msgs, members=(1, 2))  # three members cannot find them: t = 3 is out of reach
    with pytest.raises(SigningRefused) as info:
        _arun(net.sign(1, 2, msgs, request))
    text = str(info.value)
    assert all(f"member {m}: absent: message" in text for m in (3, 4, 5)) and "member 1:" not in text, text
    metrics = _arun(_metrics(net, 1))
    assert 'phala_bridge_committee_refusals_total{code="absent",kind="sign"}' in metrics


async def _metrics(net: Net, member: int) -> str:
    async with EnclaveClient(net.socket(member)) as client:
        return await client.metrics()


async def _wait_metric(net: Net, member: int, sample: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in (await _metrics(net, member)).splitlines():
            if line.startswith(sample + " ") and float(line.split()[-1]) > 0:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"member {member}: {sample} stayed at 0")


@pytest.mark.timeout(60)
def test_tampered_replayed_and_unsigned_mqtt_messages_are_rejected(net: Net) -> None:
    base = f"{net.prefix}/{COMMITTEE}"

    async def scenario() -> dict[str, int]:
        before = (await net.status(1)).envelope_rejections
        async with aiomqtt.Client(net.broker.host, net.broker.port, identifier=f"{net.prefix}-attacker") as attacker:
            await attacker.subscribe(f"{base}/broadcast", qos=1)
            heartbeat = None
            async for message in attacker.messages:
                env = Envelope.from_bytes(bytes(message.payload))
                if env.kind == "hb" and env.sender == 2:
                    heartbeat = env
                    break
            assert heartbeat is not None
            forged = dataclasses.replace(heartbeat, sender=9)
            for raw in (
                heartbeat.to_bytes(),  # replay
                dataclasses.replace(heartbeat, payload=heartbeat.payload.replace(b"true", b"fals")).to_bytes(),
                dataclasses.replace(heartbeat, signature=bytes(64)).to_bytes(),  # unsigned
                heartbeat.to_bytes()[:-64],  # signature stripped
                dataclasses.replace(forged, signature=IdentityKey.generate().sign(forged.signing_bytes())).to_bytes(),
            ):
                await attacker.publish(f"{base}/broadcast", raw, qos=1)

        def grew(s: StatusResult) -> bool:
            r = s.envelope_rejections
            return all(
                r.get(k, 0) - before.get(k, 0) >= n
                for k, n in (("replay", 1), ("bad_signature", 2), ("malformed", 1), ("unknown_sender", 1))
            )

        return (await net.wait_status(1, grew, "the hostile messages to be refused", timeout=10)).envelope_rejections

    _arun(scenario())
    request, msgs = batch(1, dest=1, start=500)
    net.chain_has(msgs)
    assert verify(SECP256K1, net.record.group_keys.secp256k1, request.payload, _arun(net.sign(3, 1, msgs, request)))  # type: ignore[union-attr]


@pytest.mark.timeout(120)
def test_sigkill_two_still_signs_three_no_signature_and_restarted_members_unseal_and_sign(net: Net) -> None:
    assert net.record is not None
    net.kill(4)
    net.kill(5)
    request, msgs = batch(2, dest=1, start=600)
    net.chain_has(msgs)
    signature = _arun(net.sign(1, 1, msgs, request))
    assert verify(SECP256K1, net.record.group_keys.secp256k1, request.payload, signature)
    net.kill(3)
    request, msgs = batch(2, dest=2, start=700)
    net.chain_has(msgs)
    with pytest.raises(SigningUnavailable, match="2 of 3 members answered"):
        _arun(net.sign(1, 2, msgs, request, timeout_s=2))
    for m in (3, 4, 5):
        net.start(m)
    for m in (3, 4, 5):  # they unseal their identity and shares: same keys, nothing re-dealt
        s = _arun(net.wait_status(m, lambda s: s.has_keys and set(IDS) <= set(s.attested), "unsealed and attested"))
        assert s.group_keys == net.record.group_keys
    _arun(net.wait_status(1, lambda s: s.members_up == IDS, "member 1 to hear everyone"))
    signature = _arun(net.sign(1, 2, msgs, request))
    assert verify(ED25519, net.record.group_keys.ed25519, request.payload, signature)


@pytest.mark.timeout(120)
def test_the_committee_recovers_from_a_broker_restart_mid_session(net: Net) -> None:
    assert net.record is not None
    request, msgs = batch(2, dest=1, start=800)
    net.chain_has(msgs)

    async def scenario() -> SignResult:
        async with EnclaveClient(net.socket(2), timeout=40) as client:
            net.supervisor.stop(net.broker.process)
            await net.wait_status(2, lambda s: not s.broker_connected, "the broker to be gone", timeout=15)
            session = asyncio.create_task(client.sign("secp256k1", request.to_port(), msgs, timeout_s=30))
            # Mid-session: the leader is retransmitting its request into the outage.
            await _wait_metric(net, 2, 'phala_bridge_committee_retransmissions_total{kind="sign.request"}')
            assert not session.done()
            # Started from the main thread on purpose: children get PR_SET_PDEATHSIG, which fires when the *thread*
            # that spawned them exits (a worker thread of asyncio.to_thread would take the broker down with it).
            net.broker = start_broker(
                net.supervisor, work_dir=net.work, preference=net.broker.kind, port=net.broker.port, name="broker-2"
            )
            return await session

    result = _arun(scenario(), timeout=60)
    assert verify(SECP256K1, net.record.group_keys.secp256k1, request.payload, result.signature)
    request, msgs = batch(1, dest=2, start=900)  # and it keeps working afterwards
    net.chain_has(msgs)
    assert verify(ED25519, net.record.group_keys.ed25519, request.payload, _arun(net.sign(4, 2, msgs, request)))


def test_cli_errors_are_one_line_not_tracebacks(net: Net) -> None:
    missing = net.work / "absent.toml"
    out = subprocess.run([CLI, "committee", "status", "--config", str(missing)], capture_output=True, text=True)
    assert out.returncode == 2 and "file not found" in out.stderr and "Traceback" not in out.stderr
    cfg = net.work / "nobody.toml"
    cfg.write_text(net.config(1).read_text().replace(str(net.socket(1)), str(net.sockets / "nobody.sock")))
    out = subprocess.run([CLI, "committee", "status", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 1 and "cannot reach the enclave" in out.stderr and "Traceback" not in out.stderr
