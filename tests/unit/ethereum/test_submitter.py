"""The submitter's nonce, fee and replacement logic against a fake node (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_hash.auto import keccak
from hexbytes import HexBytes

from relayers.ethereum.config import EthereumConfig, SubmitterKey
from relayers.ethereum.errors import FeeCapExceeded, TransactionRejected
from relayers.ethereum.rpc import EthRpc, SendInputs
from relayers.ethereum.submitter import Submitter
from relayers.ethereum.views import Header, Receipt, TxView
from tests.unit.ethereum.helpers import BRIDGE

GWEI = 10**9
KEY = SubmitterKey(Account.create())


@dataclass
class FakeNode:
    base_fee: int = 10 * GWEI
    tip: int = 1 * GWEI
    pending_nonce: int = 5
    latest_nonce: int = 5
    estimate: int = 100_000
    estimate_with_list: int = 90_000
    access_entries: list[dict[str, Any]] = field(default_factory=list)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    pool: dict[str, TxView] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    reject_next: bool = False
    nonce_reads: int = 0

    send_input_reads: list[bool] = field(default_factory=list)

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        return self.estimate_with_list if "accessList" in tx else self.estimate

    def send_inputs(self, tx: dict[str, Any], *, access_list: bool) -> SendInputs:
        self.send_input_reads.append(access_list)
        entries = self.access_entries if access_list else []
        return SendInputs(self.estimate_gas(tx), entries, self.base_fee, self.tip)

    def create_access_list(self, tx: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        return self.access_entries, 0

    def header(self, block: object) -> Header:
        return Header(10, "0x" + "10" * 32, "0x" + "09" * 32, 0, self.base_fee)

    def max_priority_fee(self) -> int:
        return self.tip

    def account_nonce(self, address: str, block: str) -> int:
        self.nonce_reads += 1
        return self.pending_nonce if block == "pending" else self.latest_nonce

    def send_raw(self, raw: bytes) -> str:
        if self.reject_next:
            self.reject_next = False
            raise TransactionRejected("eth_sendRawTransaction: nonce too low")
        tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        tx_hash = "0x" + keccak(raw).hex()
        self.sent.append({**tx, "hash": tx_hash})
        self.pool[tx_hash] = TxView(
            tx_hash, KEY.address, BRIDGE, tx["nonce"], bytes(tx["data"]), tx["gas"], tx["maxFeePerGas"],
            tx["maxPriorityFeePerGas"], None,
        )  # fmt: skip
        return tx_hash

    def receipt(self, tx_hash: str) -> Receipt | None:
        return self.receipts.get(tx_hash)

    def transaction(self, tx_hash: str) -> TxView | None:
        return self.pool.get(tx_hash)

    def mine(self, tx_hash: str) -> None:
        self.receipts[tx_hash] = Receipt(tx_hash, 1, 11, "0x" + "11" * 32, 50_000, GWEI, ())
        self.pool.pop(tx_hash, None)
        self.latest_nonce += 1


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def setup(**kw: Any) -> tuple[Submitter, FakeNode, Clock, EthRpc]:
    config = EthereumConfig(
        rpc_url="http://127.0.0.1:1", chain_id=31337, bridge_address=BRIDGE, stuck_timeout=30.0, **kw
    )
    node, clock = FakeNode(), Clock()
    return Submitter(config, KEY, clock), node, clock, cast(EthRpc, node)


def test_nonces_are_local_after_the_first_read_and_fees_follow_the_base_fee() -> None:
    sub, node, _, rpc = setup()
    first = sub.send(rpc, BRIDGE, b"\x01")
    second = sub.send(rpc, BRIDGE, b"\x02")
    assert [t["nonce"] for t in node.sent] == [5, 6] and node.nonce_reads == 1
    assert first != second and sub.tracked(first) is not None
    tx = node.sent[0]
    assert (tx["maxFeePerGas"], tx["maxPriorityFeePerGas"], tx["gas"], tx["chainId"]) == (
        21 * GWEI,
        GWEI,
        120_000,
        31337,
    )


def test_access_list_keeps_only_what_saves_gas() -> None:
    token: dict[str, Any] = {
        "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "storageKeys": ["0x" + "00" * 32] * 2,
    }
    bridge = {"address": BRIDGE, "storageKeys": ["0x" + "01" * 32] * 3}  # `to`: warm anyway, 3 slots save 300 < 2,400
    sub, node, _, rpc = setup()
    node.access_entries = [bridge, token]
    sub.send(rpc, BRIDGE, b"\x01")
    (kept,) = node.sent[0]["accessList"]
    assert "0x" + bytes(kept["address"]).hex() == token["address"].lower() and len(kept["storageKeys"]) == 2
    # The estimate without the list (100k) + 20%: the list only saves gas, so this bounds the gas used with it, and
    # it spares the second estimate's round trip (unused gas is not paid).
    assert node.sent[0]["gas"] == 120_000
    assert node.send_input_reads == [True]  # estimate, access list and fees in one batch
    node.access_entries = [bridge]
    sub.send(rpc, BRIDGE, b"\x02")
    assert node.sent[1]["accessList"] == () and node.sent[1]["gas"] == 120_000
    sub2, node2, _, rpc2 = setup(use_access_lists=False)
    node2.access_entries = [token]
    sub2.send(rpc2, BRIDGE, b"\x01")
    assert node2.sent[0]["accessList"] == ()


def test_a_rejected_send_resyncs_the_nonce_from_the_node() -> None:
    sub, node, _, rpc = setup()
    sub.send(rpc, BRIDGE, b"\x01")
    node.reject_next = True
    with pytest.raises(TransactionRejected):
        sub.send(rpc, BRIDGE, b"\x02")
    node.pending_nonce = 6
    sub.send(rpc, BRIDGE, b"\x03")
    assert [t["nonce"] for t in node.sent] == [5, 6] and node.nonce_reads == 2


def test_fee_cap_exceeded_sends_nothing() -> None:
    sub, node, _, rpc = setup(max_fee_per_gas=5 * GWEI, max_priority_fee_per_gas=GWEI)
    with pytest.raises(FeeCapExceeded):
        sub.send(rpc, BRIDGE, b"\x01")
    assert not node.sent


def test_stuck_transaction_is_replaced_with_a_bump_and_the_mined_version_found() -> None:
    sub, node, clock, rpc = setup()
    handle = sub.send(rpc, BRIDGE, b"\x01")
    clock.now = 29.0
    assert sub.status(rpc, handle).kind == "pending" and len(node.sent) == 1
    clock.now = 30.0
    assert sub.status(rpc, handle).kind == "pending"
    old, new = node.sent
    assert new["nonce"] == old["nonce"] and new["data"] == old["data"] and new["gas"] == old["gas"]
    assert new["maxFeePerGas"] * 8 >= old["maxFeePerGas"] * 9
    assert new["maxPriorityFeePerGas"] * 8 >= old["maxPriorityFeePerGas"] * 9
    node.mine(new["hash"])
    state = sub.status(rpc, handle)
    assert state.kind == "mined" and state.tx_hash == new["hash"]


def test_replacement_capped_keeps_waiting() -> None:
    sub, node, clock, rpc = setup(max_fee_per_gas=22 * GWEI)
    handle = sub.send(rpc, BRIDGE, b"\x01")
    clock.now = 31.0
    assert sub.status(rpc, handle).kind == "pending" and len(node.sent) == 1  # 21 gwei * 1.125 > the 22 gwei cap


def test_superseded_transaction_is_gone() -> None:
    sub, node, _, rpc = setup()
    handle = sub.send(rpc, BRIDGE, b"\x01")
    node.latest_nonce = 6  # something else used nonce 5
    node.pool.clear()
    assert sub.status(rpc, handle).kind == "gone" and sub.tracked(handle) is None


def test_reorged_out_after_being_mined_is_gone_and_frees_the_nonce() -> None:
    sub, node, _, rpc = setup()
    handle = sub.send(rpc, BRIDGE, b"\x01")
    node.mine(handle)
    assert sub.status(rpc, handle).kind == "mined"
    del node.receipts[handle]  # its block left the chain and the node dropped it
    node.latest_nonce = 5
    assert sub.status(rpc, handle).kind == "gone"
    reads = node.nonce_reads
    sub.send(rpc, BRIDGE, b"\x02")
    assert node.nonce_reads == reads + 1 and node.sent[-1]["nonce"] == 5


def test_unknown_handle_is_adopted_when_pending_and_gone_when_absent() -> None:
    sub, node, clock, rpc = setup()
    handle = sub.send(rpc, BRIDGE, b"\x01")
    fresh = Submitter(sub.config, KEY, clock)  # a restart: nothing in memory
    assert fresh.status(rpc, handle).kind == "pending" and fresh.tracked(handle) is not None
    clock.now = 100.0
    fresh.status(rpc, handle)
    assert len(node.sent) == 2 and node.sent[1]["nonce"] == 5
    assert fresh.status(rpc, "0x" + "77" * 32).kind == "gone"
