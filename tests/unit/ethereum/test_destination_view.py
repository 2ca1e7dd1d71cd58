"""The Ethereum destination's local views and when they are NOT used: token limits only at the block they were read
at, and the facts `already_executed` read reused by `prepare` only for the same messages while no newer head has
been announced by a live subscription."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.destination import EthereumDestination
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.state import TokenLimits, destination_facts
from relayers.heads import ETHEREUM_NEW_HEADS, HeadNotifier
from tests.unit.ethereum.helpers import BRIDGE, RESOURCES, RID, TOKEN, inbound


@dataclass
class FakeBridge:
    block: int = 100
    used_word: int = 0  # at `latest`
    final_word: int | None = None  # at the final block (None: as at `latest`)
    reads: int = 0
    limit_reads: int = 0
    calls: list[list[str]] = field(default_factory=list)

    def bridge_reads(self, calls: list[tuple[str, tuple[Any, ...]]]) -> tuple[int, list[Any]]:
        self.reads += 1
        self.calls.append([name for name, _ in calls])
        out: list[Any] = []
        for name, _args in calls:
            if name == "keyState":
                out.append((1, b"\x00" * 32, 0, False))
            elif name == "resource":
                out.append((TOKEN,))
            elif name == "nonceWord":
                out.append(self.used_word)
            else:
                out.append(True)
        return self.block, out

    def bridge_calls(self, fn: str, args: list[tuple[Any, ...]], *, block: int | str = "latest") -> list[Any]:
        if fn == "nonceWord":
            final = self.used_word if self.final_word is None else self.final_word
            return [self.used_word if block == "latest" else final for _ in args]
        assert fn == "tokenLimit"
        self.limit_reads += 1
        return [(1,) for _ in args]

    def head_number(self) -> int:
        return self.block


CONFIG = EthereumConfig(rpc_url="http://127.0.0.1:1", chain_id=31337, bridge_address=BRIDGE, resources=RESOURCES)


def test_token_limits_are_used_only_at_the_block_they_were_read_at() -> None:
    rpc = FakeBridge()
    msgs = [inbound(5)]
    at_head = TokenLimits(100, {TOKEN.lower(): 1})
    facts, block = destination_facts(cast(EthRpc, rpc), CONFIG, msgs, at_head)
    assert (block, rpc.limit_reads) == (100, 0) and facts.tokens == {RID: TOKEN}
    older = TokenLimits(99, {TOKEN.lower(): 1})
    destination_facts(cast(EthRpc, rpc), CONFIG, msgs, older)
    assert rpc.limit_reads == 1  # a view older than the head the batch is read at: read again
    disabled_then = TokenLimits(100, {TOKEN.lower(): 0})  # the view says disabled: the token is left out
    assert destination_facts(cast(EthRpc, rpc), CONFIG, msgs, disabled_then)[0].tokens == {}


def _destination(connected: bool, latest: int | None) -> tuple[EthereumDestination, FakeBridge, HeadNotifier]:
    rpc = FakeBridge()
    dest = EthereumDestination(CONFIG, rpc=cast(EthRpc, rpc))
    heads = HeadNotifier("ws://127.0.0.1:1", ETHEREUM_NEW_HEADS)
    heads.connected, heads.latest = connected, latest
    dest.view.heads = heads
    return dest, rpc, heads


def test_prepare_reuses_the_facts_read_at_the_newest_announced_head() -> None:
    dest, rpc, _ = _destination(True, 100)
    msgs = [inbound(5), inbound(6)]
    dest._read_facts(cast(EthRpc, rpc), msgs)
    _, block = dest._facts_for(cast(EthRpc, rpc), msgs)
    assert rpc.reads == 1 and block == 100
    # Used once: the next batch reads again.
    dest._facts_for(cast(EthRpc, rpc), msgs)
    assert rpc.reads == 2


def test_prepare_reads_again_after_a_newer_head_other_messages_or_without_a_subscription() -> None:
    msgs = [inbound(5), inbound(6)]
    # A newer head announced between the two: the bitmap may have changed.
    dest, rpc, heads = _destination(True, 100)
    dest._read_facts(cast(EthRpc, rpc), msgs)
    heads.latest = 101
    dest._facts_for(cast(EthRpc, rpc), msgs)
    assert rpc.reads == 2
    # Other messages (already executed ones were dropped from the batch): read for these.
    dest, rpc, _ = _destination(True, 100)
    dest._read_facts(cast(EthRpc, rpc), msgs)
    dest._facts_for(cast(EthRpc, rpc), msgs[:1])
    assert rpc.reads == 2
    # The subscription is down: no way to know the head moved, so never reused.
    dest, rpc, _ = _destination(False, 100)
    dest._read_facts(cast(EthRpc, rpc), msgs)
    dest._facts_for(cast(EthRpc, rpc), msgs)
    assert rpc.reads == 2
    # Read at a block other than the newest announced one (the notification is behind or ahead): read again.
    dest, rpc, _ = _destination(True, 99)
    dest._read_facts(cast(EthRpc, rpc), msgs)
    dest._facts_for(cast(EthRpc, rpc), msgs)
    assert rpc.reads == 2


def test_already_executed_reads_the_bitmap() -> None:
    import asyncio

    dest, rpc, _ = _destination(True, 100)
    rpc.used_word = 1 << 5  # nonce 5 of the source domain used
    rpc_any: Any = rpc
    dest.rpc = rpc_any
    rpc_any.run = lambda fn: _done(fn(rpc_any))
    done = asyncio.run(dest.already_executed([inbound(5), inbound(6)]))
    assert done == frozenset({inbound(5).id_hex})
    # Used at `latest` only (a block a reorg may still replace): not executed yet, whatever the head says.
    rpc.final_word = 0
    assert asyncio.run(dest.already_executed([inbound(5), inbound(6)])) == frozenset()


async def _done(value: Any) -> Any:
    return value
