"""Deposits on the Ethereum bridge and the search for the transaction that executed a message there."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from bridge.domains import Domain
from bridge.evm import (
    Batch,
    BatchEncodingError,
    MessageOrigin,
    decode_batch,
    message_origin,
    parse_execute_batch_calldata,
)
from bridge.ids import message_id
from bridge.network import EthereumSide
from relayers.ethereum.contracts import call, contract_at, event_logs, send


@dataclass(frozen=True)
class EthereumDeposit:
    tx_hash: str
    block_number: int
    nonce: int

    @property
    def message_id(self) -> str:
        return "0x" + message_id(int(Domain.ETHEREUM), self.nonce).hex()


class EthereumClient:
    def __init__(self, net: EthereumSide, private_key: str | None = None, *, timeout: float = 10.0) -> None:
        self.net = net
        self.w3 = Web3(Web3.HTTPProvider(net.rpc_url, request_kwargs={"timeout": timeout}))
        self.account: LocalAccount | None = Account.from_key(private_key) if private_key else None
        self.bridge = contract_at(self.w3, "Bridge", net.bridge)
        self.token = contract_at(self.w3, "PhaToken", net.pha_token)

    def check_chain(self) -> None:
        actual = self.w3.eth.chain_id
        if actual != self.net.chain_id:
            raise ValueError(f"{self.net.rpc_url} is chain {actual}, not {self.net.chain_id}")

    def pha_balance(self, address: str) -> int:
        return int(call(self.token.functions.balanceOf(Web3.to_checksum_address(address))))

    def deposit_pha(self, dest_domain: int, recipient: bytes, amount: int, resource_id: bytes) -> EthereumDeposit:
        """Approve (when needed) and deposit `amount` (18 decimals). Reverts arrive as typed errors."""
        if self.account is None:
            raise ValueError("a deposit needs a key")
        owner = self.account.address
        allowance = int(call(self.token.functions.allowance(owner, self.bridge.address)))
        if allowance < amount:
            send(self.w3, self.token.functions.approve(self.bridge.address, amount), self.account)
        receipt = send(
            self.w3, self.bridge.functions.deposit(dest_domain, resource_id, recipient, amount), self.account
        )
        (log,) = event_logs(self.bridge, receipt, "Deposit")
        return EthereumDeposit("0x" + bytes(receipt["transactionHash"]).hex(), receipt["blockNumber"], log["nonce"])

    def deposit_of(self, tx_hash: str) -> EthereumDeposit | None:
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        logs = event_logs(self.bridge, receipt, "Deposit")
        if not logs:
            return None
        return EthereumDeposit(tx_hash, receipt["blockNumber"], logs[0]["nonce"])

    def is_executed(self, source_domain: int, nonce: int) -> bool:
        return bool(call(self.bridge.functions.isNonceUsed(source_domain, nonce)))

    def find_execution(self, source_domain: int, nonce: int, from_block: int) -> str | None:
        """The successful executeBatch transaction that carried (source_domain, nonce), searched from `from_block`.
        The bridge emits no per-item event for releases (the nonce bitmap is the record), so the search decodes the
        batches sent to the bridge."""
        bridge = self.bridge.address.lower()
        for number in range(from_block, self.block_number() + 1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                if isinstance(tx, bytes) or str(tx.get("to") or "").lower() != bridge:
                    continue
                batch = _batch_of(bytes(tx["input"]))
                if batch is None:
                    continue
                if batch.source_domain != source_domain or all(
                    getattr(item, "nonce", None) != nonce for item in batch.items
                ):
                    continue
                tx_hash = "0x" + bytes(tx["hash"]).hex()
                if self.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                    return tx_hash
        return None

    def call_origin(self, tx_hash: str, source_domain: int, nonce: int) -> MessageOrigin | None:
        """The origin that the target of call (source_domain, nonce) read with `Bridge.messageOrigin()` when the
        executeBatch transaction `tx_hash` ran it: read from the executed batch itself, which the committee signed.
        None when that transaction carries no such call item, or the item has no origin (an older kind 2 call)."""
        tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        if str(tx.get("to") or "").lower() != self.bridge.address.lower():
            return None
        batch = _batch_of(bytes(tx["input"]))
        if batch is None:
            return None
        return message_origin(batch, nonce) if batch.source_domain == source_domain else None

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)


def _batch_of(calldata: bytes) -> Batch | None:
    """The batch an executeBatch transaction carries; None for other calls and for undecodable batches, which anyone
    can send to the bridge (they revert) and which must not stop a search through the blocks."""
    parsed = parse_execute_batch_calldata(calldata)
    if parsed is None:
        return None
    try:
        return decode_batch(parsed[0])
    except BatchEncodingError:
        return None
