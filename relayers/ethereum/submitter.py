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
        When the caps leave no bump and the node knows no version any more (evicted: e.g. the base fee rose above
        its maxFeePerGas) while its nonce is unused, the last signed bytes are sent again as they are (the same
        hash: idempotent); refused, the transaction is reported gone (its batch is formed again, and the next nonce
        re-read from the node). A send whose outcome is unknown (the node may have taken it) is kept the same way:
        a replacement as a version of its transaction, a first send as an orphan whose nonce, if it is left as a
        gap below a tracked transaction, is filled by sending it again, else by reporting that transaction gone.
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
    raw: bytes | None = None  # the newest version's signed bytes (None: adopted, never signed here)


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
    _orphans: dict[int, SentTx] = field(default_factory=dict)  # nonce -> a first send whose outcome is unknown
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
        self._orphans.pop(nonce, None)  # the node gave this nonce out again: that send never took
        tx_hash, raw = self._sign(nonce, to, data, gas, access_list, fees)
        try:
            self._hand_over(rpc, tx_hash, raw)
        except TransactionRejected:
            raise
        except Exception as exc:  # the node may have taken it: kept, so a nonce gap it leaves can be filled
            orphan = SentTx(tx_hash, nonce, to, data, gas, access_list, fees, [tx_hash], self.clock(), raw=raw)
            self._orphans[nonce] = orphan
            log.warning("tx_send_outcome_unknown", tx=tx_hash, nonce=nonce, error=str(exc))
            raise
        self._next_nonce = nonce + 1
        self._sent[tx_hash] = SentTx(tx_hash, nonce, to, data, gas, access_list, fees, [tx_hash], self.clock(), raw=raw)
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

    def _sign(
        self, nonce: int, to: str, data: bytes, gas: int, access_list: list[dict[str, Any]], fees: Fees
    ) -> tuple[str, bytes]:
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
        return hex32(signed.hash), bytes(signed.raw_transaction)

    def _hand_over(self, rpc: EthRpc, local: str, raw: bytes) -> None:
        self.handed_over_at = self.clock()
        try:
            node = rpc.send_raw(raw)
        except Exception:
            self._next_nonce = None  # the node's view decides the next nonce
            raise
        if node != local:
            log.warning("tx_hash_differs", node=node, computed=local)

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
        latest = rpc.account_nonce(self.address, "latest")
        if latest > sent.nonce:
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
        if self.clock() - sent.sent_at >= self.config.stuck_timeout and (
            self._fill_gap(rpc, sent, latest) or self._replace(rpc, sent)
        ):
            self.forget(handle)
            self._next_nonce = None
            return TxState("gone")
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

    def _fill_gap(self, rpc: EthRpc, sent: SentTx, latest: int) -> bool:
        """Send again the orphans (first sends of unknown outcome) whose nonces lie unused below `sent` and that the
        node does not know: True when one is refused, a gap nothing here can fill (`sent` then waits behind it)."""
        for nonce in sorted(self._orphans):
            orphan = self._orphans[nonce]
            if nonce < latest:
                del self._orphans[nonce]  # used (by it or by anything else)
                continue
            if nonce >= sent.nonce or rpc.transaction(orphan.handle) is not None:
                continue
            if not self._send_again(rpc, orphan):
                del self._orphans[nonce]
                log.warning("tx_nonce_gap", tx=sent.handle, nonce=sent.nonce, gap=nonce, orphan=orphan.handle)
                return True
        return False

    def _send_again(self, rpc: EthRpc, sent: SentTx) -> bool:
        """Hand the newest version's signed bytes to the node again (the same hash): False when it refuses them."""
        if sent.raw is None:  # adopted after a restart: no bytes of ours to send
            log.warning("tx_rebroadcast_impossible", tx=sent.handle, nonce=sent.nonce)
            return False
        version = sent.hashes[-1]
        try:
            self._hand_over(rpc, version, sent.raw)
        except TransactionRejected as exc:
            if any(k in str(exc).lower() for k in ("already known", "known transaction")):  # the node has it
                log.info("tx_rebroadcast_known", tx=sent.handle, version=version, nonce=sent.nonce)
                return True
            log.warning("tx_rebroadcast_refused", tx=sent.handle, version=version, nonce=sent.nonce, error=str(exc))
            return False
        log.warning(
            "tx_rebroadcast",
            tx=sent.handle,
            version=version,
            nonce=sent.nonce,
            max_fee_per_gas=sent.fees.max_fee_per_gas,
            base_fee=self._base_fee(rpc),
        )
        return True

    def _replace(self, rpc: EthRpc, sent: SentTx) -> bool:
        """Replace `sent` with a bump; at the caps, send it again if the node dropped it. True: it is gone."""
        fees = bumped_fees(sent.fees, self._base_fee(rpc), rpc.max_priority_fee(), self.caps, self.config.fee_bump_bps)
        now = self.clock()
        if fees is None:
            sent.sent_at = now
            if all(rpc.transaction(h) is None for h in sent.hashes):  # evicted: no version left in the pool
                if self._send_again(rpc, sent):
                    return False
                if rpc.account_nonce(self.address, "latest") > sent.nonce:
                    return False  # a version was mined meanwhile: the next status finds it
                log.warning("tx_dropped_by_node", tx=sent.handle, nonce=sent.nonce)
                return True
            log.warning(
                "tx_replacement_capped",
                tx=sent.handle,
                nonce=sent.nonce,
                max_fee_per_gas=sent.fees.max_fee_per_gas,
                cap=self.config.max_fee_per_gas,
            )
            return False
        new_hash, raw = self._sign(sent.nonce, sent.to, sent.data, sent.gas, sent.access_list, fees)
        try:
            self._hand_over(rpc, new_hash, raw)
        except TransactionRejected as exc:
            # e.g. a version was mined meanwhile (nonce too low): the next status finds its receipt.
            log.warning("tx_replacement_rejected", tx=sent.handle, nonce=sent.nonce, error=str(exc))
            sent.sent_at = now
            return False
        except Exception as exc:
            # The node may have taken it: kept as a version (its receipt is looked for, its bytes sent again).
            log.warning("tx_replacement_outcome_unknown", tx=sent.handle, replacement=new_hash, error=str(exc))
            sent.hashes.append(new_hash)
            sent.fees, sent.raw, sent.sent_at = fees, raw, now
            raise
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
        sent.fees, sent.raw, sent.sent_at = fees, raw, now
        return False


__all__ = ["SentTx", "Submitter", "TxState"]
