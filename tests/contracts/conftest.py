"""Fixtures for the contract tests: one anvil per test module, the whole set deployed, a 3-of-5 FROST committee.

Every test runs between an `evm_snapshot` and an `evm_revert`, so tests see the freshly deployed state and do
not depend on each other. anvil runs in its own process group and is killed by PID when the module ends, even when
a test crashed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, TxReceipt

from bridge.evm import (
    Batch,
    BatchItem,
    EvmSignature,
    GovernanceAction,
    batch_digest,
    decompress_point,
    encode_batch,
    encode_signature,
    execute_batch_calldata,
    governance_digest,
)
from enclave_signer.frost import SECP256K1, KeyShare, sign_with_shares, trusted_dealer_keygen
from relayers.ethereum.contracts import contract_at, send, send_data
from relayers.ethereum.deploy import DeployConfig, Deployment, deploy_all

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CHAIN_ID = 31337
PHALA = 2
PHA = 10**18
_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


@dataclass
class Anvil:
    rpc_url: str
    process: subprocess.Popen[str]


def start_anvil(chain_id: int = CHAIN_ID, extra: Sequence[str] = ()) -> Anvil:
    """anvil on a port it picks itself, in its own process group; returns once it listens."""
    if not ANVIL.exists():
        pytest.skip(f"anvil not installed at {ANVIL} (run `make setup`)")
    argv = [str(ANVIL), "--host", "127.0.0.1", "--port", "0", "--chain-id", str(chain_id), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 15
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        match = _LISTENING.search(line)
        if match:
            # anvil keeps logging to stdout: drain it so a full pipe can never block it
            threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
            return Anvil(rpc_url=f"http://127.0.0.1:{match.group(1)}", process=proc)
        if time.monotonic() > deadline:
            break
    stop_anvil(proc)
    raise RuntimeError("anvil did not start:\n" + "".join(seen[-20:]))


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


def stop_anvil(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


@dataclass
class Committee:
    """A 3-of-5 FROST committee (trusted-dealer keys); signs with 3 real shares."""

    group_pk: bytes
    shares: list[KeyShare]

    @classmethod
    def new(cls) -> Committee:
        group_pk, shares = trusted_dealer_keygen(SECP256K1, n=5, t=3)
        return cls(group_pk, list(shares))

    @property
    def xy(self) -> tuple[int, int]:
        return decompress_point(self.group_pk)

    def sign(self, message: bytes, signers: Sequence[int] = (0, 2, 4)) -> EvmSignature:
        sig = sign_with_shares(SECP256K1, [self.shares[i] for i in signers], message)
        return encode_signature(sig, self.group_pk)


@dataclass
class Chain:
    """A deployed bridge on a live anvil, with helpers to sign and execute batches."""

    w3: Web3
    accounts: list[str]
    deployment: Deployment
    committee: Committee
    contracts: dict[str, Contract] = field(default_factory=dict)

    @property
    def admin(self) -> str:
        return self.accounts[0]

    @property
    def guardian(self) -> str:
        return self.accounts[1]

    @property
    def bridge(self) -> Contract:
        return self.contracts["bridge"]

    @property
    def pha(self) -> Contract:
        return self.contracts["pha"]

    @property
    def wrapped(self) -> Contract:
        return self.contracts["wrapped"]

    @property
    def epoch(self) -> int:
        return int(self.bridge.functions.keyState().call()[0])

    def encode(self, items: Sequence[BatchItem], *, epoch: int | None = None, domain: int = PHALA) -> bytes:
        return encode_batch(self.epoch if epoch is None else epoch, domain, list(items))

    def sign_batch(
        self,
        batch: bytes,
        *,
        committee: Committee | None = None,
        chain_id: int = CHAIN_ID,
        bridge: str | None = None,
    ) -> EvmSignature:
        digest = batch_digest(chain_id, bridge or self.deployment.bridge, batch)
        return (committee or self.committee).sign(digest)

    def execute(
        self,
        items: Sequence[BatchItem] | bytes,
        *,
        epoch: int | None = None,
        domain: int = PHALA,
        committee: Committee | None = None,
        signature: EvmSignature | None = None,
        gas: int | None = None,
    ) -> TxReceipt:
        batch = items if isinstance(items, bytes) else self.encode(items, epoch=epoch, domain=domain)
        sig = signature or self.sign_batch(batch, committee=committee)
        return send_data(self.w3, self.deployment.bridge, execute_batch_calldata(batch, sig), self.accounts[9], gas=gas)

    def governance_signature(
        self, action: GovernanceAction, params: bytes = b"", *, committee: Committee | None = None
    ) -> EvmSignature:
        epoch = self.epoch
        nonce = int(self.bridge.functions.governanceNonce().call())
        digest = governance_digest(CHAIN_ID, self.deployment.bridge, epoch, nonce, action, params)
        return (committee or self.committee).sign(digest)

    def events(self, receipt: TxReceipt, name: str, contract: Contract | None = None) -> list[dict[str, Any]]:
        from relayers.ethereum.contracts import event_logs

        return event_logs(contract or self.bridge, receipt, name)

    def increase_time(self, seconds: int) -> None:
        self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    node = start_anvil()
    try:
        yield node
    finally:
        stop_anvil(node.process)


@pytest.fixture(scope="module")
def chain(anvil: Anvil) -> Chain:
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 30}))
    accounts = [str(a) for a in w3.eth.accounts]
    deployment = deploy_all(w3, accounts[0], DeployConfig(guardian=accounts[1], funded_accounts=tuple(accounts[2:6])))
    committee = Committee.new()
    contracts = {
        "bridge": contract_at(w3, "Bridge", deployment.bridge),
        "pha": contract_at(w3, "PhaToken", deployment.pha_token),
        "wrapped": contract_at(w3, "WrappedToken", deployment.wrapped_token),
        "recorder": contract_at(w3, "CallRecorder", deployment.call_recorder),
        "reverter": contract_at(w3, "RevertingTarget", deployment.reverting_target),
    }
    x, y = committee.xy
    send(w3, contracts["bridge"].functions.initializeKey(x, y), accounts[0])
    return Chain(w3=w3, accounts=accounts, deployment=deployment, committee=committee, contracts=contracts)


@pytest.fixture(autouse=True)
def _revert_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Snapshot the chain before each test that uses it and revert afterwards."""
    if "chain" not in request.fixturenames:
        yield
        return
    chain: Chain = request.getfixturevalue("chain")
    snapshot = chain.w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])
    try:
        yield
    finally:
        chain.w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot["result"]])


__all__ = ["CHAIN_ID", "PHA", "PHALA", "Anvil", "Batch", "Chain", "Committee", "start_anvil", "stop_anvil"]
