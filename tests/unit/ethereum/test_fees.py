"""EIP-1559 fees under caps, replacement bumps of at least 12.5% on both fields, gas headroom."""

from __future__ import annotations

import pytest

from relayers.ethereum.errors import FeeCapExceeded
from relayers.ethereum.fees import (
    FeeCaps,
    Fees,
    access_list_saving,
    always_warm,
    bumped_fees,
    gas_limit,
    initial_fees,
    prune_access_list,
)

GWEI = 10**9
CAPS = FeeCaps(max_fee=100 * GWEI, tip=3 * GWEI, multiplier=2)


def test_initial_fees_follow_the_base_fee_and_the_caps() -> None:
    assert initial_fees(10 * GWEI, 1 * GWEI, CAPS) == Fees(21 * GWEI, 1 * GWEI)
    assert initial_fees(10 * GWEI, 9 * GWEI, CAPS) == Fees(23 * GWEI, 3 * GWEI)  # tip capped
    assert initial_fees(60 * GWEI, 1 * GWEI, CAPS) == Fees(100 * GWEI, 1 * GWEI)  # max fee capped
    assert initial_fees(99 * GWEI, 3 * GWEI, CAPS) == Fees(100 * GWEI, 1 * GWEI)  # tip fits under the cap
    with pytest.raises(FeeCapExceeded):
        initial_fees(100 * GWEI, 1 * GWEI, CAPS)


def test_bump_is_at_least_12_5_percent_on_both_fields() -> None:
    old = Fees(21 * GWEI, 1 * GWEI)
    new = bumped_fees(old, 10 * GWEI, 1 * GWEI, CAPS, 1250)
    assert new is not None
    assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9
    assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9
    assert new == Fees(23_625_000_000, 1_125_000_000)


def test_bump_follows_a_higher_market() -> None:
    new = bumped_fees(Fees(21 * GWEI, 1 * GWEI), 40 * GWEI, 2 * GWEI, CAPS, 1250)
    assert new == Fees(82 * GWEI, 2 * GWEI)


def test_bump_rounds_up_and_handles_a_zero_tip() -> None:
    new = bumped_fees(Fees(7, 0), 1, 0, FeeCaps(100, 10), 1250)
    assert new == Fees(8, 0)  # ceil(7 * 1.125) = 8


def test_no_valid_bump_under_the_caps() -> None:
    assert bumped_fees(Fees(95 * GWEI, 1 * GWEI), 10 * GWEI, 1 * GWEI, CAPS, 1250) is None  # max fee over the cap
    assert bumped_fees(Fees(30 * GWEI, 3 * GWEI), 10 * GWEI, 1 * GWEI, CAPS, 1250) is None  # tip over the cap
    assert bumped_fees(Fees(88 * GWEI, 1 * GWEI), 60 * GWEI, 1 * GWEI, CAPS, 1250) == Fees(100 * GWEI, 1_125_000_000)


def test_gas_limit_headroom() -> None:
    assert gas_limit(100_000, 2_000) == 120_000
    assert gas_limit(100_001, 2_000) == 120_002  # rounded up
    assert gas_limit(50_000, 0) == 50_000


def test_access_list_pricing() -> None:
    sender, bridge, token = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
    warm = always_warm(sender, bridge)
    slots = ["0x" + "00" * 32]
    entries = [
        {"address": token, "storageKeys": slots * 2},  # cold: 100 + 2 * 100
        {"address": bridge, "storageKeys": slots * 3},  # warm: -2,400 + 3 * 100
        {"address": "0x" + "00" * 19 + "01", "storageKeys": []},  # ecrecover: -2,400
        {"address": bridge.upper().replace("0X", "0x"), "storageKeys": slots * 25},  # warm, 25 slots: +100
    ]
    assert access_list_saving(entries, warm) == 300 - 2_100 - 2_400 + 100
    assert prune_access_list(entries, warm) == [entries[0], entries[3]]
