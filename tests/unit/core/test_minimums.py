"""The dust rule: a Phala deposit below its destination's minimum is refused, naming the minimum; at it, carried.
The minimum is a schedule over Phala blocks: a deposit is judged by the minimum at its block, a client by the higher
of the minimum at the head and one scheduled within its margin."""

from __future__ import annotations

import pytest

from bridge.errors import AmountError, InputError
from bridge.minimums import (
    BELOW_MINIMUM,
    CLIENT_MARGIN_BLOCKS,
    MAX_CHANGES,
    NO_MINIMUM,
    BelowMinimum,
    ClientFloor,
    DepositMinimum,
    Difference,
    MinimumChange,
    MinimumSchedule,
    below_minimum,
    check_minimum,
    client_floor,
    first_difference,
    minimum_for,
)

UNIT = 10**12
MINIMUMS = {1: DepositMinimum(transfer=UNIT, call=5 * UNIT)}
# 1 PHA (calls 5) from the start, 2 PHA (calls 6) from block 100, 0.5 PHA (calls 1) from block 200.
RAISE = MinimumChange(100, DepositMinimum(2 * UNIT, 6 * UNIT))
LOWER = MinimumChange(200, DepositMinimum(UNIT // 2, UNIT))
SCHEDULE = MinimumSchedule(DepositMinimum(UNIT, 5 * UNIT), (RAISE, LOWER))


def test_at_the_minimum_is_enough_one_planck_less_is_not() -> None:
    assert below_minimum(MINIMUMS, 1, UNIT, call=False, block=1) is None
    reason = below_minimum(MINIMUMS, 1, UNIT - 1, call=False, block=1)
    assert reason is not None and reason.startswith(BELOW_MINIMUM + ":")
    assert "at least 1 PHA (1000000000000 planck)" in reason and "0.999999999999 PHA" in reason
    assert "a transfer to domain 1" in reason


def test_calls_have_their_own_minimum() -> None:
    assert below_minimum(MINIMUMS, 1, UNIT, call=False, block=1) is None
    reason = below_minimum(MINIMUMS, 1, UNIT, call=True, block=1)
    assert reason is not None and "a call to domain 1 must carry at least 5 PHA" in reason
    assert below_minimum(MINIMUMS, 1, 5 * UNIT, call=True, block=1) is None


def test_zero_or_no_entry_is_no_minimum() -> None:
    assert below_minimum({}, 1, 1, call=False, block=1) is None
    assert below_minimum({1: DepositMinimum(0, 0)}, 1, 1, call=True, block=1) is None
    assert below_minimum(MINIMUMS, 7, 1, call=False, block=1) is None  # another destination: its own (no) minimum
    assert minimum_for(MINIMUMS, 7, block=1) == NO_MINIMUM


def test_check_raises_an_amount_error_with_the_reason() -> None:
    check_minimum(MINIMUMS, 1, UNIT, call=False, head=1)
    with pytest.raises(BelowMinimum, match="at least 1 PHA") as info:
        check_minimum(MINIMUMS, 1, 1, call=False, head=1)
    assert isinstance(info.value, AmountError) and not info.value.retryable


@pytest.mark.parametrize("value", [-1, 2**128, True, 1.5])
def test_a_minimum_is_a_planck_amount(value: object) -> None:
    with pytest.raises(InputError, match=r"0\.\.2\^128-1 planck"):
        DepositMinimum(transfer=value)  # type: ignore[arg-type]


# ---- the schedule ----------------------------------------------------------------------------------------------------


def test_a_deposit_is_judged_by_the_minimum_in_force_at_its_block() -> None:
    assert [SCHEDULE.at(b).transfer for b in (0, 1, 99, 100, 101, 199, 200, 10**9)] == [
        UNIT, UNIT, UNIT, 2 * UNIT, 2 * UNIT, 2 * UNIT, UNIT // 2, UNIT // 2
    ]  # fmt: skip
    minimums = {1: SCHEDULE}
    assert below_minimum(minimums, 1, UNIT, call=False, block=99) is None  # before the switch: numbered
    held = below_minimum(minimums, 1, UNIT, call=False, block=100)  # from it: held
    assert held is not None and "must carry at least 2 PHA" in held
    assert below_minimum(minimums, 1, UNIT, call=False, block=200) is None  # lowered again
    assert "at least 6 PHA" in (below_minimum(minimums, 1, 5 * UNIT, call=True, block=150) or "")
    assert minimum_for(minimums, 1, block=150) == RAISE.minimum
    # A plain minimum is a schedule with one entry from the start.
    assert minimum_for(MINIMUMS, 1, block=10**12) == MINIMUMS[1]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ((MinimumChange(100, NO_MINIMUM), MinimumChange(100, NO_MINIMUM)), "strictly increasing from_block: 100"),
        ((MinimumChange(200, NO_MINIMUM), MinimumChange(100, NO_MINIMUM)), "strictly increasing from_block: 100"),
        ((MinimumChange(1, NO_MINIMUM),) * (MAX_CHANGES + 1), "at most 1000 changes"),
    ],
)
def test_a_schedule_is_strictly_increasing_and_bounded(changes: tuple[MinimumChange, ...], error: str) -> None:
    with pytest.raises(InputError, match=error):
        MinimumSchedule(NO_MINIMUM, changes)


@pytest.mark.parametrize("block", [0, -1, 2**64, True])
def test_a_change_starts_at_a_real_block(block: int) -> None:
    with pytest.raises(InputError, match=r"from_block is a block number in 1\.\.2"):
        MinimumChange(block, NO_MINIMUM)


def test_from_start_is_one_form_per_rule() -> None:
    # The value at the start block becomes the initial; changes up to it and changes that change nothing go.
    same = MinimumChange(150, RAISE.minimum)
    noisy = MinimumSchedule(DepositMinimum(7, 7), (MinimumChange(50, DepositMinimum(UNIT, 5 * UNIT)), RAISE, same))
    assert noisy.from_start(60) == MinimumSchedule(DepositMinimum(UNIT, 5 * UNIT), (RAISE,))
    assert SCHEDULE.from_start(150) == MinimumSchedule(RAISE.minimum, (LOWER,))
    assert SCHEDULE.from_start(10**6) == MinimumSchedule(LOWER.minimum)
    assert not SCHEDULE.is_constant and MinimumSchedule(NO_MINIMUM, (MinimumChange(5, NO_MINIMUM),)).is_constant


def test_first_difference_is_the_earliest_block_judged_otherwise() -> None:
    plain = {1: SCHEDULE.initial}
    assert first_difference({1: SCHEDULE}, {1: SCHEDULE}, 0) is None
    assert first_difference({1: SCHEDULE}, plain, 0) == Difference(1, 100)  # the raise: from block 100
    assert first_difference(plain, {1: SCHEDULE}, 120) == Difference(1, 120)  # already differs at the start
    assert (
        first_difference(plain, {1: MinimumSchedule(SCHEDULE.initial, (MinimumChange(9, SCHEDULE.initial),))}, 0)
        is None
    )
    assert first_difference({}, {1: DepositMinimum()}, 0) is None  # a listed 0 is no minimum
    assert first_difference({}, {3: MinimumSchedule(NO_MINIMUM, (MinimumChange(70, MINIMUMS[1]),))}, 0) == (
        Difference(3, 70)
    )
    # Several destinations: the earliest block wins.
    a = {1: SCHEDULE, 3: MinimumSchedule(NO_MINIMUM, (MinimumChange(40, MINIMUMS[1]),))}
    assert first_difference(a, plain, 0) == Difference(3, 40)


# ---- clients: the head and the margin --------------------------------------------------------------------------------


def test_a_client_refuses_by_the_higher_of_the_heads_minimum_and_one_scheduled_within_the_margin() -> None:
    minimums = {1: SCHEDULE}
    # Far from the raise: today's minimum.
    assert client_floor(minimums, 1, call=False, head=100 - CLIENT_MARGIN_BLOCKS - 1) == ClientFloor(UNIT)
    # The raise within the margin: its value, naming it.
    assert client_floor(minimums, 1, call=False, head=100 - CLIENT_MARGIN_BLOCKS) == ClientFloor(2 * UNIT, RAISE)
    assert client_floor(minimums, 1, call=True, head=99, margin=1) == ClientFloor(6 * UNIT, RAISE)
    # A lowering within the margin: still today's (higher) minimum; after it, the lower one.
    assert client_floor(minimums, 1, call=False, head=190) == ClientFloor(2 * UNIT)
    assert client_floor(minimums, 1, call=False, head=200) == ClientFloor(UNIT // 2)
    with pytest.raises(BelowMinimum) as info:
        check_minimum(minimums, 1, UNIT, call=False, head=90)
    text = str(info.value)
    assert text.startswith("below_minimum: a transfer to domain 1 must carry at least 2 PHA")
    assert "rises to this from Phala block 100, 10 block(s) after the head 90" in text and "would be held" in text
    check_minimum(minimums, 1, UNIT, call=False, head=90, margin=9)  # the raise is beyond this margin
    check_minimum(minimums, 1, 2 * UNIT, call=False, head=90)
    with pytest.raises(BelowMinimum, match=r"at least 2 PHA \(2000000000000 planck\), this one carries 1 PHA") as held:
        check_minimum(minimums, 1, UNIT, call=False, head=150)
    assert "rises" not in str(held.value)  # in force already: nothing scheduled to explain
