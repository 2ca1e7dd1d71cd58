"""One Ethereum JSON-RPC connection used from asyncio, with typed views of what the adapter reads.

web3 is synchronous: `EthRpc.run(fn)` runs `fn(rpc)` on a worker thread (`asyncio.to_thread`), one call at a time
per connection (each component owns its own `EthRpc`, hence its own `Web3`). Every HTTP request is bounded by
`timeout`; web3's own retries are off, so a call fails within that bound and the caller's loop decides when to retry.
The first use checks the node's chain id against the configured one (`ChainIdMismatch`, permanent).

Errors are mapped here, at the boundary: requests' timeouts and connection errors become `RpcTimeout` and
`RpcUnavailable`, a JSON-RPC error `RpcError`, a contract revert the typed `BridgeContractError` of errors.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import requests
import structlog
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import BlockIdentifier, TxParams

from relayers.ethereum.contracts import contract_at, revert_data
from relayers.ethereum.errors import (
    BridgeContractError,
    ChainIdMismatch,
    RpcError,
    RpcTimeout,
    RpcUnavailable,
    TransactionRejected,
    decode_error,
)
from relayers.ethereum.http_session import rpc_session
from relayers.ethereum.views import Header, RawLog, Receipt, TxView, header_of, hex32, raw_log

T = TypeVar("T")
log = structlog.get_logger("ethereum.rpc")

BATCH_CHUNK = 100  # requests per JSON-RPC batch


class EthRpc:
    """A `Web3` over HTTP with bounded timeouts, the bridge contract bound to it, and typed reads."""

    def __init__(self, url: str, *, chain_id: int, bridge: str, timeout: float = 10.0) -> None:
        self.url = url
        self.expected_chain_id = chain_id
        self.w3 = Web3(
            Web3.HTTPProvider(
                url, request_kwargs={"timeout": timeout}, session=rpc_session(url), exception_retry_configuration=None
            )
        )
        self.bridge: Contract = contract_at(self.w3, "Bridge", bridge)
        self._lock = threading.Lock()
        self._chain_checked = False
        self._session = rpc_session(url)  # for raw JSON-RPC batches (web3's batches cannot mix these methods)
        self._timeout = timeout
        self._functions: dict[str, _AbiFunction] = {}

    # -- running ----------------------------------------------------------------------------------------------

    def run_sync(self, fn: Callable[[EthRpc], T]) -> T:
        with self._lock, mapped_errors("rpc"):
            if not self._chain_checked:
                actual = int(self.w3.eth.chain_id)
                if actual != self.expected_chain_id:
                    raise ChainIdMismatch(self.expected_chain_id, actual, self.url)
                self._chain_checked = True
            return fn(self)

    async def run(self, fn: Callable[[EthRpc], T]) -> T:
        return await asyncio.to_thread(self.run_sync, fn)

    # -- blocks and logs --------------------------------------------------------------------------------------

    def head_number(self) -> int:
        return int(self.w3.eth.block_number)

    def header(self, block: BlockIdentifier) -> Header | None:
        try:
            found = self.w3.eth.get_block(block)
        except BlockNotFound:
            return None
        return header_of(found)

    def headers(self, numbers: Sequence[int]) -> list[Header]:
        """Headers of `numbers`, in JSON-RPC batches of BATCH_CHUNK."""
        out: list[Header] = []
        for start in range(0, len(numbers), BATCH_CHUNK):
            with self.w3.batch_requests() as batch:
                for n in numbers[start : start + BATCH_CHUNK]:
                    batch.add(self.w3.eth.get_block(n))
                blocks = batch.execute()
            out.extend(header_of(b) for b in blocks)
        return out

    def logs(self, topic0: Sequence[bytes], from_block: int, to_block: int, *more: bytes | None) -> list[RawLog]:
        topics: list[Any] = [["0x" + t.hex() for t in topic0]]
        topics.extend(None if t is None else "0x" + t.hex() for t in more)
        entries = self.w3.eth.get_logs(
            {
                "address": self.bridge.address,
                "fromBlock": from_block,
                "toBlock": to_block,
                "topics": topics,
            }
        )
        return [raw_log(e) for e in entries]

    # -- transactions -----------------------------------------------------------------------------------------

    def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            r = self.w3.eth.get_transaction_receipt(cast(Any, tx_hash))
        except TransactionNotFound:
            return None
        if r is None or r.get("blockHash") is None:
            return None
        return Receipt(
            tx_hash=hex32(r["transactionHash"]),
            status=int(r["status"]),
            block_number=int(r["blockNumber"]),
            block_hash=hex32(r["blockHash"]),
            gas_used=int(r["gasUsed"]),
            effective_gas_price=int(r.get("effectiveGasPrice", 0)),
            logs=tuple(raw_log(e) for e in r["logs"]),
        )

    def transaction(self, tx_hash: str) -> TxView | None:
        try:
            tx = self.w3.eth.get_transaction(cast(Any, tx_hash))
        except TransactionNotFound:
            return None
        return TxView(
            hash=hex32(tx["hash"]),
            sender=str(to_checksum_address(tx["from"])),
            to=str(to_checksum_address(tx["to"])) if tx.get("to") else None,
            nonce=int(tx["nonce"]),
            input=bytes(tx["input"]),
            gas=int(tx["gas"]),
            max_fee_per_gas=int(tx.get("maxFeePerGas", tx.get("gasPrice", 0))),
            max_priority_fee_per_gas=int(tx.get("maxPriorityFeePerGas", tx.get("gasPrice", 0))),
            block_number=int(tx["blockNumber"]) if tx.get("blockNumber") is not None else None,
        )

    def account_nonce(self, address: str, block: BlockIdentifier) -> int:
        return int(self.w3.eth.get_transaction_count(to_checksum_address(address), block))

    def max_priority_fee(self) -> int:
        return int(self.w3.eth.max_priority_fee)

    def estimate_gas(self, tx: TxParams) -> int:
        with contract_reverts():
            return int(self.w3.eth.estimate_gas(tx))

    def create_access_list(self, tx: TxParams) -> tuple[list[dict[str, Any]], int]:
        with contract_reverts():
            result = self.w3.eth.create_access_list(tx)
        entries = [
            {"address": str(e["address"]), "storageKeys": [hex32(k) for k in e["storageKeys"]]}
            for e in result["accessList"]
        ]
        return entries, int(result["gasUsed"])

    def send_inputs(self, tx: TxParams, *, access_list: bool) -> SendInputs:
        """What a send needs before signing, in ONE JSON-RPC batch instead of four to five round trips: the gas
        estimate (a revert is the typed contract error), the node's access list (when asked), the latest base fee
        and the suggested tip."""
        call = _json_tx(tx)
        requests_: list[tuple[str, list[Any]]] = [
            # At `latest`, as web3 did: without a block anvil estimates on `pending`, where a batch already sent for
            # the same nonces (a restart, a new leader) makes this one revert, and it would never be sent.
            ("eth_estimateGas", [call, "latest"]),
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_maxPriorityFeePerGas", []),
        ]
        if access_list:
            requests_.append(("eth_createAccessList", [call, "latest"]))
        answers = self._raw_batch(requests_)
        estimate, block, tip = answers[0], answers[1], answers[2]
        entries: list[dict[str, Any]] = []
        if access_list:
            entries = [
                {"address": str(e["address"]), "storageKeys": [hex32(k) for k in e["storageKeys"]]}
                for e in answers[3]["accessList"]
            ]
        base_fee = block.get("baseFeePerGas") if isinstance(block, dict) else None
        return SendInputs(
            estimate=int(estimate, 16),
            access_list=entries,
            base_fee=int(base_fee, 16) if isinstance(base_fee, str) else 0,
            tip=int(tip, 16),
        )

    def source_reads(
        self, final_tag: str | None, tx_hashes: Sequence[str], numbers: Sequence[int]
    ) -> tuple[int, dict[str, Receipt | None], dict[int, Header | None]]:
        """What a source check reads, in ONE JSON-RPC batch: the final block (the `final_tag` block's number, e.g.
        "finalized", else the head's number), and the receipts and canonical headers asked for."""
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [final_tag, False]) if final_tag is not None else ("eth_blockNumber", [])
        ]
        calls += [("eth_getTransactionReceipt", [h]) for h in tx_hashes]
        calls += [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        answers = self._raw_batch(calls)
        first = answers[0]
        final = int(first, 16) if final_tag is None else (int(first["number"], 16) if isinstance(first, dict) else -1)
        at = 1 + len(tx_hashes)
        receipts = {h: _receipt_json(r) for h, r in zip(tx_hashes, answers[1:at], strict=True)}
        headers = {n: _header_json(b) for n, b in zip(numbers, answers[at:], strict=True)}
        return final, receipts, headers

    def _raw_batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results of `calls` in one HTTP request, in order; the first error raises (a revert: its typed error)."""
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        with mapped_errors(calls[0][0]):
            response = self._session.post(self.url, json=cast(Any, payload), timeout=self._timeout)
            if response.status_code != 200:
                raise RpcUnavailable(f"{calls[0][0]}: HTTP {response.status_code} from {self.url}")
            try:
                body = response.json()
            except ValueError as exc:  # not JSON (a proxy's error page, a cut answer): the node's verdict is unknown
                raise RpcUnavailable(f"{calls[0][0]}: the answer from {self.url} is not JSON ({exc})") from exc
            if not isinstance(body, list):  # a node without batch support answers one error object
                raise RpcError(calls[0][0], body.get("error", body) if isinstance(body, dict) else body)
            answers = {a.get("id"): a for a in body if isinstance(a, dict)}
        out: list[Any] = []
        for i, (method, _) in enumerate(calls):
            answer = answers.get(i)
            if answer is None:
                raise RpcError(method, "no answer in the batch")
            error = answer.get("error")
            if error is not None:
                data = error.get("data") if isinstance(error, dict) else None
                if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                    raise decode_error(data)
                raise RpcError(method, error)
            out.append(answer.get("result"))
        return out

    def send_raw(self, raw: bytes) -> str:
        try:
            (tx_hash,) = self._raw_batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])
        except (RpcError, BridgeContractError) as exc:  # the node refused it: nothing was sent
            raise TransactionRejected(f"eth_sendRawTransaction: {exc}") from exc
        return hex32(tx_hash)

    # -- the bridge contract ----------------------------------------------------------------------------------

    def bridge_call(self, fn_name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        with contract_reverts():
            return getattr(self.bridge.functions, fn_name)(*args).call(block_identifier=block)

    def bridge_reads(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> tuple[int, list[Any]]:
        """The head number and several views (name, args), at the latest block, in as few JSON-RPC batches as the
        chunk size allows: one round trip where each read used to be one. Encoded and decoded here with eth_abi
        (web3's contract-call machinery cost ~10 ms of CPU per batch, five enclaves at once on two cores)."""
        head: int | None = None
        out: list[Any] = []
        for start in range(0, max(len(calls), 1), BATCH_CHUNK):
            chunk = calls[start : start + BATCH_CHUNK]
            requests_: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])] if head is None else []
            requests_ += [self._eth_call(n, a) for n, a in chunk]
            answers = self._raw_batch(requests_)
            if head is None:
                head = int(answers.pop(0), 16)
            out.extend(self._decoded(name, raw) for (name, _), raw in zip(chunk, answers, strict=True))
        assert head is not None
        return head, out

    def bridge_calls(self, fn_name: str, args: Sequence[tuple[Any, ...]], *, block: int | str = "latest") -> list[Any]:
        """The same view called with many argument tuples, in JSON-RPC batches, at `block` (a number or a tag;
        "latest" unless told: a final block for anything that decides "executed")."""
        out: list[Any] = []
        for start in range(0, len(args), BATCH_CHUNK):
            chunk = args[start : start + BATCH_CHUNK]
            answers = self._raw_batch([self._eth_call(fn_name, a, block) for a in chunk])
            out.extend(self._decoded(fn_name, raw) for raw in answers)
        return out

    def _eth_call(self, name: str, args: tuple[Any, ...], block: int | str = "latest") -> tuple[str, list[Any]]:
        tag = hex(block) if isinstance(block, int) else block
        return "eth_call", [{"to": self.bridge.address, "data": self._calldata(name, args)}, tag]

    def _function(self, name: str) -> _AbiFunction:
        fn = self._functions.get(name)
        if fn is None:
            abi: list[Any] = list(self.bridge.abi)
            entry = next(e for e in abi if e.get("type") == "function" and e.get("name") == name)
            inputs = [_abi_type(i) for i in entry["inputs"]]
            outputs = [_abi_type(o) for o in entry["outputs"]]
            selector = keccak(f"{name}({','.join(inputs)})".encode())[:4]
            fn = self._functions[name] = _AbiFunction(selector, inputs, outputs)
        return fn

    def _calldata(self, name: str, args: tuple[Any, ...]) -> str:
        fn = self._function(name)
        return "0x" + (fn.selector + abi_encode(fn.inputs, list(args))).hex()

    def _decoded(self, name: str, raw: Any) -> Any:
        """As web3 returns a view's result: one output as itself, several as a list; addresses checksummed."""
        fn = self._function(name)
        values = abi_decode(fn.outputs, bytes.fromhex(str(raw).removeprefix("0x")))
        values = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(fn.outputs, values, strict=True))
        return values[0] if len(values) == 1 else list(values)

    @property
    def bridge_address(self) -> ChecksumAddress:
        return self.bridge.address


@dataclass(frozen=True)
class _AbiFunction:
    selector: bytes
    inputs: list[str]
    outputs: list[str]


def _abi_type(entry: Any) -> str:
    """An ABI parameter's canonical type (tuples spelled out), as in signatures and eth_abi."""
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in entry["components"]) + ")" + kind[5:]
    return kind


@dataclass(frozen=True)
class SendInputs:
    estimate: int  # gas, without an access list (an upper bound for a pruned one: each kept entry saves gas)
    access_list: list[dict[str, Any]]  # the node's, unpruned; [] when not asked
    base_fee: int  # of the latest block
    tip: int  # the node's suggested priority fee


def _json_tx(tx: TxParams) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tx.items():
        if isinstance(value, bytes | bytearray):
            out[key] = "0x" + bytes(value).hex()
        elif isinstance(value, int) and not isinstance(value, bool):
            out[key] = hex(value)
        else:
            out[key] = value
    return out


def _header_json(block: Any) -> Header | None:
    if not isinstance(block, dict):
        return None
    base_fee = block.get("baseFeePerGas")
    return Header(
        number=int(block["number"], 16),
        hash=hex32(block["hash"]),
        parent_hash=hex32(block["parentHash"]),
        timestamp=int(block["timestamp"], 16),
        base_fee=int(base_fee, 16) if isinstance(base_fee, str) else None,
    )


def _receipt_json(r: Any) -> Receipt | None:
    if not isinstance(r, dict) or r.get("blockHash") is None:
        return None
    return Receipt(
        tx_hash=hex32(r["transactionHash"]),
        status=int(r["status"], 16),
        block_number=int(r["blockNumber"], 16),
        block_hash=hex32(r["blockHash"]),
        gas_used=int(r["gasUsed"], 16),
        effective_gas_price=int(r.get("effectiveGasPrice", "0x0"), 16),
        logs=tuple(
            RawLog(
                address=str(to_checksum_address(e["address"])),
                topics=tuple(bytes.fromhex(t.removeprefix("0x")) for t in e["topics"]),
                data=bytes.fromhex(e["data"].removeprefix("0x")),
                block_number=int(e["blockNumber"], 16),
                block_hash=hex32(e["blockHash"]),
                tx_hash=hex32(e["transactionHash"]),
                log_index=int(e["logIndex"], 16),
                removed=bool(e.get("removed", False)),
            )
            for e in r["logs"]
        ),
    )


@contextmanager
def contract_reverts() -> Iterator[None]:
    """A revert with data becomes the typed contract error; other web3 errors pass on to `mapped_errors`."""
    try:
        yield
    except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
        data = revert_data(exc)
        if data is None:
            raise
        raise decode_error(data) from exc


@contextmanager
def mapped_errors(method: str) -> Iterator[None]:
    try:
        yield
    except requests.exceptions.Timeout as exc:
        raise RpcTimeout(f"{method}: no answer in time ({exc})") from exc
    except requests.exceptions.ConnectionError as exc:
        raise RpcUnavailable(f"{method}: {exc}") from exc
    except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
        raise RpcError(method, exc) from exc
    except Web3RPCError as exc:
        raise RpcError(method, exc.rpc_response or exc) from exc


__all__ = ["BATCH_CHUNK", "EthRpc", "SendInputs", "contract_reverts", "mapped_errors"]
