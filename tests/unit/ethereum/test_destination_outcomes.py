"""The Ethereum destination's prepare -> submit -> confirm over a fake chain: a refusal belongs to the plan that made
it (a stale one never fails a message a later batch carried), and "executed" is decided at the final block only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from bridge.evm import batch_digest
from bridge.messages import BridgeMessage
from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.destination import EthereumDestination
from relayers.ethereum.errors import NothingToExecute
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import Header, Receipt
from tests.unit.ethereum.helpers import BRIDGE, TARGET, call_message
from tests.unit.ethereum.test_submitter import KEY, Clock, FakeNode

# The secp256k1 generator, compressed: a valid group key and signature R for the calldata encoder.
G = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
SIGNATURE = G + (1).to_bytes(32, "big")
OTHER = "0x" + "ab" * 20  # a call target not allow-listed at first
CONFIG = EthereumConfig(rpc_url="http://127.0.0.1:1", chain_id=31337, bridge_address=BRIDGE, confirmations=2)


def block_hash(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


@dataclass
class FakeChain(FakeNode):
    """The submitter's fake node plus the bridge's views: the bitmap at `latest` and at the final block."""

    head: int = 20
    allowed: set[str] = field(default_factory=lambda: {TARGET.lower()})
    used_latest: set[tuple[int, int]] = field(default_factory=set)
    used_final: set[tuple[int, int]] = field(default_factory=set)
    nonce_word_blocks: list[int | str] = field(default_factory=list)

    def bridge_reads(self, calls: list[tuple[str, tuple[Any, ...]]]) -> tuple[int, list[Any]]:
        out: list[Any] = []
        for name, args in calls:
            if name == "keyState":
                out.append((1, b"\x00" * 32, 0, False))
            elif name == "isAllowedTarget":
                out.append(str(args[0]).lower() in self.allowed)
            elif name == "nonceWord":
                out.append(self._word(self.used_latest, args))
            else:
                raise AssertionError(name)
        return self.head, out

    def bridge_calls(self, fn: str, args: list[tuple[Any, ...]], *, block: int | str = "latest") -> list[Any]:
        if fn == "tokenLimit":
            return [(1,) for _ in args]
        assert fn == "nonceWord"
        self.nonce_word_blocks.append(block)
        used = self.used_latest if block == "latest" else self.used_final
        return [self._word(used, a) for a in args]

    @staticmethod
    def _word(used: set[tuple[int, int]], args: tuple[Any, ...]) -> int:
        domain, word = args
        return sum(1 << (n & 255) for d, n in used if d == domain and n >> 8 == word)

    def bridge_call(self, fn: str, *args: Any, block: Any = "latest") -> Any:
        assert fn == "batchDigest"
        return batch_digest(CONFIG.chain_id, CONFIG.bridge_address, args[0])

    def head_number(self) -> int:
        return self.head

    def header(self, block: object) -> Header:
        n = self.head if not isinstance(block, int) else block
        return Header(n, block_hash(n), block_hash(n - 1), 0, self.base_fee)

    def mine_at(self, tx_hash: str, number: int) -> None:
        self.receipts[tx_hash] = Receipt(tx_hash, 1, number, block_hash(number), 50_000, 10**9, ())
        self.pool.pop(tx_hash, None)
        self.latest_nonce += 1


def setup() -> tuple[EthereumDestination, FakeChain, EthRpc]:
    chain = FakeChain()
    rpc = cast(EthRpc, chain)
    dest = EthereumDestination(CONFIG, rpc=rpc, submitter_key=KEY, clock=Clock())
    dest._keys[1] = G
    return dest, chain, rpc


def pair(m: BridgeMessage) -> tuple[int, int]:
    return m.source_domain, m.nonce


def test_a_stale_refusal_never_fails_a_message_a_later_mined_batch_executed() -> None:
    dest, chain, rpc = setup()
    a, b = call_message(5, OTHER), call_message(6)
    first = dest._prepare(rpc, [a, b])  # a refused (target not allow-listed); signing then times out
    assert first.message_ids == (b.id_hex,)
    chain.allowed.add(OTHER)  # the admin allow-lists the target
    second = dest._prepare(rpc, [a, b])
    assert set(second.message_ids) == {a.id_hex, b.id_hex}
    handle = dest._submit(rpc, second, SIGNATURE)
    chain.mine_at(handle, 11)
    chain.used_latest |= {pair(a), pair(b)}
    chain.used_final |= {pair(a), pair(b)}
    result = dest._confirm(rpc, handle, [a.id_hex, b.id_hex])
    assert result.executed == {a.id_hex, b.id_hex} and not result.failed


def test_a_stale_refusal_never_fails_a_message_of_a_dropped_batch() -> None:
    dest, chain, rpc = setup()
    a, b = call_message(5, OTHER), call_message(6)
    dest._prepare(rpc, [a, b])
    chain.allowed.add(OTHER)
    handle = dest._submit(rpc, dest._prepare(rpc, [a, b]), SIGNATURE)
    chain.pool.clear()
    chain.latest_nonce = 6  # something else used the transaction's nonce: gone, nothing executed
    result = dest._confirm(rpc, handle, [a.id_hex, b.id_hex])
    assert result.dropped and not result.failed


def test_a_refusal_of_the_submitted_plan_is_reported_unless_its_nonce_is_used() -> None:
    dest, chain, rpc = setup()
    a, b, c = call_message(5, OTHER), call_message(6), call_message(7, "0x" + "cd" * 20)
    handle = dest._submit(rpc, dest._prepare(rpc, [a, b, c]), SIGNATURE)
    chain.mine_at(handle, 11)
    chain.used_latest |= {pair(b), pair(c)}
    chain.used_final |= {pair(b), pair(c)}  # c: another leader's batch executed it meanwhile
    result = dest._confirm(rpc, handle, [a.id_hex, b.id_hex, c.id_hex])
    assert result.executed == {b.id_hex, c.id_hex}
    assert set(result.failed) == {a.id_hex} and "allow" in result.failed[a.id_hex]


def test_confirm_reads_the_bitmap_at_the_final_block() -> None:
    dest, chain, rpc = setup()
    a, b = call_message(5), call_message(6)
    chain.used_latest.add(pair(a))  # another leader's batch, in a block not final yet (a reorg may undo it)
    handle = dest._submit(rpc, dest._prepare(rpc, [a, b]), SIGNATURE)
    chain.mine_at(handle, 11)
    chain.used_latest.add(pair(b))
    chain.used_final.add(pair(b))
    chain.head = 13  # block 11 is 2 deep: final
    result = dest._confirm(rpc, handle, [a.id_hex, b.id_hex])
    assert result.executed == {b.id_hex} and not result.failed  # a goes back to verified, not `executed`
    assert 11 in chain.nonce_word_blocks and all(blk in (11, "latest") for blk in chain.nonce_word_blocks)


def test_a_gone_batch_is_decided_by_the_final_bitmap() -> None:
    dest, chain, rpc = setup()
    a = call_message(5)
    handle = dest._submit(rpc, dest._prepare(rpc, [a]), SIGNATURE)
    chain.pool.clear()
    chain.latest_nonce = 6  # superseded; another leader's copy executed it in a block not final yet
    chain.used_latest.add(pair(a))
    result = dest._confirm(rpc, handle, [a.id_hex])
    assert result.dropped and not result.executed


def test_nothing_to_execute_names_executed_only_what_is_final() -> None:
    dest, chain, rpc = setup()
    a, b = call_message(5), call_message(6)
    chain.used_latest |= {pair(a), pair(b)}
    chain.used_final.add(pair(a))
    with pytest.raises(NothingToExecute) as exc:
        dest._prepare(rpc, [a, b])
    assert exc.value.executed == {a.id_hex} and exc.value.deferred == {b.id_hex}
