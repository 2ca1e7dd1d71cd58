"""The smallest Phala deposit the bridge carries to each destination (dust protection).

A Phala -> Ethereum item costs the relayers Ethereum gas (~9.6k per transfer in a batch of 100, ~58.6k alone; a call
up to its target's gas limit), while its sender pays a Phala fee of a fraction of a cent: without a floor anyone
could drain the relayers' ETH with 1-planck deposits. So each destination has a minimum, one for transfers and one
for calls (a call's amount pays for it and stays with the bridge). A deposit below it is not numbered: it is a
rejected deposit (`below_minimum`), its funds held in the bridge account for the operator like any other.

The minimum decides which transfers are numbered deposits, so it is a deployment constant like `start_block`: every
member (relayer watcher, enclave source verifier) and every client counting deposits must use the same value, or
they number deposits differently. 0 means no minimum (any positive amount).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.amounts import format_units
from bridge.errors import AmountError, InputError

BELOW_MINIMUM = "below_minimum"  # the reason's first word, for operators and tests


class BelowMinimum(AmountError):
    """A deposit smaller than its destination's minimum: refused before anything is signed."""


@dataclass(frozen=True)
class DepositMinimum:
    """Planck (the native token's smallest unit on Phala) a deposit to one destination must reach."""

    transfer: int = 0
    call: int = 0

    def __post_init__(self) -> None:
        for name in ("transfer", "call"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**128:
                raise InputError(f"a deposit minimum ({name}) is an integer in 0..2^128-1 planck, got {value!r}")

    def of(self, *, call: bool) -> int:
        return self.call if call else self.transfer


NO_MINIMUM = DepositMinimum()


def minimum_for(minimums: Mapping[int, DepositMinimum], dest_domain: int) -> DepositMinimum:
    """A destination without an entry has no minimum."""
    return minimums.get(dest_domain, NO_MINIMUM)


def below_minimum(
    minimums: Mapping[int, DepositMinimum],
    dest_domain: int,
    amount: int,
    *,
    call: bool,
    decimals: int = 12,
    symbol: str = "PHA",
) -> str | None:
    """The refusal (starting with `below_minimum`, naming the minimum) of a deposit of `amount` planck, or None when
    it is enough."""
    floor = minimum_for(minimums, dest_domain).of(call=call)
    if amount >= floor:
        return None
    what = "call" if call else "transfer"
    return (
        f"{BELOW_MINIMUM}: a {what} to domain {dest_domain} must carry at least {format_units(floor, decimals)} "
        f"{symbol} ({floor} planck), this one carries {format_units(amount, decimals)} {symbol} ({amount} planck)"
    )


def check_minimum(
    minimums: Mapping[int, DepositMinimum],
    dest_domain: int,
    amount: int,
    *,
    call: bool,
    decimals: int = 12,
    symbol: str = "PHA",
) -> None:
    """Raise `BelowMinimum` for what `below_minimum` refuses."""
    reason = below_minimum(minimums, dest_domain, amount, call=call, decimals=decimals, symbol=symbol)
    if reason is not None:
        raise BelowMinimum(reason)


__all__ = [
    "BELOW_MINIMUM",
    "NO_MINIMUM",
    "BelowMinimum",
    "DepositMinimum",
    "below_minimum",
    "check_minimum",
    "minimum_for",
]
