from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.amounts import MAX_AMOUNT, convert_amount, format_units, parse_units
from bridge.errors import AmountError, InputError


def test_pha_eth_to_phala_exact() -> None:
    assert convert_amount(12_500_000_000_000_000_000, 18, 12) == 12_500_000_000_000
    assert convert_amount(12_500_000_000_000, 12, 18) == 12_500_000_000_000_000_000


def test_inexact_is_refused_with_reason() -> None:
    with pytest.raises(AmountError, match=r"multiple of 1000000"):
        convert_amount(10**18 + 1, 18, 12)


@pytest.mark.parametrize("bad", [0, -1, MAX_AMOUNT + 1])
def test_zero_negative_and_huge_are_refused(bad: int) -> None:
    with pytest.raises(AmountError):
        convert_amount(bad, 12, 12)


def test_errors_are_input_errors_and_value_errors() -> None:
    with pytest.raises(ValueError):
        convert_amount(0, 18, 12)
    assert issubclass(AmountError, InputError) and not AmountError.retryable


@given(st.integers(min_value=1, max_value=10**30))
def test_round_trip_12_to_18_and_back(planck: int) -> None:
    assert convert_amount(convert_amount(planck, 12, 18), 18, 12) == planck


@given(st.integers(min_value=1, max_value=10**36))
def test_18_to_12_exact_iff_multiple(wei: int) -> None:
    if wei % 10**6 == 0:
        assert convert_amount(wei, 18, 12) * 10**6 == wei
    else:
        with pytest.raises(AmountError):
            convert_amount(wei, 18, 12)


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [("12.5", 18, 12_500_000_000_000_000_000), ("1", 12, 10**12), ("0.000001", 12, 10**6), ("1_000", 0, 1000)],
)
def test_parse_units(text: str, decimals: int, units: int) -> None:
    assert parse_units(text, decimals) == units
    assert parse_units(format_units(units, decimals), decimals) == units


@pytest.mark.parametrize("text", ["", "abc", "1e400000", "NaN", "inf", "0", "-1", "0.0000000000001"])
def test_parse_units_refuses(text: str) -> None:
    with pytest.raises(AmountError):
        parse_units(text, 12)


def test_format_units() -> None:
    assert format_units(12_500_000_000_000, 12) == "12.5"
    assert format_units(10**18, 18) == "1"
    assert format_units(5, 0) == "5"


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("340282366920938463463.374607431768211455", 18, MAX_AMOUNT),  # 39 significant digits
        ("12345678901234567.123456789012345678", 18, 12345678901234567_123456789012345678),
        ("0.000000000000000001", 18, 1),
        ("99999999999999999999999999999.9", 1, 999999999999999999999999999999),  # 30 nines: past 28 digits
        ("1.5e3", 0, 1500),
    ],
)
def test_parse_units_is_exact_past_a_decimal_contexts_28_digits(text: str, decimals: int, units: int) -> None:
    assert parse_units(text, decimals) == units


@pytest.mark.parametrize(
    "text",
    ["340282366920938463463.374607431768211456", "1" * 40, "\u0661\u0662", "\u00b3", "1.0000000000000000001"],
    ids=["max-plus-one", "40-digits", "arabic-indic-digits", "superscript", "19-places"],
)
def test_parse_units_refuses_rather_than_rounds(text: str) -> None:
    with pytest.raises(AmountError):
        parse_units(text, 18)
