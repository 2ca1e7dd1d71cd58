"""The dust rule: a Phala deposit below its destination's minimum is refused, naming the minimum; at it, carried."""

from __future__ import annotations

import pytest

from bridge.errors import AmountError, InputError
from bridge.minimums import (
    BELOW_MINIMUM,
    NO_MINIMUM,
    BelowMinimum,
    DepositMinimum,
    below_minimum,
    check_minimum,
    minimum_for,
)

UNIT = 10**12
MINIMUMS = {1: DepositMinimum(transfer=UNIT, call=5 * UNIT)}


def test_at_the_minimum_is_enough_one_planck_less_is_not() -> None:
    assert below_minimum(MINIMUMS, 1, UNIT, call=False) is None
    reason = below_minimum(MINIMUMS, 1, UNIT - 1, call=False)
    assert reason is not None and reason.startswith(BELOW_MINIMUM + ":")
    assert "at least 1 PHA (1000000000000 planck)" in reason and "0.999999999999 PHA" in reason
    assert "a transfer to domain 1" in reason


def test_calls_have_their_own_minimum() -> None:
    assert below_minimum(MINIMUMS, 1, UNIT, call=False) is None
    reason = below_minimum(MINIMUMS, 1, UNIT, call=True)
    assert reason is not None and "a call to domain 1 must carry at least 5 PHA" in reason
    assert below_minimum(MINIMUMS, 1, 5 * UNIT, call=True) is None


def test_zero_or_no_entry_is_no_minimum() -> None:
    assert below_minimum({}, 1, 1, call=False) is None
    assert below_minimum({1: DepositMinimum(0, 0)}, 1, 1, call=True) is None
    assert below_minimum(MINIMUMS, 7, 1, call=False) is None  # another destination: its own (no) minimum
    assert minimum_for(MINIMUMS, 7) == NO_MINIMUM


def test_check_raises_an_amount_error_with_the_reason() -> None:
    check_minimum(MINIMUMS, 1, UNIT, call=False)
    with pytest.raises(BelowMinimum, match="at least 1 PHA") as info:
        check_minimum(MINIMUMS, 1, 1, call=False)
    assert isinstance(info.value, AmountError) and not info.value.retryable


@pytest.mark.parametrize("value", [-1, 2**128, True, 1.5])
def test_a_minimum_is_a_planck_amount(value: object) -> None:
    with pytest.raises(InputError, match=r"0\.\.2\^128-1 planck"):
        DepositMinimum(transfer=value)  # type: ignore[arg-type]
