"""Typed views of what the adapter reads from a node (pure data: no web3 objects past this point).

Hashes are lowercase 0x-hex strings, addresses checksummed strings, log topics and data raw bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

ResourceTable = Mapping[bytes, Mapping[int, int]]  # resource id -> domain id -> decimals


def hex32(value: Any) -> str:
    """A 32-byte hash (HexBytes, bytes or hex text) as lowercase 0x-hex."""
    raw = bytes(value) if not isinstance(value, str) else bytes.fromhex(value.removeprefix("0x"))
    return "0x" + raw.hex()


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None


@dataclass(frozen=True)
class RawLog:
    address: str  # checksummed
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    removed: bool = False


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int
    logs: tuple[RawLog, ...]


@dataclass(frozen=True)
class TxView:
    hash: str
    sender: str
    to: str | None
    nonce: int
    input: bytes
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    block_number: int | None  # None while pending


def header_of(block: Any) -> Header:
    return Header(
        number=int(block["number"]),
        hash=hex32(block["hash"]),
        parent_hash=hex32(block["parentHash"]),
        timestamp=int(block["timestamp"]),
        base_fee=int(block["baseFeePerGas"]) if block.get("baseFeePerGas") is not None else None,
    )


def raw_log(entry: Any) -> RawLog:
    return RawLog(
        address=str(to_checksum_address(entry["address"])),
        topics=tuple(bytes(t) for t in entry["topics"]),
        data=bytes(entry["data"]),
        block_number=int(entry["blockNumber"]),
        block_hash=hex32(entry["blockHash"]),
        tx_hash=hex32(entry["transactionHash"]),
        log_index=int(entry["logIndex"]),
        removed=bool(entry.get("removed", False)),
    )


__all__ = ["Header", "RawLog", "Receipt", "ResourceTable", "TxView", "header_of", "hex32", "raw_log"]
