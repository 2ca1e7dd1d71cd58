"""Executed-index restart: time and blocks read to bring a Phala executed index to the finalized head after a
restart, with and without a checkpoint (relayers/substrate/index_checkpoint.py), over N blocks of history on a real
Chopsticks chain (`PB_BENCH_CKPT_BLOCKS`, default 300, made with dev_newBlock); the snapshot is taken K = 10 blocks
before the head (the blocks since the last stop) and kept in a real SQLite store. Plus the codec's cost for a large
index (100,000 executed ids, 10,000 remembered extrinsics): snapshot size, encode and decode time.

And the confidential engine's Ethereum scan (`MemberChainView.final_calls`, bridge/cli/engine_scan.py) on a real
anvil (the committed fixture) with `PB_BENCH_SCAN_BLOCKS` blocks (default 2,000: `anvil_mine` makes them at ~30 ms
a block on a loaded machine) and 20 confidential calls: time and `eth_getLogs` ranges (500 blocks each) to the
final head on a restart, from `start_block` and from a sealed snapshot 10 blocks back.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from bench.results import record
from bridge.cli.confidential_wiring import MemberChainView
from bridge.confidential import CALL_MAGIC, VERSION
from bridge.config import NodeConfig, parse_config
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.anvil import start_anvil
from bridge.devnet.processes import ProcessSupervisor
from bridge.enclave_api import GroupKeys
from bridge.ports import ChainPosition
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.sealing import Sealer
from relayers.ethereum.contracts import contract_at, send
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import RawLog
from relayers.store import open_store
from relayers.substrate import PhalaConfig, SubstrateClient
from relayers.substrate.chain import ChainReader, RawBlock
from relayers.substrate.devnet import new_block
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex, IndexSnapshot
from relayers.substrate.index_checkpoint import CheckpointPolicy, IndexCheckpoints
from relayers.substrate.index_snapshot import decode_snapshot, encode_snapshot

RID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")
SINCE_STOP = 10
RUNS = 3
NEVER = CheckpointPolicy(every_blocks=10**9, every_seconds=10**9)
BLOCKS_PER_DAY = 14_400  # Phala: one block every 6 s


class CountingReader(ChainReader):
    def __init__(self, client: SubstrateClient) -> None:
        super().__init__(client)
        self.blocks = 0

    def block(self, block_hash: str) -> RawBlock:
        self.blocks += 1
        return super().block(block_hash)


def _sync(index: ExecutedIndex, reader: ChainReader, head: ChainPosition) -> None:
    while not index.sync(reader, head):
        pass


def _restart(url: str, config: PhalaConfig, store_url: str | None, head: ChainPosition) -> tuple[float, int]:
    """A process start: a new connection (its metadata is loaded once, outside the timing) and a new index."""
    with SubstrateClient(url) as client:
        reader = CountingReader(client)
        reader.finalized_head()
        store = None if store_url is None else open_store(store_url)
        checkpoints = None if store is None else IndexCheckpoints(store, "phala/executed-index/bench", NEVER)
        t0 = time.perf_counter()
        index = ExecutedIndex(config, checkpoints=checkpoints)
        _sync(index, reader, head)
        elapsed = time.perf_counter() - t0
        if store is not None:
            store.close()
        return elapsed, reader.blocks


def _chain_figures(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Devnet(work_dir=Path(tmp), committee=False) as state:
        url = state.phala.ws_url
        with SubstrateClient(url, timeout=300) as client:  # building blocks takes Chopsticks ~0.1-1 s each
            start = ChainReader(client).finalized_head().block_number + 1
            for _ in range(n // 20):
                new_block(client, count=20)
            if n % 20:
                new_block(client, count=n % 20)
            reader = ChainReader(client)
            head = reader.finalized_head()
            mid_number = head.block_number - SINCE_STOP
            mid = ChainPosition(mid_number, str(reader.block_hash(mid_number)))
            config = PhalaConfig(url=url, bridge_account=os.urandom(32), resource_id=RID, index_start_block=start)
            store_url = f"sqlite:///{tmp}/relayer.db"
            store = open_store(store_url)
            before = ExecutedIndex(config, checkpoints=IndexCheckpoints(store, "phala/executed-index/bench", NEVER))
            _sync(before, reader, mid)
            before.save_checkpoint()
            store.close()
        full = [_restart(url, config, None, head) for _ in range(RUNS)]
        resumed = [_restart(url, config, store_url, head) for _ in range(RUNS)]
    full_s, resumed_s = statistics.median(t for t, _ in full), statistics.median(t for t, _ in resumed)
    history = head.block_number - start + 1
    load = os.getloadavg()[0]
    note = f"median of {RUNS}; {history} empty Chopsticks blocks; load average {load:.1f} when measured"
    record("checkpoint.restart.full_scan_s", full_s, "s", note=f"no checkpoint: every block from the start; {note}")
    record("checkpoint.restart.full_scan_blocks", full[0][1], "blocks", note="blocks read by a full scan")
    record("checkpoint.restart.resumed_s", resumed_s, "s", note=f"snapshot {SINCE_STOP} blocks back; {note}")
    record("checkpoint.restart.resumed_blocks", resumed[0][1], "blocks", note="blocks read after a resume")
    per_block_ms = full_s / history * 1e3
    record("checkpoint.restart.full_scan_ms_per_block", per_block_ms, "ms", note=note)
    record(
        "checkpoint.restart.full_scan_one_year_h",
        per_block_ms * BLOCKS_PER_DAY * 365 / 3.6e6,
        "h",
        note="extrapolated: a full scan of one year of Phala blocks (14,400/day) at the rate above; empty blocks, "
        "so a lower bound (a bridge extrinsic costs its events and decoding too)",
    )


def _codec_figures() -> None:
    def h(i: int, tag: str) -> str:
        return "0x" + hashlib.sha256(f"{tag}{i}".encode()).hexdigest()

    extrinsics = tuple(
        BridgeExtrinsic(i, h(i, "b"), 1, h(i, "x"), i, tuple(h(i * 10 + k, "m") for k in range(10)), None)
        for i in range(10_000)
    )
    snap = IndexSnapshot(
        b"\xbb" * 32,
        1,
        ChainPosition(10_000, h(10_000, "b")),
        tuple((h(i, "m"), h(i // 10, "x")) for i in range(100_000)),
        extrinsics,
        (),
    )
    encode, decode = [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        data = encode_snapshot(snap)
        t1 = time.perf_counter()
        decode_snapshot(data)
        encode.append(t1 - t0)
        decode.append(time.perf_counter() - t1)
    note = "100,000 executed ids, 10,000 remembered extrinsics of 10 ids each, no notes"
    record("checkpoint.snapshot.size_mib", len(data) / 2**20, "MiB", note=note)
    record("checkpoint.snapshot.encode_ms", statistics.median(encode) * 1e3, "ms", note=f"median of {RUNS}; {note}")
    record("checkpoint.snapshot.decode_ms", statistics.median(decode) * 1e3, "ms", note=f"median of {RUNS}; {note}")


ROOT = Path(__file__).resolve().parents[1]
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ETH_BLOCKS_PER_YEAR = 2_628_000  # one block every 12 s


class CountingRpc(EthRpc):
    def __init__(self, rpc: EthRpc) -> None:
        super().__init__(rpc.url, chain_id=rpc.expected_chain_id, bridge=str(rpc.bridge.address), timeout=60)
        self.ranges = 0

    def logs(self, topic0: Sequence[bytes], from_block: int, to_block: int, *more: bytes | None) -> list[RawLog]:
        self.ranges += 1
        return super().logs(topic0, from_block, to_block, *more)


def _member_config(url: str, start: int) -> NodeConfig:
    text = (ROOT / "config" / "node.example.toml").read_text()
    head, rest = text.split("[chains.ethereum]\n", 1)
    chain = (
        f'[chains.ethereum]\nkind = "ethereum"\ndomain_id = 1\nrpc_url = "{url}"\nchain_id = 31337\n'
        f'bridge_address = "{BRIDGE}"\nconfirmations = 2\nstart_block = {start}\n'
    )
    return parse_config(
        head + chain + "\n[chains.phala]" + rest.split("\n[chains.phala]", 1)[1], NodeConfig, source="-"
    )


def _engine_scan_figures(n: int) -> None:
    keys = GroupKeys(secp256k1=b"\x02" + b"\x01" * 32, ed25519=b"\x5a" * 32, encryption=b"\x03" * 32)
    with tempfile.TemporaryDirectory() as tmp:
        supervisor = ProcessSupervisor(Path(tmp) / "logs")
        node = start_anvil(supervisor, chain_id=31337, load_state=ROOT / "anvil-fixtures" / "devnet-state.json")
        try:
            w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
            start = int(w3.eth.block_number)
            user = Account.from_key(ethereum_dev_accounts(5)[2].private_key)
            bridge = contract_at(w3, "Bridge", BRIDGE)
            for _ in range(20):
                w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(n // 20)])
                payload = CALL_MAGIC + bytes([VERSION]) + b"\x07" * 32 + os.urandom(256)
                send(w3, bridge.functions.sendMessage(2, payload), user, value=10**15)
            cfg = _member_config(node.rpc_url, start)
            store = SealedCheckpoints(Sealer(os.urandom(32)), Path(tmp) / "checkpoints")
            # the snapshot: a view stopped SINCE_STOP blocks ago (the blocks since are read on the restart)
            before = MemberChainView(cfg, lambda: keys, store)
            asyncio.run(before.final_calls())
            assert before.save_checkpoint()
            w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(SINCE_STOP)])

            def restart(with_checkpoint: bool) -> tuple[float, int, int]:
                view = MemberChainView(cfg, lambda: keys, store if with_checkpoint else None)
                rpc = view._eth.rpc = CountingRpc(view._eth.rpc)
                rpc.run_sync(lambda r: r.head_number())  # the connection's first use (chain id check) untimed
                t0 = time.perf_counter()
                calls = asyncio.run(view.final_calls())
                return time.perf_counter() - t0, rpc.ranges, len(calls)

            full = [restart(False) for _ in range(RUNS)]
            resumed = [restart(True) for _ in range(RUNS)]
        finally:
            supervisor.stop_all()
    assert all(c == 20 for _, _, c in full + resumed)
    full_s, resumed_s = statistics.median(t for t, _, _ in full), statistics.median(t for t, _, _ in resumed)
    note = f"median of {RUNS}; {n} anvil blocks, 20 confidential calls; load average {os.getloadavg()[0]:.1f}"
    record("checkpoint.engine_scan.full_scan_s", full_s, "s", note=f"no checkpoint: from start_block; {note}")
    record("checkpoint.engine_scan.full_scan_get_logs", full[0][1], "requests", note="eth_getLogs ranges (500 blocks)")
    record("checkpoint.engine_scan.resumed_s", resumed_s, "s", note=f"snapshot {SINCE_STOP} blocks back; {note}")
    record("checkpoint.engine_scan.resumed_get_logs", resumed[0][1], "requests", note="eth_getLogs after a resume")
    record(
        "checkpoint.engine_scan.full_scan_one_year_s",
        full_s / n * ETH_BLOCKS_PER_YEAR,
        "s",
        note="extrapolated: a full scan of one year of Ethereum blocks (one per 12 s) at the rate above, against "
        "a local anvil (a remote endpoint adds its round trips: ~5,300 ranges of 500 blocks)",
    )


def main() -> None:
    _codec_figures()
    _engine_scan_figures(int(os.environ.get("PB_BENCH_SCAN_BLOCKS", "2000")))
    _chain_figures(int(os.environ.get("PB_BENCH_CKPT_BLOCKS", "300")))


if __name__ == "__main__":
    main()
