"""Bindings for our contracts: artifacts, web3 contract objects, transactions whose reverts become typed errors.

    art = load_artifact("Bridge")                       # ABI + bytecode from contracts/artifacts (committed)
    bridge = contract_at(w3, "Bridge", address)
    receipt = send(w3, bridge.functions.setGuardian(g), sender)             # raises e.g. errors.NotAdmin
    receipt = send_data(w3, bridge.address, execute_batch_calldata(batch, sig), sender)   # executeBatch (packed)
    value = call(bridge.functions.isNonceUsed(2, 7))

Every revert of our contracts is raised as the matching `relayers.ethereum.errors` exception (the web3 error is its
`__cause__`). A transaction that was mined but failed (status 0, e.g. sent with a fixed gas limit) is replayed with
eth_call on the state before its block (exact when it was alone in its block, as on the devnet's anvil), to recover
its revert data; `TransactionFailed` when that finds none (e.g. plain out of gas).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxParams, TxReceipt, Wei

from relayers.ethereum.errors import BridgeContractError, UnknownRevert, decode_error

__all__ = [
    "ARTIFACTS_DIR",
    "Artifact",
    "Sender",
    "TransactionFailed",
    "call",
    "contract_at",
    "contract_factory",
    "decoded_reverts",
    "event_logs",
    "load_artifact",
    "revert_data",
    "send",
    "send_data",
]

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "artifacts"

Sender = str | LocalAccount  # an unlocked node account (devnet) or a local key


class TransactionFailed(UnknownRevert):
    """A mined transaction failed and its revert data could not be recovered (e.g. out of gas)."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    """The committed build of contract `name` (contracts/artifacts/<name>.json, written by contracts/build.cjs)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no artifact {path}; run `node contracts/build.cjs`")
    data = json.loads(path.read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"], deployed_bytecode=data["deployedBytecode"])


def contract_factory(w3: Web3, name: str) -> type[Contract]:
    art = load_artifact(name)
    return w3.eth.contract(abi=art.abi, bytecode=art.bytecode)


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 contract error, if any."""
    data = getattr(exc, "data", None)
    if isinstance(exc, ContractPanicError | ContractCustomError | ContractLogicError) and isinstance(data, str):
        try:
            return bytes.fromhex(data[2:] if data.startswith("0x") else data)
        except ValueError:
            return None
    if isinstance(data, bytes):
        return data
    return None


@contextmanager
def decoded_reverts() -> Iterator[None]:
    """Re-raise web3 contract reverts inside the block as typed BridgeContractError exceptions."""
    try:
        yield
    except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
        data = revert_data(exc)
        if data is None:
            raise
        raise decode_error(data) from exc


def call(fn: ContractFunction, *, sender: str | None = None, block: BlockIdentifier = "latest") -> Any:
    """eth_call of a contract function; reverts raise typed errors."""
    params: TxParams = {"from": to_checksum_address(sender)} if sender else {}
    with decoded_reverts():
        return fn.call(params, block_identifier=block)


def _address_of(sender: Sender) -> ChecksumAddress:
    return to_checksum_address(sender if isinstance(sender, str) else sender.address)


def send(
    w3: Web3,
    fn: ContractFunction,
    sender: Sender,
    *,
    value: int = 0,
    gas: int | None = None,
    access_list: Sequence[dict[str, Any]] | None = None,
) -> TxReceipt:
    """Send a transaction calling `fn` and wait for its receipt; a revert raises the typed error.

    With `gas=None` the node estimates gas (a revert shows up there, with its data). With a fixed gas limit the
    transaction is mined even if it fails; its revert data is then recovered by replaying it with eth_call.
    """
    params: TxParams = {"from": _address_of(sender), "value": Wei(value)}
    if gas is not None:
        params["gas"] = gas
    if access_list is not None:
        params["accessList"] = cast(Any, list(access_list))
    with decoded_reverts():
        if isinstance(sender, str):
            tx_hash = fn.transact(params)
        else:
            tx = fn.build_transaction({**params, "nonce": w3.eth.get_transaction_count(sender.address, "pending")})
            tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(cast(Any, tx)).raw_transaction)
    return _receipt(w3, tx_hash)


def send_data(
    w3: Web3,
    to: str,
    data: bytes,
    sender: Sender,
    *,
    gas: int | None = None,
    access_list: Sequence[dict[str, Any]] | None = None,
) -> TxReceipt:
    """`send` for raw transaction data (executeBatch's packed calldata, see bridge.evm.execute_batch_calldata)."""
    params: TxParams = {"from": _address_of(sender), "to": to_checksum_address(to), "data": HexBytes(data)}
    if gas is not None:
        params["gas"] = gas
    if access_list is not None:
        params["accessList"] = cast(Any, list(access_list))
    with decoded_reverts():
        if "gas" not in params:
            # headroom: the estimate is exact for the pending block, and a later block can take another path (e.g.
            # a rate-limit refill that is a no-op within the same second), which would then run out of gas
            params["gas"] = w3.eth.estimate_gas(params) * 5 // 4 + 10_000
        if isinstance(sender, str):
            tx_hash = w3.eth.send_transaction(params)
        else:
            params["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
            params["chainId"] = w3.eth.chain_id
            params["gasPrice"] = w3.eth.gas_price
            tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(cast(Any, params)).raw_transaction)
    return _receipt(w3, tx_hash)


def _receipt(w3: Web3, tx_hash: HexBytes) -> TxReceipt:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise _replay_failure(w3, tx_hash, receipt)
    return receipt


def _replay_failure(w3: Web3, tx_hash: HexBytes, receipt: TxReceipt) -> BridgeContractError:
    tx = w3.eth.get_transaction(tx_hash)
    params: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
    try:
        w3.eth.call(params, block_identifier=receipt["blockNumber"] - 1)
    except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
        data = revert_data(exc)
        if data:
            return decode_error(data)
    return TransactionFailed(b"")


def event_logs(contract: Contract, receipt: TxReceipt, event: str) -> list[dict[str, Any]]:
    """The decoded `event` logs of `contract` in a receipt, as plain dicts of their arguments."""
    logs = getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs if log["address"] == contract.address]
