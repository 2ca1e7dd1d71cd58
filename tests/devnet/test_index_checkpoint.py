"""Executed-index checkpoints against the real runtime (Chopsticks) and real stores (SQLite; PostgreSQL when one is
reachable): an index synced over real bridge executions is snapshotted into the store; a new index resumes from it,
reads only the blocks after it (counted by a wrapper around the real reader) and ends equal to a full scan; a
snapshot whose block hash is not on this chain is refused and the index scans everything, with the same result."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bridge.devnet import DevnetState
from bridge.ports import ChainPosition
from enclave_signer.frost import ED25519, trusted_dealer_keygen
from relayers.store import SqlStore, open_store
from relayers.substrate import PhalaConfig, PhalaDestination, SubstrateClient, set_free_balance
from relayers.substrate.chain import ChainReader, RawBlock
from relayers.substrate.devnet import new_block
from relayers.substrate.executed_index import ExecutedIndex
from relayers.substrate.index_checkpoint import CheckpointPolicy, IndexCheckpoints
from relayers.substrate.index_snapshot import decode_snapshot, encode_snapshot
from tests.devnet.test_substrate_adapter import RID, UNIT, Bridge, FrostBatchSigner, inbound, settle

pytestmark = [pytest.mark.devnet, pytest.mark.usefixtures("all_log_levels")]  # info events are asserted on

NAME = "phala/executed-index/destination"
NEVER = CheckpointPolicy(every_blocks=10**9, every_seconds=10**9)  # only explicit saves, for exact positions


class CountingReader(ChainReader):
    """The real reader, noting every block it reads."""

    def __init__(self, client: SubstrateClient) -> None:
        super().__init__(client)
        self.blocks_read: list[int] = []

    def block(self, block_hash: str) -> RawBlock:
        block = super().block(block_hash)
        self.blocks_read.append(block.number)
        return block


@pytest.fixture(scope="module")
def chain(devnet: DevnetState) -> Iterator[SubstrateClient]:
    # dev_newBlock with a count answers once every block is built: seconds each on a busy 2-core machine.
    with SubstrateClient(devnet.phala.ws_url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def history(devnet: DevnetState, chain: SubstrateClient) -> tuple[PhalaConfig, set[str], set[str]]:
    """A fresh bridge account with two executed batches, 25 empty blocks between them."""
    group_pk, shares = trusted_dealer_keygen(ED25519, n=5, t=3)
    set_free_balance(chain, group_pk, 1_000 * UNIT)
    start = ChainReader(chain).finalized_head().block_number + 1
    config = PhalaConfig(
        url=devnet.phala.ws_url, bridge_account=group_pk, resource_id=RID, start_block=start, index_start_block=start
    )
    bridge = Bridge(config, shares)
    dest, signer = PhalaDestination(config), FrostBatchSigner(bridge)
    try:
        first, _, _ = asyncio.run(settle(dest, signer, [inbound(2 * UNIT), inbound(3 * UNIT)]))
        new_block(chain, count=25)
        second, _, _ = asyncio.run(settle(dest, signer, [inbound(UNIT)]))
    finally:
        dest.close()
        signer.verifier.close()
    assert len(first) == 2 and len(second) == 1
    return config, first, second


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path}/relayer.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = open_store(url)
    yield s
    s.close()


def synced(index: ExecutedIndex, reader: ChainReader, to: ChainPosition) -> ExecutedIndex:
    while not index.sync(reader, to):
        pass
    return index


def test_resume_reads_only_newer_blocks_and_equals_a_full_scan(
    chain: SubstrateClient, history: tuple[PhalaConfig, set[str], set[str]], store: SqlStore
) -> None:
    config, first, second = history
    reader = CountingReader(chain)
    head = reader.finalized_head()
    # Snapshot partway: after the first batch, before the 25 empty blocks and the second batch.
    full = synced(ExecutedIndex(config), reader, head)
    (first_tx,) = {full.executed_by(i) for i in first}
    assert first_tx is not None
    first_record = full.extrinsic(first_tx)
    assert first_record is not None
    mid = ChainPosition(first_record.block_number + 5, str(reader.block_hash(first_record.block_number + 5)))
    before = ExecutedIndex(config, checkpoints=IndexCheckpoints(store, NAME, NEVER))
    synced(before, reader, mid)
    assert before.save_checkpoint()
    assert decode_snapshot(bytes(store.load_checkpoint(NAME) or b"")).scanned == mid

    new_block(chain, count=10)  # the node moved on while "we" were down
    reader = CountingReader(chain)
    head = reader.finalized_head()
    with structlog.testing.capture_logs() as logs:
        resumed = synced(ExecutedIndex(config, checkpoints=IndexCheckpoints(store, NAME, NEVER)), reader, head)
    assert [e["block"] for e in logs if e["event"] == "index_resumed"] == [mid.block_number]
    assert reader.blocks_read == list(range(mid.block_number + 1, head.block_number + 1))

    full = synced(ExecutedIndex(config), CountingReader(chain), head)
    assert resumed.snapshot() == full.snapshot()
    assert resumed.executed_among(first | second) == first | second


def test_a_snapshot_not_on_this_chain_falls_back_to_a_full_scan(
    chain: SubstrateClient, history: tuple[PhalaConfig, set[str], set[str]], store: SqlStore
) -> None:
    config, first, second = history
    reader = CountingReader(chain)
    head = reader.finalized_head()
    index = synced(ExecutedIndex(config, checkpoints=IndexCheckpoints(store, NAME, NEVER)), reader, head)
    snap = index.snapshot()
    assert snap is not None
    # The same snapshot, as if taken on a fork (or another network): its block's hash is not the node's.
    forked = dataclasses.replace(snap, scanned=ChainPosition(snap.scanned.block_number, "0x" + "ab" * 32))
    store.save_checkpoint(NAME, encode_snapshot(forked), forked.scanned.block_number)

    reader = CountingReader(chain)
    with structlog.testing.capture_logs() as logs:
        again = synced(ExecutedIndex(config, checkpoints=IndexCheckpoints(store, NAME, NEVER)), reader, head)
    assert [e["reason"] for e in logs if e["event"] == "index_checkpoint_fallback"] == ["hash_mismatch"]
    assert reader.blocks_read == list(range(config.index_start_block, head.block_number + 1))
    assert again.snapshot() == snap
    assert again.executed_among(first | second) == first | second
