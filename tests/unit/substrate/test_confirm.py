"""The destination's confirm decisions (executed, failed and isolated, pending, dropped) over a fake chain view."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bridge.ports import ChainPosition, Confirmation
from bridge.refunds import Refund, RefundReason, encode_refund_note
from relayers.substrate.chain import AccountState
from relayers.substrate.dispatcher import PhalaDestination, _Submitted
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.session import ClientSession
from tests.unit.substrate.helpers import CONFIG, inbound

T = TypeVar("T")
TX = "0x" + "cd" * 32
IDS = ["0x" + bytes([i]).hex() * 32 for i in range(1, 4)]


@dataclass
class FakeReader:
    nonce: int = 5

    def finalized_head(self) -> ChainPosition:
        return ChainPosition(10, "0x" + "10" * 32)

    def account(self, account: bytes, block_hash: str) -> AccountState:
        return AccountState(self.nonce, 10**18, True)


@dataclass
class FakeIndex:
    caught_up: bool = True
    executed: set[str] = field(default_factory=set)
    extrinsics: dict[str, BridgeExtrinsic] = field(default_factory=dict)
    scanned: ChainPosition | None = None
    refunds: dict[str, Refund] = field(default_factory=dict)

    def sync(self, reader: Any, to: ChainPosition) -> bool:
        return self.caught_up

    def executed_among(self, ids: list[str]) -> frozenset[str]:
        return frozenset(i for i in ids if i in self.executed)

    def extrinsic(self, tx_hash: str) -> BridgeExtrinsic | None:
        return self.extrinsics.get(tx_hash)

    def refunded_among(self, ids: list[str]) -> dict[str, Refund]:
        return {i: self.refunds[i] for i in ids if i in self.refunds}


class FakeSession(ClientSession):
    def __init__(self, reader: FakeReader) -> None:
        super().__init__("ws://fake")
        self.reader = reader

    def run_sync(self, fn: Callable[[Any], T]) -> T:
        return fn(self.reader)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def setup(nonce: int = 5) -> tuple[PhalaDestination, FakeReader, FakeIndex, Clock]:
    reader, index, clock = FakeReader(nonce), FakeIndex(), Clock()
    dest = PhalaDestination(CONFIG, session=FakeSession(reader), clock=clock)
    dest.index = index  # type: ignore[assignment]
    dest._submitted[TX] = _Submitted(5, tuple(IDS), clock.now)
    return dest, reader, index, clock


def confirm(dest: PhalaDestination, ids: list[str] = IDS) -> Confirmation:
    return asyncio.run(dest.confirm(TX, ids))


def included(ids: list[str], failure: str | None) -> BridgeExtrinsic:
    return BridgeExtrinsic(11, "0x" + "11" * 32, 2, TX, 5, tuple(ids), failure)


def test_pending_until_included_then_executed_with_refusals_reported() -> None:
    dest, _, index, _ = setup()
    dest._submitted[TX].refused["0x" + "ff" * 32] = "the recipient is the bridge account itself"
    ids = [*IDS, "0x" + "ff" * 32]
    assert confirm(dest, ids).pending
    index.caught_up = False
    assert confirm(dest, ids).pending
    index.caught_up = True
    index.executed.update(IDS)
    index.extrinsics[TX] = included(IDS, None)
    result = confirm(dest, ids)
    assert result.executed == set(IDS) and not result.pending and not result.dropped
    assert result.failed == {"0x" + "ff" * 32: "the recipient is the bridge account itself"}


def test_a_used_nonce_without_our_extrinsic_means_dropped() -> None:
    dest, reader, _, _ = setup()
    reader.nonce = 6
    assert confirm(dest).dropped


def test_waiting_longer_than_the_timeout_means_dropped() -> None:
    dest, _, _, clock = setup()
    clock.now += CONFIG.pending_timeout - 1
    assert confirm(dest).pending
    clock.now += 2
    assert confirm(dest).dropped


def test_an_unknown_transaction_after_a_restart_is_pending_then_dropped() -> None:
    dest, _, _, clock = setup()
    dest._submitted.clear()
    assert confirm(dest).pending
    clock.now += CONFIG.pending_timeout + 1
    assert confirm(dest).dropped


def test_executed_by_another_copy_of_the_batch() -> None:
    dest, reader, index, _ = setup()
    reader.nonce = 6
    index.executed.update(IDS)
    result = confirm(dest)
    assert result.executed == set(IDS) and not result.dropped


def test_a_failed_batch_is_halved_and_a_failed_single_is_reported_with_the_reason() -> None:
    dest, _, index, _ = setup()
    index.extrinsics[TX] = included(IDS, "Balances.ExistentialDeposit")
    result = confirm(dest)
    assert result == Confirmation()  # nothing executed, nothing failed yet: all go back to be retried
    assert dest.isolator.suspects == [frozenset(IDS[:2]), frozenset(IDS[2:])]
    index.extrinsics[TX] = included(IDS[2:], "Balances.ExistentialDeposit")
    result = confirm(dest)
    assert result.failed == {IDS[2]: "Balances.ExistentialDeposit"} and not result.executed


def _refund_batch(failure: str | None) -> tuple[PhalaDestination, FakeIndex, list[Refund], list[str]]:
    """A destination whose submitted batch TX is a refund batch of deposits 1 and 2, included with `failure`."""
    dest, _, index, _ = setup()
    refunds = [
        Refund(n, bytes([n]) * 20, n * 10**18, n * 10**12, b"\x01" * 32, RefundReason.BRIDGE_ACCOUNT) for n in (1, 2)
    ]
    ids = [r.deposit_id for r in refunds]
    dest._submitted[TX] = _Submitted(5, tuple(ids), 1000.0)
    note = encode_refund_note(refunds)
    index.extrinsics[TX] = BridgeExtrinsic(11, "0x" + "11" * 32, 2, TX, 5, tuple(ids), failure, (note,))
    return dest, index, refunds, ids


def test_a_refund_batch_reports_its_deposits_failed_with_where_the_tokens_went() -> None:
    dest, index, refunds, ids = _refund_batch(None)
    index.executed.update(ids)  # settled on Phala: in the executed record
    index.refunds.update({r.deposit_id: r for r in refunds})
    result = confirm(dest, ids)
    assert not result.executed and not result.pending and not result.dropped
    assert set(result.failed) == set(ids)
    assert result.failed[ids[0]].startswith("refunded to 0x" + "01" * 20 + " on Ethereum as message ")
    assert refunds[0].refund_id in result.failed[ids[0]]
    assert "bridge account itself" in result.failed[ids[0]]
    deposits = [inbound(1, 10**12), inbound(2, 10**12)]  # the same ids: Ethereum deposits 1 and 2
    assert [m.id_hex for m in deposits] == ids
    assert asyncio.run(dest.already_executed(deposits)) == frozenset()  # settled, but nothing was paid
    assert set(asyncio.run(dest.refunded(deposits))) == set(ids)


def test_a_failed_refund_batch_is_retried_whole_never_isolated() -> None:
    dest, _, _, ids = _refund_batch("System.CallFiltered")
    assert confirm(dest, ids) == Confirmation()  # nothing settled: back to be signed again
    assert dest.isolator.suspects == []
