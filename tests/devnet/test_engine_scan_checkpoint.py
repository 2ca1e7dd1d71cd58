"""The confidential engine's Ethereum scan (`MemberChainView.final_calls`) restarted from its checkpoint, against a
real anvil (the committed fixture: Bridge deployed) and the enclave's real sealed store: confidential calls sent
with `sendMessage`, a view that scanned them saves a snapshot; a new view resumes from it (`engine_scan_resumed`),
reads only the blocks after it (every `eth_getLogs` range counted by a wrapper around the real RPC) and returns
the same calls as a full scan; calls dropped as executed stay out of the snapshot and of the resumed view; a
snapshot whose block a reorg replaced, one of another config and a corrupt one are refused (logged fallback) and
the view scans from `start_block`, with the same result."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from bridge.cli.confidential_wiring import MemberChainView
from bridge.confidential import CALL_MAGIC, VERSION, CallStatus, ExecutionRecord, encode_record
from bridge.config import NodeConfig, parse_config
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.anvil import start_anvil
from bridge.devnet.processes import ProcessSupervisor
from bridge.enclave_api import GroupKeys
from bridge.messages import BridgeMessage
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.sealing import Sealer
from relayers.ethereum.contracts import contract_at, send
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import RawLog

pytestmark = [pytest.mark.devnet, pytest.mark.usefixtures("all_log_levels")]  # info events are asserted on

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "anvil-fixtures" / "devnet-state.json"
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
CONTRACT = b"\x07" * 32
ACCOUNT = b"\x5a" * 32  # the Phala bridge account the calls are pruned against
KEYS = GroupKeys(secp256k1=b"\x02" + b"\x01" * 32, ed25519=ACCOUNT, encryption=b"\x03" * 32)
NAME = "ethereum/engine-scan/confidential-calls"


@dataclass
class Net:
    w3: Web3
    url: str
    start: int
    store: SealedCheckpoints

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def send_call(self) -> int:
        """A confidential call (the payload's magic is what routes it; its ciphertext is not read here)."""
        user = Account.from_key(ethereum_dev_accounts(5)[2].private_key)
        bridge = contract_at(self.w3, "Bridge", BRIDGE)
        payload = CALL_MAGIC + bytes([VERSION]) + CONTRACT + os.urandom(96)
        receipt = send(self.w3, bridge.functions.sendMessage(2, payload), user, value=10**15)

        return int(receipt["blockNumber"])

    def config(self, **chain: Any) -> NodeConfig:
        text = (ROOT / "config" / "node.example.toml").read_text()
        values = {"rpc_url": self.url, "chain_id": 31337, "bridge_address": BRIDGE, "confirmations": 2,
                  "start_block": self.start, "max_block_range": 5} | chain  # fmt: skip
        head, rest = text.split("[chains.ethereum]\n", 1)
        rest = rest.split("\n[chains.phala]", 1)[1]
        lines = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in values.items())
        body = f'{head}[chains.ethereum]\nkind = "ethereum"\ndomain_id = 1\n{lines}\n\n[chains.phala]{rest}'
        return parse_config(body.replace("'", '"'), NodeConfig, source="node.toml")

    def view(self, **chain: Any) -> tuple[MemberChainView, list[tuple[int, int]]]:
        """A member's view over the sealed store, its `eth_getLogs` ranges noted."""
        view = MemberChainView(self.config(**chain), lambda: KEYS, self.store)
        ranges: list[tuple[int, int]] = []
        view._eth.rpc = CountingRpc(view._eth.rpc, ranges)
        return view, ranges


class CountingRpc(EthRpc):
    """The real RPC, noting every `eth_getLogs` range it reads."""

    def __init__(self, rpc: EthRpc, ranges: list[tuple[int, int]]) -> None:
        super().__init__(rpc.url, chain_id=rpc.expected_chain_id, bridge=str(rpc.bridge.address), timeout=30)
        self.ranges = ranges

    def logs(self, topic0: Sequence[bytes], from_block: int, to_block: int, *more: bytes | None) -> list[RawLog]:
        self.ranges.append((from_block, to_block))
        return super().logs(topic0, from_block, to_block, *more)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    work = tmp_path_factory.mktemp("engine-scan")
    supervisor = ProcessSupervisor(work / "logs")
    node = start_anvil(supervisor, chain_id=31337, load_state=STATE)
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
        store = SealedCheckpoints(Sealer(os.urandom(32)), work / "checkpoints")
        yield Net(w3, node.rpc_url, int(w3.eth.block_number), store)
    finally:
        supervisor.stop_all()


def final_calls(view: MemberChainView) -> list[BridgeMessage]:
    return list(asyncio.run(view.final_calls()))


def executed(*calls: BridgeMessage) -> list[bytes]:
    return [encode_record(ExecutionRecord(CONTRACT, 1, m.nonce, i, CallStatus.EXECUTED, 1, "", "", 0, ())) for i, m in
            enumerate(calls)]  # fmt: skip


def test_a_restarted_view_resumes_from_its_checkpoint(net: Net) -> None:
    for _ in range(3):
        net.send_call()
        net.mine(3)
    net.mine(2)
    first, _ = net.view()
    seen = final_calls(first)
    assert len(seen) == 3
    # The engine read a log holding the first call's record: dropped, in memory and in the snapshot.
    first._phala_key = ACCOUNT
    first._learn(executed(seen[0]))
    assert first.save_checkpoint()
    saved_at = first.scan_position
    assert saved_at is not None

    for _ in range(2):
        net.send_call()
        net.mine(4)
    net.mine(12)  # blocks with nothing of ours: several 5-block ranges after the checkpoint

    with structlog.testing.capture_logs() as logs:
        resumed, ranges = net.view()
        calls = final_calls(resumed)
    (event,) = [e for e in logs if e["event"] == "engine_scan_resumed"]
    assert (event["block"], event["calls"], event["records"]) == (saved_at.block_number, 2, 1)
    assert ranges and min(lo for lo, _ in ranges) == saved_at.block_number + 1  # only the blocks after it
    assert all(lo > saved_at.block_number for lo, _ in ranges)

    full, full_ranges = net.view(start_block=net.start)
    full.scan_checkpoints = None  # a full scan, as before checkpoints
    everything = final_calls(full)
    assert min(lo for lo, _ in full_ranges) == max(net.start, 1)
    assert len(everything) == 5 and resumed.scan_position == full.scan_position
    assert calls == everything[1:]  # the same calls, in the same order, but the executed one


def test_a_checkpoint_of_a_replaced_block_another_config_or_corrupt_is_refused(net: Net) -> None:
    net.send_call()
    net.mine(6)
    first, _ = net.view()
    final_calls(first)
    assert first.save_checkpoint()
    saved_at = first.scan_position
    assert saved_at is not None
    net.w3.provider.make_request(RPCEndpoint("anvil_reorg"), [3, []])  # the checkpoint's block is replaced
    assert net.w3.eth.get_block(saved_at.block_number)["hash"].to_0x_hex() != saved_at.block_hash
    net.mine(3)

    full, _ = net.view()
    full.scan_checkpoints = None
    everything = final_calls(full)

    with structlog.testing.capture_logs() as logs:
        rescanned, ranges = net.view()
        assert final_calls(rescanned) == everything
    fallbacks = [e for e in logs if e["event"] == "engine_scan_checkpoint_fallback"]
    assert [(e["reason"], e["action"]) for e in fallbacks] == [("hash_mismatch", "full_scan")]
    assert not [e for e in logs if e["event"] == "engine_scan_resumed"]
    assert min(lo for lo, _ in ranges) == max(net.start, 1)  # from start_block

    assert rescanned.save_checkpoint()  # a good one again, then: another start block, a corrupt file
    with structlog.testing.capture_logs() as logs:
        other, _ = net.view(start_block=net.start + 1)
        final_calls(other)
    assert [e["reason"] for e in logs if e["event"] == "engine_scan_checkpoint_fallback"] == ["other_config"]

    path = net.store.path_of(NAME)
    path.write_bytes(path.read_bytes()[:-5])
    with structlog.testing.capture_logs() as logs:
        broken, ranges = net.view()
        assert final_calls(broken) == everything
    assert [e["reason"] for e in logs if e["event"] == "engine_scan_checkpoint_fallback"] == ["unreadable"]
    assert min(lo for lo, _ in ranges) == max(net.start, 1)
