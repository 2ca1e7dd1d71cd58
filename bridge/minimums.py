"""The smallest Phala deposit the bridge carries to each destination (dust protection), over Phala blocks.

A Phala -> Ethereum item costs the relayers Ethereum gas (~9.6k per transfer in a batch of 100, ~58.6k alone; a call
up to its target's gas limit), while its sender pays a Phala fee of a fraction of a cent: without a floor anyone
could drain the relayers' ETH with 1-planck deposits. So each destination has a minimum, one for transfers and one
for calls (a call's amount pays for it and stays with the bridge). A deposit below it is not numbered: it is a
rejected deposit (`below_minimum`), its funds held in the bridge account for the operator like any other.

The minimum decides which transfers are numbered deposits, so every member (relayer watcher, enclave source
verifier) and every client counting deposits must apply the same value to the same deposit. It is therefore a
**schedule** (`MinimumSchedule`): a value from the start and changes each from a Phala block on, and a deposit is
judged by the minimum in force at ITS block (`below_minimum(..., block=)`). Gas prices move, so a live deployment
changes its minimum by adding a change at a block ahead to every member's config and the network file: every
member switches at that block whenever it restarts, and no deposit already counted is judged differently. 0 means
no minimum (any positive amount).

Clients sign before they know the block their deposit lands in: `client_floor` refuses by the minimum at the head,
or by a higher one scheduled within `CLIENT_MARGIN_BLOCKS` (the deposit could land after the switch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.amounts import format_units
from bridge.errors import AmountError, InputError

BELOW_MINIMUM = "below_minimum"  # the reason's first word, for operators and tests
# Blocks ahead a client looks for a scheduled change: ~10 minutes of Phala blocks (12 s), well over the few blocks
# between signing and inclusion plus the finalized head's lag, so a deposit signed now is not caught by a switch.
CLIENT_MARGIN_BLOCKS = 50
MAX_CHANGES = 1_000  # per destination: a change every week for ~19 years; bounds the config and the snapshot
_U64 = 2**64


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


@dataclass(frozen=True)
class MinimumChange:
    """The minimum in force from Phala block `from_block` on (until the next change)."""

    from_block: int
    minimum: DepositMinimum

    def __post_init__(self) -> None:
        b = self.from_block
        if not isinstance(b, int) or isinstance(b, bool) or not 1 <= b < _U64:
            raise InputError(f"a minimum change's from_block is a block number in 1..2^64-1, got {b!r}")
        if not isinstance(self.minimum, DepositMinimum):
            raise InputError("a minimum change carries a DepositMinimum")


@dataclass(frozen=True)
class MinimumSchedule:
    """The minimum to one destination over Phala blocks: `initial` from the start, then each change from its block.
    Changes are in strictly increasing `from_block` order."""

    initial: DepositMinimum = NO_MINIMUM
    changes: tuple[MinimumChange, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.initial, DepositMinimum):
            raise InputError("a minimum schedule starts with a DepositMinimum")
        object.__setattr__(self, "changes", tuple(self.changes))
        if len(self.changes) > MAX_CHANGES:
            raise InputError(f"a minimum schedule has at most {MAX_CHANGES} changes, got {len(self.changes)}")
        previous = 0
        for change in self.changes:
            if not isinstance(change, MinimumChange):
                raise InputError("a minimum schedule's changes are MinimumChange")
            if change.from_block <= previous:
                raise InputError(
                    f"minimum changes must have strictly increasing from_block: {change.from_block} after {previous}"
                )
            previous = change.from_block

    def at(self, block: int) -> DepositMinimum:
        """The minimum a deposit in `block` must reach."""
        current = self.initial
        for change in self.changes:
            if change.from_block > block:
                break
            current = change.minimum
        return current

    def upcoming(self, after: int, within: int) -> list[MinimumChange]:
        """The changes that take effect in blocks `after`+1 .. `after`+`within`."""
        return [c for c in self.changes if after < c.from_block <= after + within]

    def from_start(self, start_block: int) -> MinimumSchedule:
        """The same rule for blocks from `start_block` on, in one form: the value there as `initial`, later changes
        only where the value changes (two schedules that judge every such block alike are then equal)."""
        initial = self.at(start_block)
        changes: list[MinimumChange] = []
        current = initial
        for change in self.changes:
            if change.from_block > start_block and change.minimum != current:
                changes.append(change)
                current = change.minimum
        return MinimumSchedule(initial, tuple(changes))

    @property
    def is_constant(self) -> bool:
        return all(c.minimum == self.initial for c in self.changes)


NO_SCHEDULE = MinimumSchedule()

# What a config or a caller hands in: a destination's schedule, or a plain minimum (in force from the start).
Minimums = Mapping[int, DepositMinimum | MinimumSchedule]


def as_schedule(value: DepositMinimum | MinimumSchedule) -> MinimumSchedule:
    if isinstance(value, DepositMinimum):
        return MinimumSchedule(value)
    if isinstance(value, MinimumSchedule):
        return value
    raise InputError(f"a deposit minimum is a DepositMinimum or a MinimumSchedule, got {type(value).__name__}")


def as_schedules(minimums: Minimums) -> dict[int, MinimumSchedule]:
    """Every destination's schedule, ascending by domain."""
    return {d: as_schedule(m) for d, m in sorted(minimums.items())}


def schedule_for(minimums: Minimums, dest_domain: int) -> MinimumSchedule:
    """A destination without an entry has no minimum."""
    value = minimums.get(dest_domain)
    return NO_SCHEDULE if value is None else as_schedule(value)


def minimum_for(minimums: Minimums, dest_domain: int, *, block: int) -> DepositMinimum:
    """The minimum in force for a deposit to `dest_domain` in `block`."""
    return schedule_for(minimums, dest_domain).at(block)


@dataclass(frozen=True)
class Difference:
    """The first block from which two sets of schedules judge a deposit differently, and to which destination."""

    dest_domain: int
    block: int


def first_difference(a: Minimums, b: Minimums, start_block: int) -> Difference | None:
    """The earliest block >= `start_block` where `a` and `b` give some destination different minimums, or None when
    they judge every deposit from `start_block` on alike. Deposits counted up to a block before it were judged
    alike by both, so a view counted under `a` up to there holds under `b` too."""
    found: Difference | None = None
    for domain in sorted(set(a) | set(b)):
        sa, sb = schedule_for(a, domain), schedule_for(b, domain)
        blocks = {start_block} | {c.from_block for c in sa.changes + sb.changes if c.from_block > start_block}
        for block in sorted(blocks):
            if sa.at(block) != sb.at(block):
                if found is None or block < found.block:
                    found = Difference(domain, block)
                break
    return found


def _refusal(dest_domain: int, amount: int, floor: int, *, call: bool, decimals: int, symbol: str) -> str:
    what = "call" if call else "transfer"
    return (
        f"{BELOW_MINIMUM}: a {what} to domain {dest_domain} must carry at least {format_units(floor, decimals)} "
        f"{symbol} ({floor} planck), this one carries {format_units(amount, decimals)} {symbol} ({amount} planck)"
    )


def below_minimum(
    minimums: Minimums,
    dest_domain: int,
    amount: int,
    *,
    call: bool,
    block: int,
    decimals: int = 12,
    symbol: str = "PHA",
) -> str | None:
    """The refusal (starting with `below_minimum`, naming the minimum) of a deposit of `amount` planck in `block`,
    by the minimum in force there, or None when it is enough. This is what numbers deposits (the watcher)."""
    floor = minimum_for(minimums, dest_domain, block=block).of(call=call)
    if amount >= floor:
        return None
    return _refusal(dest_domain, amount, floor, call=call, decimals=decimals, symbol=symbol)


@dataclass(frozen=True)
class ClientFloor:
    """What a client must send so its deposit is not held wherever it lands: `planck`, and the scheduled change
    that sets it when that is higher than the minimum at the head (None: the head's minimum)."""

    planck: int
    change: MinimumChange | None = None


def client_floor(
    minimums: Minimums, dest_domain: int, *, call: bool, head: int, margin: int = CLIENT_MARGIN_BLOCKS
) -> ClientFloor:
    """The highest minimum in force from block `head` to `head` + `margin`: a deposit signed now lands in one of
    them, so a client refuses by the higher of today's minimum and one scheduled within the margin."""
    schedule = schedule_for(minimums, dest_domain)
    floor = ClientFloor(schedule.at(head).of(call=call))
    for change in schedule.upcoming(head, margin):
        if change.minimum.of(call=call) > floor.planck:
            floor = ClientFloor(change.minimum.of(call=call), change)
    return floor


def check_minimum(
    minimums: Minimums,
    dest_domain: int,
    amount: int,
    *,
    call: bool,
    head: int,
    margin: int = CLIENT_MARGIN_BLOCKS,
    decimals: int = 12,
    symbol: str = "PHA",
) -> None:
    """A client's check before signing: raise `BelowMinimum` when `amount` is below the minimum at `head`, or below
    a higher one scheduled within `margin` blocks (saying so: the deposit could land after the switch)."""
    floor = client_floor(minimums, dest_domain, call=call, head=head, margin=margin)
    if amount >= floor.planck:
        return
    reason = _refusal(dest_domain, amount, floor.planck, call=call, decimals=decimals, symbol=symbol)
    if floor.change is not None:
        ahead = floor.change.from_block - head
        reason += (
            f" (the minimum rises to this from Phala block {floor.change.from_block}, {ahead} block(s) after the "
            f"head {head}: a deposit signed now may land after the change and would be held)"
        )
    raise BelowMinimum(reason)


__all__ = [
    "BELOW_MINIMUM",
    "CLIENT_MARGIN_BLOCKS",
    "MAX_CHANGES",
    "NO_MINIMUM",
    "NO_SCHEDULE",
    "BelowMinimum",
    "ClientFloor",
    "DepositMinimum",
    "Difference",
    "MinimumChange",
    "MinimumSchedule",
    "Minimums",
    "as_schedule",
    "as_schedules",
    "below_minimum",
    "check_minimum",
    "client_floor",
    "first_difference",
    "minimum_for",
    "schedule_for",
]
