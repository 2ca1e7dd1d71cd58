"""Token amounts: integers in a chain's smallest unit, converted between decimals only when exact.

PHA has 18 decimals on Ethereum and 12 on Phala: 1 planck on Phala is 10**6 wei-units on Ethereum, so an Ethereum
amount that is not a multiple of 10**6 cannot arrive intact and is refused before anything moves.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bridge.errors import AmountError

MAX_AMOUNT = 2**128 - 1  # fits both uint256 on Ethereum and u128 balances on Substrate


def convert_amount(amount: int, from_decimals: int, to_decimals: int) -> int:
    """Exact conversion of `amount` between decimal precisions; raises AmountError when it would lose value."""
    check_amount(amount)
    out: int
    if to_decimals >= from_decimals:
        out = amount * 10 ** (to_decimals - from_decimals)
    else:
        factor = 10 ** (from_decimals - to_decimals)
        if amount % factor:
            raise AmountError(
                f"amount {amount} (at {from_decimals} decimals) does not convert exactly to {to_decimals} decimals: "
                f"it must be a multiple of {factor}"
            )
        out = amount // factor
    check_amount(out)
    return out


def check_amount(amount: int) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise AmountError(f"amount must be an integer, got {type(amount).__name__}")
    if amount <= 0:
        raise AmountError(f"amount must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise AmountError(f"amount {amount} exceeds the maximum {MAX_AMOUNT}")
    return amount


def parse_units(text: str, decimals: int) -> int:
    """'12.5' at 18 decimals -> 12500000000000000000. Exact whatever the digits: refuses more fractional digits than
    the token has, never rounds (the arithmetic is on integers, not in a decimal context's 28 digits)."""
    cleaned = text.strip().replace("_", "")
    if not cleaned.isascii():  # Decimal also reads other scripts' digits ('١٢')
        raise AmountError(f"not a number: {text!r}")
    try:
        value = Decimal(cleaned)  # exact: a Decimal from a string keeps every digit
    except InvalidOperation:
        raise AmountError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise AmountError(f"not a finite number: {text!r}")
    if value <= 0:  # comparisons are exact too
        raise AmountError(f"amount must be positive, got {text!r}")
    if value > MAX_AMOUNT:
        raise AmountError(f"amount {text!r} is too large")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if -exponent > decimals:
        raise AmountError(f"{text!r} has more than {decimals} decimal places")
    # value = digits * 10**exponent with 0 <= exponent + decimals, and exponent <= 39 (value <= MAX_AMOUNT)
    return check_amount(int("".join(map(str, digits))) * 10 ** (exponent + decimals))


def format_units(amount: int, decimals: int) -> str:
    """12500000000000000000 at 18 decimals -> '12.5'."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    frac_text = str(frac).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{sign}{whole}" + (f".{frac_text}" if frac_text else "")
