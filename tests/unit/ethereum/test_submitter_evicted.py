"""A transaction the caps forbid bumping, dropped by the node, is sent again as it is (or reported gone when the node
refuses it), and a send whose answer was lost leaves no nonce gap the lane waits behind forever."""

from __future__ import annotations

import pytest

from relayers.ethereum.errors import RpcUnavailable
from tests.unit.ethereum.helpers import BRIDGE
from tests.unit.ethereum.test_submitter import GWEI, setup


def test_a_capped_transaction_the_node_dropped_is_sent_again_as_it_is() -> None:
    sub, node, clock, rpc = setup(max_fee_per_gas=22 * GWEI)
    handle = sub.send(rpc, BRIDGE, b"\x01")  # nonce 5, maxFee 21 gwei: no bump fits under 22
    node.pool.clear()  # the base fee rose above its maxFee: the node evicted it
    clock.now = 31.0
    assert sub.status(rpc, handle).kind == "pending"
    first, again = node.sent
    assert again["hash"] == first["hash"] == handle and again["nonce"] == 5  # the same signed bytes
    node.mine(handle)
    assert sub.status(rpc, handle).kind == "mined"


def test_a_capped_transaction_still_in_the_pool_is_not_sent_again() -> None:
    sub, node, clock, rpc = setup(max_fee_per_gas=22 * GWEI)
    handle = sub.send(rpc, BRIDGE, b"\x01")
    clock.now = 31.0
    assert sub.status(rpc, handle).kind == "pending" and len(node.sent) == 1


def test_a_dropped_capped_transaction_the_node_refuses_again_is_gone_and_its_nonce_reused() -> None:
    sub, node, clock, rpc = setup(max_fee_per_gas=22 * GWEI)
    handle = sub.send(rpc, BRIDGE, b"\x01")
    node.pool.clear()
    node.reject_next = True  # e.g. "max fee per gas less than block base fee"
    clock.now = 31.0
    assert sub.status(rpc, handle).kind == "gone" and sub.tracked(handle) is None
    reads = node.nonce_reads
    node.pending_nonce = 5  # the node has nothing at nonce 5
    sub.send(rpc, BRIDGE, b"\x02")  # the batch formed again fills nonce 5: nothing waits behind a gap
    assert node.nonce_reads == reads + 1 and node.sent[-1]["nonce"] == 5


def test_a_send_whose_answer_was_lost_is_sent_again_when_its_nonce_is_left_a_gap() -> None:
    sub, node, clock, rpc = setup()
    real_send = node.send_raw

    def taken_then_lost(raw: bytes) -> str:
        real_send(raw)  # the node took it...
        raise RpcUnavailable("read timed out")  # ...and the answer never came

    node.send_raw = taken_then_lost  # type: ignore[method-assign]
    with pytest.raises(RpcUnavailable):
        sub.send(rpc, BRIDGE, b"\x01")
    node.send_raw = real_send  # type: ignore[method-assign]
    lost = node.sent[0]["hash"]
    node.pending_nonce = 6  # the node counts it
    handle = sub.send(rpc, BRIDGE, b"\x02")
    assert node.sent[-1]["nonce"] == 6
    node.pool.pop(lost)  # evicted: nonce 5 is a gap, the transaction at 6 can never be mined
    clock.now = 60.0
    assert sub.status(rpc, handle).kind == "pending"
    assert [t["nonce"] for t in node.sent[2:] if t["hash"] == lost] == [5]  # the gap filled with the lost bytes


def test_a_gap_nothing_can_fill_reports_the_transaction_behind_it_gone() -> None:
    sub, node, clock, rpc = setup()
    real_send = node.send_raw

    def taken_then_lost(raw: bytes) -> str:
        real_send(raw)
        raise RpcUnavailable("read timed out")

    node.send_raw = taken_then_lost  # type: ignore[method-assign]
    with pytest.raises(RpcUnavailable):
        sub.send(rpc, BRIDGE, b"\x01")
    node.send_raw = real_send  # type: ignore[method-assign]
    node.pending_nonce = 6
    handle = sub.send(rpc, BRIDGE, b"\x02")
    node.pool.pop(node.sent[0]["hash"])  # the lost one is evicted, and the node refuses it again
    node.reject_next = True
    clock.now = 60.0
    assert sub.status(rpc, handle).kind == "gone"
    node.pending_nonce = 5
    sub.send(rpc, BRIDGE, b"\x03")
    assert node.sent[-1]["nonce"] == 5


def test_a_replacement_whose_answer_was_lost_is_kept_as_a_version() -> None:
    sub, node, clock, rpc = setup()
    handle = sub.send(rpc, BRIDGE, b"\x01")
    real_send = node.send_raw

    def taken_then_lost(raw: bytes) -> str:
        real_send(raw)
        raise RpcUnavailable("read timed out")

    node.send_raw = taken_then_lost  # type: ignore[method-assign]
    clock.now = 30.0
    with pytest.raises(RpcUnavailable):
        sub.status(rpc, handle)
    node.send_raw = real_send  # type: ignore[method-assign]
    replacement = node.sent[-1]["hash"]
    node.mine(replacement)
    state = sub.status(rpc, handle)
    assert state.kind == "mined" and state.tx_hash == replacement
