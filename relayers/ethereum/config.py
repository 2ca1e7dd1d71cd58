"""Configuration of the Ethereum adapter (watcher, destination, verifiers), validated when built.

    cfg = EthereumConfig(rpc_url="http://127.0.0.1:8545", chain_id=31337, bridge_address="0x...",
                         resources={PHA_ID: {1: 18, 2: 12}}, submitter_key_file=Path("relayer.key"))

Finality: a block is final when it is `confirmations` below the head (0 = the head itself, for tests), or, with
`finality="finalized"`, at or below the node's `finalized` block. The same rule decides when a receipt is final.

The submitter key pays gas for `executeBatch`; it is the relayer's own account, never a bridge key (the bridge
trusts only the committee's FROST signature). It is read from a file that holds a 32-byte hex private key, and never
logged (`SubmitterKey` has a redacted repr).

Gas figures for `gas_of` (the pipeline's batch budget) were measured on the devnet: a PHA release costs ~9.6k gas per
item in a batch of 100 and ~14.2k in a batch of 10 (docs/contracts.md); `transfer_gas` rounds the latter up. A call
item costs its gas limit (the bridge gives the target exactly that: `call_gas_limit`, or a confidential reply's own,
which may not exceed it) plus the 64/63 rule and the bridge's framing, event and calldata, which `call_overhead_gas`
bounds.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import structlog
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from bridge.config.redact import redact_url
from bridge.domains import Domain
from bridge.errors import InputError
from relayers.ethereum.views import ResourceTable

log = structlog.get_logger("ethereum.config")

GWEI = 10**9
MIN_FEE_BUMP_BPS = 1250  # 12.5%: what geth-style pools require (10%) plus margin; EIP-1559 replacement rule
BPS = 10_000


class ConfigError(InputError):
    pass


@dataclass(frozen=True)
class EthereumConfig:
    rpc_url: str  # this node's own endpoint (http:// or https://)
    chain_id: int  # checked against the node at first use
    bridge_address: str
    resources: ResourceTable = field(default_factory=lambda: MappingProxyType({}))
    name: str = "ethereum"
    domain: int = int(Domain.ETHEREUM)
    # -- watcher
    finality: Literal["confirmations", "finalized"] = "confirmations"
    confirmations: int = 12
    start_block: int = 0  # the watcher's first block when it has no cursor (the bridge's deployment block)
    max_block_range: int = 500  # blocks per poll (one get_logs, one batch of headers)
    rewind_depth: int = 128  # recent block hashes kept for reorg detection; how far back a rewind may go
    # -- destination
    group_public_key: bytes | None = None  # 33-byte compressed FROST secp256k1 key; None = read KeyRotated events
    submitter_key_file: Path | None = None
    call_gas_limit: int = 200_000  # the gas a call item's target gets
    max_batch_items: int = 200
    # Batch bytes at most (executeBatch's calldata is 132 bytes more): nodes keep no transaction above 128 KiB in
    # their pools (geth, reth), and the envelope, signature and access list need room besides.
    max_batch_bytes: int = 112 * 1024
    transfer_gas: int = 15_000
    call_overhead_gas: int = 15_000
    # -- fees and replacement
    max_fee_per_gas: int = 300 * GWEI  # cap on maxFeePerGas, replacements included
    max_priority_fee_per_gas: int = 5 * GWEI  # cap on the tip
    base_fee_multiplier: int = 2  # maxFeePerGas = base fee * this + tip: survives a few full blocks
    fee_bump_bps: int = MIN_FEE_BUMP_BPS  # replacement bump, in basis points (>= 12.5%)
    stuck_timeout: float = 60.0  # seconds without a receipt before a transaction is replaced
    gas_headroom_bps: int = 2_000  # gas limit = estimate * (1 + 20%)
    use_access_lists: bool = True  # attach an EIP-2930 list when the node's estimate says it saves gas
    # -- transport
    rpc_timeout: float = 10.0  # seconds, every HTTP request

    def __post_init__(self) -> None:
        if not self.rpc_url.startswith(("http://", "https://")):
            shown = redact_url(self.rpc_url)  # its path or user info may be the endpoint's API key
            raise ConfigError(f"an Ethereum endpoint is an http:// or https:// URL, got {shown!r}")
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id < 1:
            raise ConfigError(f"chain_id must be a positive integer, got {self.chain_id!r}")
        if not is_address(self.bridge_address):
            raise ConfigError(f"bridge_address is not an Ethereum address: {self.bridge_address!r}")
        object.__setattr__(self, "bridge_address", str(to_checksum_address(self.bridge_address)))
        if not 1 <= self.domain <= 255:
            raise ConfigError(f"domain {self.domain} is out of range 1..255")
        if self.finality not in ("confirmations", "finalized"):
            raise ConfigError(f"finality must be 'confirmations' or 'finalized', got {self.finality!r}")
        for name in ("confirmations", "start_block"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        for name in (
            "max_block_range",
            "rewind_depth",
            "call_gas_limit",
            "max_batch_items",
            "transfer_gas",
            "max_fee_per_gas",
            "base_fee_multiplier",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive")
        if not 16 * 1024 <= self.max_batch_bytes <= 128 * 1024:
            raise ConfigError(f"max_batch_bytes must be within 16..128 KiB, got {self.max_batch_bytes}")
        if self.call_gas_limit >= 2**32:
            raise ConfigError("call_gas_limit must fit in 32 bits")
        if not 0 <= self.max_priority_fee_per_gas <= self.max_fee_per_gas:
            raise ConfigError("max_priority_fee_per_gas must be between 0 and max_fee_per_gas")
        if self.fee_bump_bps < MIN_FEE_BUMP_BPS:
            raise ConfigError(f"fee_bump_bps must be at least {MIN_FEE_BUMP_BPS} (12.5%), got {self.fee_bump_bps}")
        if self.gas_headroom_bps < 0:
            raise ConfigError("gas_headroom_bps must not be negative")
        if self.stuck_timeout <= 0 or self.rpc_timeout <= 0:
            raise ConfigError("timeouts must be positive")
        if self.group_public_key is not None and (
            len(self.group_public_key) != 33 or self.group_public_key[0] not in (2, 3)
        ):
            raise ConfigError("group_public_key must be a 33-byte compressed secp256k1 point")
        object.__setattr__(self, "resources", _validated_resources(self.resources, self.domain))

    def decimals(self, resource_id: bytes, domain: int) -> int | None:
        return self.resources.get(resource_id, {}).get(domain)

    def call_gas(self, gas_limit: int | None = None) -> int:
        """Batch budget of a call item whose target gets `gas_limit` (None: the configured call gas)."""
        limit = self.call_gas_limit if gas_limit is None else gas_limit
        return limit * 64 // 63 + self.call_overhead_gas


def _validated_resources(table: ResourceTable, own_domain: int) -> ResourceTable:
    out: dict[bytes, Mapping[int, int]] = {}
    for rid, per_domain in table.items():
        if not isinstance(rid, bytes) or len(rid) != 32:
            raise ConfigError(f"a resource id is 32 bytes, got {rid!r}")
        if own_domain not in per_domain:
            raise ConfigError(f"resource 0x{rid.hex()} has no decimals for this chain (domain {own_domain})")
        for domain, decimals in per_domain.items():
            if not 1 <= domain <= 255 or not 0 <= decimals <= 77:
                raise ConfigError(f"resource 0x{rid.hex()}: bad entry domain {domain} -> {decimals} decimals")
        out[rid] = MappingProxyType(dict(per_domain))
    return MappingProxyType(out)


class SubmitterKey:
    """The relayer's gas-paying account. The key stays inside; repr and str show the address only."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def account(self) -> LocalAccount:
        return self._account

    def __repr__(self) -> str:
        return f"SubmitterKey({self.address})"

    __str__ = __repr__


def load_submitter_key(path: Path) -> SubmitterKey:
    """Read a 32-byte hex private key (with or without 0x, surrounding whitespace ignored) from `path`."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the submitter key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:  # raw key bytes, say: the decoder's message would quote one of them
        raise ConfigError(
            f"submitter key file {path}: not valid UTF-8 text (it holds a 32-byte hex private key)"
        ) from None
    body = text.removeprefix("0x").removeprefix("0X")
    if len(body) != 64:
        raise ConfigError(f"the submitter key file {path} must hold a 32-byte hex private key (64 hex digits)")
    try:
        account: LocalAccount = Account.from_key(bytes.fromhex(body))
    except ValueError:
        raise ConfigError(f"the submitter key file {path} does not hold a valid secp256k1 private key") from None
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("submitter_key_file_readable_by_others", path=str(path), mode=oct(mode & 0o777))
    return SubmitterKey(account)


__all__ = [
    "GWEI",
    "MIN_FEE_BUMP_BPS",
    "ConfigError",
    "EthereumConfig",
    "ResourceTable",
    "SubmitterKey",
    "load_submitter_key",
]
