"""Configuration of the Phala adapter (watcher, executed index, destination), validated when built.

Weights: on the devnet runtime a `transfer_keep_alive` inside `batch_all` weighs ~155.2 M (ref-time) and a batch's
fixed part (extrinsic base, batch_all, remark_with_event) ~253.4 M, measured with `payment_queryInfo`
(tests/devnet/test_substrate_adapter.py checks the figures still bound the real weight). `gas_of` reports weight
/ `weight_per_gas` so the pipeline's one gas budget bounds Phala batches too: at 10,000 weight per gas unit a
transfer costs 15,600 "gas", and the default 8 M budget (~510 transfers, ~80 G weight) stays far under the
runtime's per-extrinsic limit (~350 G); `max_messages` (100) is the binding limit in practice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.domains import Domain
from bridge.errors import InputError
from bridge.gateway import GatewayConfig
from bridge.minimums import Minimums, as_schedules

DEFAULT_TRANSFER_WEIGHT = 156_000_000  # rounded up from the measured ~155.2 M
DEFAULT_BATCH_BASE_WEIGHT = 260_000_000  # rounded up from the measured ~253.4 M
DEFAULT_WEIGHT_PER_GAS = 10_000


class ConfigError(InputError):
    pass


@dataclass(frozen=True)
class PhalaConfig:
    url: str  # this node's own websocket endpoint
    bridge_account: bytes  # 32 bytes: the committee's FROST Ed25519 group public key, an ed25519 account
    resource_id: bytes  # the native token's resource id (PHA)
    name: str = "phala"
    domain: int = int(Domain.PHALA)
    native_decimals: int = 12
    # Decimals of the native token on each destination a deposit may name; others are refused.
    dest_decimals: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({int(Domain.ETHEREUM): 18}))
    # Planck a deposit to each destination must carry, by the deposit's block (bridge.minimums: a DepositMinimum is
    # in force from the start, a MinimumSchedule changes at blocks; stored as schedules); none listed: no minimum.
    # Like start_block it decides the deposit numbering: the same schedule for every member and client.
    min_deposit: Minimums = field(default_factory=lambda: MappingProxyType({}))
    start_block: int = 0  # the watcher's first block when it has no cursor
    index_start_block: int = 0  # the first block that can hold a bridge execution (the bridge account's birth)
    max_blocks_per_poll: int = 50
    rewind_depth: int = 64  # how far back the watcher re-scans when its cursor's block was replaced
    rpc_timeout: float = 10.0  # seconds, for every RPC (the websocket's receive timeout)
    pending_timeout: float = 120.0  # after this, a submitted batch neither included nor superseded is dropped
    fee_reserve: int = 10**11  # planck kept aside for fees when checking the bridge account can pay a batch
    # After a transfer has gone unpaid for lack of funds this long, inflows are held for it (relayers/substrate/
    # liquidity.py): smaller transfers are no longer paid from its amount.
    liquidity_hold_after: float = 600.0
    transfer_weight: int = DEFAULT_TRANSFER_WEIGHT
    batch_base_weight: int = DEFAULT_BATCH_BASE_WEIGHT
    weight_per_gas: int = DEFAULT_WEIGHT_PER_GAS
    gateway: GatewayConfig | None = None  # the XCM gateway (deposits whose recipient is an XCM destination)
    para_id: int | None = None  # checked against the node's ParachainInfo.ParachainId on connecting; None: unchecked

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"a Substrate endpoint is a ws:// or wss:// URL, got {self.url!r}")
        if len(self.bridge_account) != 32:
            raise ConfigError(f"bridge_account must be a 32-byte public key, got {len(self.bridge_account)} bytes")
        if len(self.resource_id) != 32:
            raise ConfigError(f"resource_id must be 32 bytes, got {len(self.resource_id)}")
        if not 1 <= self.domain <= 255 or self.domain in self.dest_decimals:
            raise ConfigError(f"domain {self.domain} is invalid or listed as its own destination")
        unserved = sorted(set(self.min_deposit) - set(self.dest_decimals))
        if unserved:
            raise ConfigError(f"min_deposit names domain(s) {unserved}, which deposits from here cannot name")
        try:
            object.__setattr__(self, "min_deposit", MappingProxyType(as_schedules(self.min_deposit)))
        except InputError as exc:
            raise ConfigError(f"min_deposit: {exc}") from None
        for name in ("start_block", "index_start_block", "fee_reserve"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        for name in ("max_blocks_per_poll", "rewind_depth", "transfer_weight", "weight_per_gas"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive")
        if self.rpc_timeout <= 0 or self.pending_timeout <= 0:
            raise ConfigError("timeouts must be positive")
        if self.liquidity_hold_after < 0:
            raise ConfigError("liquidity_hold_after must not be negative")
        if self.para_id is not None and not 0 <= self.para_id < 2**32:
            raise ConfigError(f"para_id must be a u32, got {self.para_id}")

    @property
    def transfer_gas(self) -> int:
        return -(-self.transfer_weight // self.weight_per_gas)


__all__ = ["ConfigError", "PhalaConfig"]
