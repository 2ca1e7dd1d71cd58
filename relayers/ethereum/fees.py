"""EIP-1559 fees, replacement bumps and gas limits (pure).

- First send: tip = the node's suggestion capped at `tip_cap`; maxFeePerGas = base fee * multiplier + tip, capped at
  `max_fee_cap`. A base fee at or above the cap raises `FeeCapExceeded` (the transaction could not be included now).
- Replacement (same nonce): both maxFeePerGas and the tip rise by at least `bump_bps` (>= 12.5%, above the 10% that
  geth-style pools require), and at least to what a first send would pay now. Returns None when the caps forbid a
  valid bump: the transaction then keeps waiting at its fees (the submitter sends its signed bytes again if the node
  drops it meanwhile, and reports it gone if the node refuses them).
- EIP-2930 access lists, priced by EIP-2929: listing an address costs 2,400 and a slot 1,900 up front, after which
  each access is warm (100); unlisted, the first access costs 2,600 (account) or 2,100 (slot). So each listed slot
  that is touched saves 100, a listed address saves 100 when the transaction would touch it cold, and costs 2,400 for
  nothing when it is warm anyway (the sender, the recipient `to`, the precompiles). `prune_access_list` keeps only
  what saves gas; `access_list_saving` is the gas used it saves.
  (Comparing `eth_estimateGas` with and without a list does not measure this: the bridge's 141.6k-gas-left rule before
  each token call makes the estimate move with the up-front cost, not with the saving, which comes after.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relayers.ethereum.errors import FeeCapExceeded

BPS = 10_000
ADDRESS_COST = 2_400  # EIP-2930, per listed address
SLOT_COST = 1_900  # EIP-2930, per listed storage key
COLD_ACCOUNT = 2_600  # EIP-2929
COLD_SLOT = 2_100  # EIP-2929
WARM = 100
PRECOMPILES = frozenset("0x" + i.to_bytes(20, "big").hex() for i in range(1, 0x12))  # 0x01..0x11 (Prague)


@dataclass(frozen=True)
class FeeCaps:
    max_fee: int
    tip: int
    multiplier: int = 2


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def _ceil_bps(value: int, bps: int) -> int:
    return -(-value * (BPS + bps) // BPS)


def initial_fees(base_fee: int, suggested_tip: int, caps: FeeCaps) -> Fees:
    if base_fee >= caps.max_fee:
        raise FeeCapExceeded(f"base fee {base_fee} wei is at or above the cap {caps.max_fee} wei")
    tip = min(max(suggested_tip, 0), caps.tip, caps.max_fee - base_fee)
    return Fees(min(base_fee * caps.multiplier + tip, caps.max_fee), tip)


def bumped_fees(current: Fees, base_fee: int, suggested_tip: int, caps: FeeCaps, bump_bps: int) -> Fees | None:
    """Fees for a replacement of a transaction sent with `current`; None when the caps leave no valid bump."""
    min_fee = _ceil_bps(current.max_fee_per_gas, bump_bps)
    min_tip = _ceil_bps(current.max_priority_fee_per_gas, bump_bps)
    tip = max(min_tip, min(suggested_tip, caps.tip))
    max_fee = max(min_fee, base_fee * caps.multiplier + tip)
    if tip > caps.tip or min_fee > caps.max_fee:
        return None
    max_fee = min(max_fee, caps.max_fee)
    if tip > max_fee:
        return None
    return Fees(max_fee, tip)


def _entry_saving(entry: dict[str, Any], warm: frozenset[str]) -> int:
    slots = len(entry["storageKeys"])
    address_saving = -ADDRESS_COST if str(entry["address"]).lower() in warm else COLD_ACCOUNT - WARM - ADDRESS_COST
    return address_saving + slots * (COLD_SLOT - WARM - SLOT_COST)


def always_warm(sender: str, to: str) -> frozenset[str]:
    return PRECOMPILES | {sender.lower(), to.lower()}


def prune_access_list(entries: Sequence[dict[str, Any]], warm: frozenset[str]) -> list[dict[str, Any]]:
    """The entries of a node's access list that save gas (each entry's addresses and slots are touched)."""
    return [e for e in entries if _entry_saving(e, warm) > 0]


def access_list_saving(entries: Sequence[dict[str, Any]], warm: frozenset[str]) -> int:
    """Gas used saved by listing `entries` (negative: it costs more than it saves)."""
    return sum(_entry_saving(e, warm) for e in entries)


def gas_limit(estimate: int, headroom_bps: int) -> int:
    return _ceil_bps(estimate, headroom_bps)


__all__ = [
    "BPS",
    "FeeCaps",
    "Fees",
    "access_list_saving",
    "always_warm",
    "bumped_fees",
    "gas_limit",
    "initial_fees",
    "prune_access_list",
]
