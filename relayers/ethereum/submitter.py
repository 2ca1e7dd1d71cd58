"""Sending transactions from the relayer's own gas key: nonces, EIP-1559 fees, access lists, replacement.

One `Submitter` per key, used on its destination's RPC thread (calls never overlap), keeps one in-flight nonce
sequence: nonces are handed out locally (first read from the node's `pending` count), and re-read from the node after
any failed send and whenever a transaction disappears, so a gap left by a dropped transaction is filled by the next.

send:   in one JSON-RPC batch, estimate gas (a revert here is the typed contract error: nothing is sent, nothing
        paid), ask the node for the EIP-2930 access list (`eth_createAccessList`), the latest base fee and the
        suggested tip; keep only the access-list entries that save gas used (fees.py: cold addresses and their
        slots; never the sender, `to` unless it has > 24 slots, or a precompile); gas limit = the estimate without
        the list (an upper bound with it) + `gas_headroom_bps`; fees under the caps; sign locally, send raw: two
        round trips in all. Returns the first hash: the handle the pipeline
        keeps, whatever replaces it.
status: the receipt of any version (original or replacement) -> mined; none and the nonce used by something else ->
        gone; none and no version known to the node after it was mined once (a reorg dropped it) -> gone; otherwise
        pending, and after `stuck_timeout` without a receipt the transaction is replaced (same nonce, same call,
        fees up >= 12.5%, within the caps). A handle unknown to this process (a restart) is adopted from the node
        when it is still pending, so it can be replaced too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from eth_utils.address import to_checksum_address
from web3.types import TxParams

from relayers.ethereum.config import EthereumConfig, SubmitterKey
from relayers.ethereum.errors import TransactionRejected
from relayers.ethereum.fees import (
    FeeCaps,
    Fees,
    access_list_saving,
    always_warm,
    bumped_fees,
    gas_limit,
    initial_fees,
    prune_access_list,
)
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.views import Receipt, hex32

log = structlog.get_logger("ethereum.submitter")


@dataclass
class SentTx:
    handle: str
    nonce: int
    to: str
    data: bytes
    gas: int
    access_list: list[dict[str, Any]]
    fees: Fees
    hashes: list[str]
    sent_at: float
    mined_once: bool = False


@dataclass(frozen=True)
class TxState:
    kind: Literal["mined", "pending", "gone"]
    receipt: Receipt | None = None
    tx_hash: str | None = None  # the version that was mined


@dataclass
class Submitter:
    config: EthereumConfig
    key: SubmitterKey
    clock: Callable[[], float] = time.monotonic
    _next_nonce: int | None = None
    _sent: dict[str, SentTx] = field(default_factory=dict)
    handed_over_at: float | None = None  # when the last raw transaction was handed to the node (on `clock`)

    @property
    def address(self) -> str:
        return self.key.address

    @property
    def caps(self) -> FeeCaps:
        c = self.config
        return FeeCaps(c.max_fee_per_gas, c.max_priority_fee_per_gas, c.base_fee_multiplier)

    # -- send -------------------------------------------------------------------------------------------------

    def send(self, rpc: EthRpc, to: str, data: bytes) -> str:
        params: TxParams = {"from": to_checksum_address(self.address), "to": to_checksum_address(to), "data": data}
        # One round trip for the estimate, the access list and the fees; the limit is the estimate WITHOUT the list
        # plus headroom: every entry kept saves gas, so it bounds the gas used with the list (unused gas is not paid).
        inputs = rpc.send_inputs(params, access_list=self.config.use_access_lists)
        estimate = inputs.estimate
        access_list: list[dict[str, Any]] = []
        if self.config.use_access_lists:
            pruned = prune_access_list(inputs.access_list, always_warm(self.address, to))
            saving = access_list_saving(pruned, always_warm(self.address, to))
            access_list = pruned
            log.info("access_list", entries=len(inputs.access_list), kept=len(pruned), gas_saved=saving)
        gas = gas_limit(estimate, self.config.gas_headroom_bps)
        fees = initial_fees(inputs.base_fee, inputs.tip, self.caps)
        nonce = self._take_nonce(rpc)
        tx_hash = self._sign_and_send(rpc, nonce, to, data, gas, access_list, fees)
        self._next_nonce = nonce + 1
        self._sent[tx_hash] = SentTx(tx_hash, nonce, to, data, gas, access_list, fees, [tx_hash], self.clock())
        log.info(
            "tx_sent",
            tx=tx_hash,
            nonce=nonce,
            gas_limit=gas,
            gas_estimate=estimate,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            access_list=bool(access_list),
        )
        return tx_hash

    def _take_nonce(self, rpc: EthRpc) -> int:
        if self._next_nonce is None:
            self._next_nonce = rpc.account_nonce(self.address, "pending")
        return self._next_nonce

    def _base_fee(self, rpc: EthRpc) -> int:
        head = rpc.header("latest")
        return (head.base_fee or 0) if head is not None else 0

    def _sign_and_send(
        self, rpc: EthRpc, nonce: int, to: str, data: bytes, gas: int, access_list: list[dict[str, Any]], fees: Fees
    ) -> str:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.config.chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "value": 0,
            "data": data,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "accessList": access_list,
        }
        signed = self.key.account.sign_transaction(tx)
        local = hex32(signed.hash)
        self.handed_over_at = self.clock()
        try:
            node = rpc.send_raw(bytes(signed.raw_transaction))
        except Exception:
            self._next_nonce = None  # the node's view decides the next nonce
            raise
        if node != local:
            log.warning("tx_hash_differs", node=node, computed=local)
        return local

    # -- status and replacement -------------------------------------------------------------------------------

    def status(self, rpc: EthRpc, handle: str) -> TxState:
        sent = self._sent.get(handle)
        hashes = list(reversed(sent.hashes)) if sent else [handle]
        mined = self._find_receipt(rpc, hashes)
        if mined is not None:
            if sent is not None:
                sent.mined_once = True
            return mined
        if sent is None:
            return self._adopt(rpc, handle)
        if rpc.account_nonce(self.address, "latest") > sent.nonce:
            mined = self._find_receipt(rpc, hashes)  # mined between the two reads?
            if mined is not None:
                return mined
            log.warning("tx_superseded", tx=handle, nonce=sent.nonce)
            self.forget(handle)
            return TxState("gone")
        if sent.mined_once and all(rpc.transaction(h) is None for h in hashes):
            log.warning("tx_reorged_out", tx=handle, nonce=sent.nonce)
            self.forget(handle)
            self._next_nonce = None
            return TxState("gone")
        if self.clock() - sent.sent_at >= self.config.stuck_timeout:
            self._replace(rpc, sent)
        return TxState("pending")

    def forget(self, handle: str) -> None:
        self._sent.pop(handle, None)

    def tracked(self, handle: str) -> SentTx | None:
        return self._sent.get(handle)

    def _find_receipt(self, rpc: EthRpc, hashes: list[str]) -> TxState | None:
        for h in hashes:
            receipt = rpc.receipt(h)
            if receipt is not None:
                return TxState("mined", receipt, h)
        return None

    def _adopt(self, rpc: EthRpc, handle: str) -> TxState:
        tx = rpc.transaction(handle)
        if tx is None:
            return TxState("gone")
        if tx.block_number is None and tx.sender.lower() == self.address.lower() and tx.to is not None:
            fees = Fees(tx.max_fee_per_gas, tx.max_priority_fee_per_gas)
            # No access list is known for an adopted transaction: its replacement goes without one (the estimate
            # with headroom covers the cold accesses).
            self._sent[handle] = SentTx(handle, tx.nonce, tx.to, tx.input, tx.gas, [], fees, [handle], self.clock())
            log.info("tx_adopted", tx=handle, nonce=tx.nonce)
        return TxState("pending")

    def _replace(self, rpc: EthRpc, sent: SentTx) -> None:
        fees = bumped_fees(sent.fees, self._base_fee(rpc), rpc.max_priority_fee(), self.caps, self.config.fee_bump_bps)
        now = self.clock()
        if fees is None:
            log.warning(
                "tx_replacement_capped",
                tx=sent.handle,
                nonce=sent.nonce,
                max_fee_per_gas=sent.fees.max_fee_per_gas,
                cap=self.config.max_fee_per_gas,
            )
            sent.sent_at = now
            return
        try:
            new_hash = self._sign_and_send(rpc, sent.nonce, sent.to, sent.data, sent.gas, sent.access_list, fees)
        except TransactionRejected as exc:
            # e.g. a version was mined meanwhile (nonce too low): the next status finds its receipt.
            log.warning("tx_replacement_rejected", tx=sent.handle, nonce=sent.nonce, error=str(exc))
            sent.sent_at = now
            return
        log.warning(
            "tx_replaced",
            tx=sent.handle,
            replacement=new_hash,
            nonce=sent.nonce,
            old_max_fee_per_gas=sent.fees.max_fee_per_gas,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            waited=round(now - sent.sent_at, 3),
        )
        sent.hashes.append(new_hash)
        sent.fees = fees
        sent.sent_at = now


__all__ = ["SentTx", "Submitter", "TxState"]
