"""The watcher's finality, range, reorg and consistency rules over a fake chain (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from bridge.ports import ChainPosition, WatchResult
from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import Header, RawLog
from relayers.ethereum.watcher import EthereumWatcher
from tests.unit.ethereum.helpers import BRIDGE, RESOURCES, deposit_log, raw_log

T = TypeVar("T")


def _hash(fork: int, number: int) -> str:
    return "0x" + fork.to_bytes(2, "big").hex() + number.to_bytes(30, "big").hex()


@dataclass
class FakeChain:
    blocks: list[Header] = field(default_factory=list)
    logs_at: dict[str, list[RawLog]] = field(default_factory=dict)  # block hash -> logs
    finalized: int = 0
    on_logs: Callable[[], None] | None = None  # runs between eth_getLogs and the re-read of the last header

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = [Header(0, _hash(0, 0), "0x" + "00" * 32, 0, 1)]

    def grow(self, count: int, fork: int = 0) -> None:
        for _ in range(count):
            n = len(self.blocks)
            self.blocks.append(Header(n, _hash(fork, n), self.blocks[-1].hash, n, 1))

    def reorg(self, from_block: int, fork: int, length: int) -> None:
        del self.blocks[from_block:]
        self.grow(length, fork)

    def deposit_at(self, number: int, nonce: int) -> None:
        block = self.blocks[number]
        self.logs_at.setdefault(block.hash, []).append(
            deposit_log(
                nonce=nonce, block_number=number, block_hash=block.hash, log_index=len(self.logs_at.get(block.hash, []))
            )
        )

    # -- what the watcher calls
    def run_sync(self, fn: Callable[[Any], T]) -> T:
        return fn(self)

    async def run(self, fn: Callable[[Any], T]) -> T:
        return fn(self)

    def head_number(self) -> int:
        return len(self.blocks) - 1

    def header(self, block: int | str) -> Header | None:
        if block == "finalized":
            return self.blocks[self.finalized]
        assert isinstance(block, int)
        return self.blocks[block] if 0 <= block < len(self.blocks) else None

    def headers(self, numbers: Sequence[int]) -> list[Header]:
        return [self.blocks[n] for n in numbers]

    def logs(self, topic0: Sequence[bytes], from_block: int, to_block: int) -> list[RawLog]:
        out = [e for b in self.blocks[from_block : to_block + 1] for e in self.logs_at.get(b.hash, [])]
        if self.on_logs is not None:
            self.on_logs()
        return out


def watcher(chain: FakeChain, **kw: Any) -> EthereumWatcher:
    base: dict[str, Any] = dict(
        rpc_url="http://127.0.0.1:1", chain_id=31337, bridge_address=BRIDGE, resources=RESOURCES, confirmations=2
    )
    base.update(kw)
    return EthereumWatcher(EthereumConfig(**base), rpc=cast(EthRpc, chain))


def poll(w: EthereumWatcher, after: ChainPosition | None) -> WatchResult:
    return asyncio.run(w.poll(after))


def test_only_final_blocks_in_bounded_ranges() -> None:
    chain = FakeChain()
    chain.grow(10)
    chain.deposit_at(4, 1)
    chain.deposit_at(9, 2)
    w = watcher(chain, max_block_range=3)
    r1 = poll(w, None)
    assert r1.position.block_number == 3 and r1.messages == [] and r1.head == 10
    r2 = poll(w, r1.position)
    assert r2.position.block_number == 6 and [m.nonce for m in r2.messages] == [1]
    r3 = poll(w, r2.position)
    assert r3.position.block_number == 8 and r3.messages == []  # block 9 is within 2 confirmations
    assert poll(w, r3.position).position == r3.position
    chain.grow(1)
    assert [m.nonce for m in poll(w, r3.position).messages] == [2]


def test_finalized_tag() -> None:
    chain = FakeChain()
    chain.grow(10)
    chain.deposit_at(5, 1)
    chain.finalized = 4
    w = watcher(chain, finality="finalized")
    r = poll(w, None)
    assert r.position.block_number == 4 and r.messages == []
    chain.finalized = 5
    assert [m.nonce for m in poll(w, r.position).messages] == [1]


def test_reorg_behind_the_cursor_rewinds_to_the_fork_point() -> None:
    chain = FakeChain()
    chain.grow(8)
    chain.deposit_at(6, 1)
    w = watcher(chain, confirmations=0)
    r = poll(w, None)
    assert [m.nonce for m in r.messages] == [1] and r.position.block_number == 8
    chain.reorg(5, fork=1, length=5)  # blocks 5.. replaced; the deposit now in block 7
    chain.deposit_at(7, 1)
    again = poll(w, r.position)
    assert again.reorg_from == 5
    (m,) = again.messages
    assert m.nonce == 1 and m.source.block_number == 7 and "0x" + m.source.block_hash.hex() == chain.blocks[7].hash


def test_reorg_without_memory_rewinds_rewind_depth() -> None:
    chain = FakeChain()
    chain.grow(20)
    w = watcher(chain, confirmations=0, rewind_depth=4)
    cursor = ChainPosition(20, "0x" + "ee" * 32)  # a cursor this process never read (a restart onto another fork)
    r = poll(w, cursor)
    assert r.reorg_from == 17 and r.position.block_number == 20


def test_a_chain_that_moves_during_the_read_passes_nothing_on() -> None:
    chain = FakeChain()
    chain.grow(6)
    chain.deposit_at(3, 1)
    w = watcher(chain, confirmations=0)
    start = ChainPosition(0, chain.blocks[0].hash)
    chain.on_logs = lambda: chain.reorg(4, fork=2, length=3)
    r = poll(w, start)
    assert r.messages == [] and r.position == start
    chain.on_logs = None
    assert [m.nonce for m in poll(w, start).messages] == [1]


def test_headers_that_do_not_chain_pass_nothing_on() -> None:
    chain = FakeChain()
    chain.grow(5)
    chain.blocks[3] = replace(chain.blocks[3], parent_hash="0x" + "99" * 32)
    r = poll(watcher(chain, confirmations=0), ChainPosition(0, chain.blocks[0].hash))
    assert r.messages == [] and r.position.block_number == 0


def test_bad_logs_are_skipped_and_impossible_deposits_rejected() -> None:
    chain = FakeChain()
    chain.grow(4)
    b = chain.blocks[2]
    good = deposit_log(nonce=1, block_number=2, block_hash=b.hash, log_index=0)
    chain.logs_at[b.hash] = [
        good,
        raw_log(list(good.topics[:2]), good.data, block_number=2, block_hash=b.hash, log_index=1),
        deposit_log(nonce=2, dest=999, block_number=2, block_hash=b.hash, log_index=2),
    ]
    r = poll(watcher(chain, confirmations=0), ChainPosition(0, chain.blocks[0].hash))
    assert [m.nonce for m in r.messages] == [1]
    (rejected,) = r.rejected
    assert rejected.amount == 5 * 10**18 and rejected.extrinsic_index == 2
