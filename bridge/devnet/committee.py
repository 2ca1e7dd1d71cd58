"""The devnet's bridge: n committee members (an enclave process and a relayer daemon each) on top of the chains.

Bring-up, in order: per-member config files (own platform seed, sealed dir, socket, store, status port, gas key);
n enclave processes; a DKG through member 1's local API (three group keys); the secp256k1 key registered on the
Ethereum bridge (the admin's one-time `initializeKey`); the Phala bridge account (the Ed25519 group key) funded
with liquidity; n relayer daemons; and `network.json`, the description a user's client needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.ports import free_port
from bridge.devnet.processes import ManagedProcess, ProcessSupervisor
from bridge.devnet.state import DevnetState
from bridge.devnet.tools import PROJECT_ROOT
from bridge.network import (
    ConfidentialSide,
    DepositMinimumSide,
    EthereumSide,
    GatewayParachainSide,
    GatewaySide,
    NetworkInfo,
    PhalaSide,
)

log = structlog.get_logger("devnet.committee")

ADDRESSES = PROJECT_ROOT / "anvil-fixtures" / "devnet-addresses.json"
FIRST_SUBMITTER_ACCOUNT = 5  # anvil accounts 0 (admin), 1 (guardian) and 2-4 (users) are taken
BRIDGE_LIQUIDITY_PLANCK = 1_000_000 * 10**12
CONFIRMATIONS = 2
# The XCM gateway's route to the peer (docs/xcm.md): the program's execution there cost 10,666,664 planck, the
# peer's existential deposit is 3,333,333. The reserve account on Phala receives what is sent on: it stands for
# the value phala's sovereign account pays out on the peer (a fixed, keyless devnet account).
GATEWAY_MIN_FEE = 20_000_000
GATEWAY_MIN_DEPOSIT = 3_333_333
# The smallest Phala -> Ethereum deposit (docs/phala-side.md, section 2): 1 PHA, transfers and calls alike. Every
# devnet test, the demo and the benchmark send at least that from Phala; tests/devnet/test_substrate_adapter.py sends
# less (and schedules a raise) against its own bridge account.
MIN_DEPOSIT_PLANCK = 10**12
GATEWAY_RESERVE = "0x" + hashlib.blake2b(b"phala-bridge/devnet/xcm-gateway-reserve", digest_size=32).hexdigest()
CLI = [sys.executable, "-m", "bridge.cli.main"]


@dataclass
class Member:
    index: int
    config: Path
    socket: Path
    status_url: str
    enclave: ManagedProcess | None = None
    relayer: ManagedProcess | None = None


class CommitteeError(RuntimeError):
    pass


def enclave_build_measurement(root: Path) -> str:
    """The measurement (hex) of the enclave code under `root/enclave_signer` (a test's modified copy)."""
    from enclave_signer.measurement import measure_tree

    package = root / "enclave_signer"
    if not (package / "__init__.py").is_file():
        raise CommitteeError(f"{root} holds no enclave_signer package")
    return measure_tree(package).hex()


class BridgeCommittee:
    def __init__(
        self,
        state: DevnetState,
        supervisor: ProcessSupervisor,
        work_dir: Path,
        *,
        members: int = 5,
        threshold: int = 3,
        batch_wait_ms: int = 0,  # see bridge.batching.BatchPolicy.max_wait
        enclave_builds: Mapping[int, Path] | None = None,
        relayer_builds: Mapping[int, Path] | None = None,
        committee_settings: Mapping[str, int] | None = None,
    ) -> None:
        """`enclave_builds` is for tests only (off by default; a constructor argument, never a config key): member
        index -> a directory holding another copy of the `enclave_signer` package, which that member's enclave runs
        instead of this checkout's. Each copy's measurement is added to every member's allow-list, as a committee
        that accepted that build would have it (tests/e2e/test_confidential_rogue.py: a member whose enclave computes
        another result). `relayer_builds` likewise: member index -> a directory holding another copy of the `relayers`
        package, which that member's relayer runs (tests/e2e/test_censoring_leader.py: a leader whose relayer never
        proposes one message). `committee_settings` sets integer `[committee]` keys on every member (a test that
        waits for strikes shortens their grace: tests/e2e/test_censoring_leader.py `omission_grace_ms`,
        tests/e2e/test_stalled_leader.py `stall_grace_ms` and `omission_check_interval_ms`); the enclave's config
        schema validates them as it does any config file's."""
        self.state = state
        self.supervisor = supervisor
        self.dir = work_dir / "committee"
        self.n = members
        self.t = threshold
        self.batch_wait_ms = batch_wait_ms
        self.addresses = json.loads(ADDRESSES.read_text())
        self.members: list[Member] = []
        self.network: NetworkInfo | None = None
        self.record_block: int | None = None
        self.xcm_origin: ManagedProcess | None = None
        self.auction: str | None = None  # SealedBidAuction.sol, deployed and allow-listed at start
        self.enclave_builds = {i: Path(root).resolve() for i, root in (enclave_builds or {}).items()}
        self.relayer_builds = {i: Path(root).resolve() for i, root in (relayer_builds or {}).items()}
        self.committee_settings = dict(committee_settings or {})
        bad = sorted(k for k in self.committee_settings if not k.isidentifier())
        if bad:
            raise CommitteeError(f"committee settings {bad} are not config keys")
        for what, builds in (("enclave", self.enclave_builds), ("relayer", self.relayer_builds)):
            outside = sorted(set(builds) - set(range(1, members + 1)))
            if outside:
                raise CommitteeError(f"{what} builds for members {outside}, not in 1..{members}")

    # ---- configs --------------------------------------------------------------------------------------------------

    def write_configs(self, phala_start_block: int) -> None:
        from enclave_signer.attestation.platform import SimulatedPlatform
        from enclave_signer.measurement import current_measurement

        # Every start is a new committee (new platform seeds, a new DKG, fresh chains): what an earlier run left here
        # (sealed keys of other platforms or another enclave build, relayer stores bound to another bridge account)
        # would only make the enclaves and relayers refuse to start.
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        seeds: dict[int, Path] = {}
        roots: dict[str, str] = {}
        for i in range(1, self.n + 1):
            seed = os.urandom(32)
            path = self.dir / f"platform-{i}.seed"
            path.write_text(seed.hex())
            os.chmod(path, 0o600)
            seeds[i] = path
            roots[f"node-{i}"] = SimulatedPlatform.from_seed(f"node-{i}", seed).root_public_key.hex()
        allowed = [current_measurement().hex()]
        allowed += [m for m in map(enclave_build_measurement, self.enclave_builds.values()) if m not in allowed]
        accounts = ethereum_dev_accounts(FIRST_SUBMITTER_ACCOUNT + self.n)
        eth = self.state.ethereum
        for i in range(1, self.n + 1):
            key_file = self.dir / f"submitter-{i}.key"
            key_file.write_text(accounts[FIRST_SUBMITTER_ACCOUNT + i - 1].private_key)
            os.chmod(key_file, 0o600)
            port = free_port()
            member = Member(i, self.dir / f"node-{i}.toml", self.dir / f"enclave-{i}.sock", f"http://127.0.0.1:{port}")
            text = f"""# devnet committee member {i} (written by bridge/devnet/committee.py)
[node]
name = "node-{i}"
member_index = {i}
log_format = "json"
log_level = "info"

[store]
url = "sqlite:///{self.dir}/node-{i}.db"

[broker]
url = "mqtt://{self.state.broker.host}:{self.state.broker.port}"

[enclave]
socket = "{member.socket}"
sealed_dir = "{self.dir}/sealed-{i}"

[metrics]
listen = "127.0.0.1:{port}"

[chains.ethereum]
kind = "ethereum"
domain_id = 1
rpc_url = "{eth.rpc_url}"
chain_id = {eth.chain_id}
bridge_address = "{self.addresses["contracts"]["Bridge"]}"
confirmations = {CONFIRMATIONS}
start_block = {self.addresses["block_number"]}
submitter_key_file = "{key_file}"
stuck_timeout_s = 20

[chains.phala]
kind = "substrate"
domain_id = 2
ws_url = "{self.state.phala.ws_url}"
para_id = {self.state.phala.para_id}
start_block = {phala_start_block}

[chains.phala.min_deposit.ethereum]
transfer = {MIN_DEPOSIT_PLANCK}
call = {MIN_DEPOSIT_PLANCK}

[chains.phala.gateway]
reserve_account = "{GATEWAY_RESERVE}"

[chains.phala.gateway.parachains.peer]
para_id = {self.state.peer.para_id}
xcm_versions = [2]
beneficiaries = ["account_id32"]
min_fee = {GATEWAY_MIN_FEE}
min_deposit = {GATEWAY_MIN_DEPOSIT}

[resources.PHA]
resource_id = "{self.addresses["resources"]["PHA"]}"
decimals = {{ ethereum = 18, phala = 12 }}

[batching]
max_messages = 100
max_wait_ms = {self.batch_wait_ms}

[confidential]
auction_settlement = "{self.auction}"

[committee]
id = "devnet"
members = {list(range(1, self.n + 1))}
threshold = {self.t}
platform_seed_file = "{seeds[i]}"
trusted_roots = {{ {", ".join(f'"{k}" = "{v}"' for k, v in roots.items())} }}
allowed_measurements = {json.dumps(allowed)}
verifier = "chain"
"""
            for key, value in self.committee_settings.items():
                text += f"{key} = {int(value)}\n"
            member.config.write_text(text)
            self.members.append(member)

    # ---- processes ------------------------------------------------------------------------------------------------

    def start_enclave(self, m: Member) -> None:
        m.enclave = self._spawn("enclave", m, self.enclave_builds.get(m.index))

    def start_relayer(self, m: Member) -> None:
        m.relayer = self._spawn("relayer", m, self.relayer_builds.get(m.index))

    def _spawn(self, role: str, m: Member, root: Path | None) -> ManagedProcess:
        argv = [*CLI, role, "run", "--config", str(m.config)]
        if root is None:
            return self.supervisor.spawn(f"{role}-{m.index}", argv)
        # Another build (tests only): `enclave_signer` or `relayers` is imported from `root` (first on sys.path: the
        # working directory of `python -m`, and PYTHONPATH); the rest from this checkout as usual.
        path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
        return self.supervisor.spawn(f"{role}-{m.index}", argv, cwd=root, env={"PYTHONPATH": path})

    def start_xcm_origin(self, bridge_account: str, start_block: int) -> None:
        """The relay stand-in that sends the gateway's XCM with root origin (relayers/substrate/xcm_origin.py)."""
        argv = [*CLI, "--log-format", "json", "--log-level", "info", "devnet", "xcm-origin"]
        argv += [
            "--phala",
            self.state.phala.ws_url,
            "--bridge-account",
            bridge_account,
            "--start-block",
            str(start_block),
        ]
        self.xcm_origin = self.supervisor.spawn("xcm-origin", argv)

    def _peer_block(self) -> int:
        from relayers.substrate import SubstrateClient
        from relayers.substrate.chain import ChainReader

        with SubstrateClient(self.state.peer.ws_url) as peer:
            return ChainReader(peer).finalized_head().block_number

    def _wait_sockets(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for m in self.members:
            assert m.enclave is not None
            sock = m.socket

            def ready(_text: str, sock: Path = sock) -> bool:
                return sock.exists()

            m.enclave.wait_for_log(ready, max(1.0, deadline - time.monotonic()))

    # ---- bring-up -------------------------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> NetworkInfo:
        from relayers.substrate import SubstrateClient
        from relayers.substrate.chain import ChainReader

        with SubstrateClient(self.state.phala.ws_url) as phala:
            start_block = ChainReader(phala).finalized_head().block_number + 1
        self.auction = self._deploy_auction()
        self.write_configs(start_block)
        for m in self.members:
            self.start_enclave(m)
        self._wait_sockets(timeout)
        record = asyncio.run(self._dkg(timeout))
        keys = record["group_keys"]
        self.record_block = self._record_on_phala(record)
        self._register_ethereum_key(bytes.fromhex(keys["secp256k1"][2:]))
        self._fund_phala_bridge(bytes.fromhex(keys["ed25519"][2:]))
        self.start_xcm_origin(keys["ed25519"], start_block)
        for m in self.members:
            self.start_relayer(m)
        self.network = NetworkInfo(
            name="devnet",
            ethereum=EthereumSide(
                rpc_url=self.state.ethereum.rpc_url,
                chain_id=self.state.ethereum.chain_id,
                bridge=self.addresses["contracts"]["Bridge"],
                pha_token=self.addresses["contracts"]["PhaToken"],
                confirmations=CONFIRMATIONS,
                start_block=self.addresses["block_number"],
            ),
            phala=PhalaSide(
                ws_url=self.state.phala.ws_url,
                para_id=self.state.phala.para_id,
                bridge_account=keys["ed25519"],
                start_block=start_block,
                min_deposit={"ethereum": DepositMinimumSide(transfer=MIN_DEPOSIT_PLANCK, call=MIN_DEPOSIT_PLANCK)},
            ),
            pha_resource_id=self.addresses["resources"]["PHA"],
            relayer_status_urls=[m.status_url for m in self.members],
            gateway=GatewaySide(
                reserve_account=GATEWAY_RESERVE,
                parachains={
                    "peer": GatewayParachainSide(
                        para_id=self.state.peer.para_id,
                        xcm_versions=[2],
                        beneficiaries=["account_id32"],
                        min_fee=GATEWAY_MIN_FEE,
                        min_deposit=GATEWAY_MIN_DEPOSIT,
                        ws_url=self.state.peer.ws_url,
                        start_block=self._peer_block(),
                    )
                },
            ),
            confidential=ConfidentialSide(encryption_key=keys["encryption"], auction_settlement=self.auction),
        )
        (self.dir.parent / "network.json").write_text(self.network.model_dump_json(indent=2))
        self._wait_relayers(timeout)
        log.info("bridge_ready", members=self.n, threshold=self.t)
        return self.network

    async def _dkg(self, wait_s: float) -> dict[str, Any]:
        from relayers.enclave_client import EnclaveClient

        client = EnclaveClient(str(self.members[0].socket))
        try:
            deadline = time.monotonic() + wait_s
            while True:  # every member must have joined (attested) before the ceremony
                dead = [m for m in self.members if m.enclave is not None and not m.enclave.alive()]
                if dead:
                    tails = "\n".join(f"enclave {m.index}:\n{m.enclave.log_tail(15)}" for m in dead if m.enclave)
                    raise CommitteeError(f"enclave(s) {[m.index for m in dead]} exited:\n{tails}")
                status = await client.status()
                if len(status.attested) >= self.n - 1 and len(status.members_up) == self.n:
                    break
                if time.monotonic() > deadline:
                    raise CommitteeError(f"committee not assembled: up {status.members_up}, attested {status.attested}")
                await asyncio.sleep(0.2)
            result = await client.dkg(timeout_s=min(wait_s, 120.0))
            return result.record.model_dump(mode="json")
        finally:
            await client.close()

    def _record_on_phala(self, record: dict[str, Any]) -> int:
        """Write the committee record on the Phala chain (from the devnet's operator account, //Alice)."""
        from bridge.enclave_api import CommitteeRecord
        from relayers.substrate import SubstrateClient, keypair_from_uri
        from relayers.substrate.committee_records import write_record

        with SubstrateClient(self.state.phala.ws_url) as phala:
            written = write_record(
                phala, keypair_from_uri("//Alice", phala.ss58_format), CommitteeRecord.model_validate(record)
            )
        log.info("committee_recorded", block=written.block_number, extrinsic=written.extrinsic_hash)
        return written.block_number

    def _deploy_auction(self) -> str:
        """The example confidential contract's settlement on Ethereum, allow-listed as a call target (a devnet step
        rather than a fixture, so the fixtures stay the bridge's own)."""
        from eth_account import Account
        from web3 import Web3

        from bridge.domains import Domain
        from relayers.ethereum.contracts import contract_at, send
        from relayers.ethereum.deploy import deploy_contract

        w3 = Web3(Web3.HTTPProvider(self.state.ethereum.rpc_url))
        admin = Account.from_key(ethereum_dev_accounts(1)[0].private_key)
        bridge_address = self.addresses["contracts"]["Bridge"]
        # settle accepts only replies from Phala (chains.phala.domain_id below) sent by this auction's contract id
        address = deploy_contract(w3, admin, "SealedBidAuction", bridge_address, int(Domain.PHALA))
        send(w3, contract_at(w3, "Bridge", bridge_address).functions.setAllowedTarget(address, True), admin)
        log.info("auction_deployed", address=address)
        return address

    def _register_ethereum_key(self, group_pk: bytes) -> None:
        from web3 import Web3

        from bridge.evm import decompress_point
        from relayers.ethereum.deploy import initialize_key

        w3 = Web3(Web3.HTTPProvider(self.state.ethereum.rpc_url))
        admin = ethereum_dev_accounts(1)[0]
        from eth_account import Account

        x, y = decompress_point(group_pk)
        initialize_key(w3, Account.from_key(admin.private_key), self.addresses["contracts"]["Bridge"], x, y)

    def _fund_phala_bridge(self, account: bytes) -> None:
        from relayers.substrate import SubstrateClient, set_free_balance

        # Liquidity set directly in storage (devnet only): a transfer would show up as funds without an intent.
        with SubstrateClient(self.state.phala.ws_url) as phala:
            set_free_balance(phala, account, BRIDGE_LIQUIDITY_PLANCK)

    def _wait_relayers(self, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        for m in self.members:
            while True:
                try:
                    with urllib.request.urlopen(m.status_url + "/health", timeout=2):  # noqa: S310 - loopback
                        break
                except OSError as exc:
                    # 503 (degraded) still means the daemon is up and serving.
                    if getattr(exc, "code", None) == 503:
                        break
                    assert m.relayer is not None
                    if not m.relayer.alive():
                        raise CommitteeError(f"relayer {m.index} exited:\n{m.relayer.log_tail()}") from None
                    if time.monotonic() > deadline:
                        raise CommitteeError(f"relayer {m.index} not serving after {timeout:.0f}s") from None
                    time.sleep(0.2)
