"""`phala-bridge transfer --to <parachain>`: everything the committee would refund is refused before funds move."""

from __future__ import annotations

import pytest

from bridge.cli.errors import UsageError
from bridge.cli.transfer_cmd import plan_gateway_transfer
from bridge.errors import InputError
from bridge.gateway import BeneficiaryKind, GatewayConfig, GatewayRoute, decode_destination

ROUTE = GatewayRoute("peer", 1000, frozenset({2}), frozenset({BeneficiaryKind.ACCOUNT_ID32}), 20_000_000, 3_333_333)
CONFIG = GatewayConfig(b"\x44" * 32, {1000: ROUTE}, b"\x01" * 32)
ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


def test_a_valid_transfer_encodes_its_destination() -> None:
    for to in ("peer", "PEER", "para:1000"):
        plan = plan_gateway_transfer(CONFIG, "ethereum", to, "2.5", "0x" + "22" * 32)
        assert plan.amount == 2_500_000_000_000 and plan.source_amount == 25 * 10**17
        dest = decode_destination(plan.recipient)
        assert (dest.para_id, dest.xcm_version, dest.max_fee) == (1000, 2, 20_000_000)
        assert dest.beneficiary == dest.fallback == b"\x22" * 32  # the beneficiary's key is its own fallback
    plan = plan_gateway_transfer(CONFIG, "ethereum", "peer", "1", ALICE, fallback="0x" + "33" * 32, max_fee="0.001")
    dest = decode_destination(plan.recipient)
    assert dest.fallback == b"\x33" * 32 and dest.max_fee == 10**9


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"to": "para:3000"}, "unknown parachain 'para:3000'; the gateway serves: peer (para:1000)"),
        ({"beneficiary": "0x1234"}, "not an SS58 address"),
        ({"beneficiary": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"}, "not an SS58 address"),
        ({"beneficiary": "0x" + "11" * 20}, "peer takes account_id32 beneficiaries"),
        ({"beneficiary": "0x" + "00" * 32}, "zero account"),
        ({"asset": "DOT"}, "unsupported asset 'DOT'"),
        ({"max_fee": "0.00001"}, "fee too low: max fee 10000000 is below what peer needs (20000000)"),
        ({"xcm_version": 3}, "unsupported version: XCM V3 is not spoken on peer"),
        ({"amount": "0.00002"}, "amount too low"),
        ({"amount": "0.0000000000000000001"}, "more than 18 decimal places"),
        ({"source": "phala"}, "starts on Ethereum"),
        ({"fallback": "nope"}, "not an SS58 address"),
    ],
)
def test_bad_input_is_refused_with_the_reason(kw: dict[str, object], says: str) -> None:
    args: dict[str, object] = {"source": "ethereum", "to": "peer", "amount": "1", "beneficiary": "0x" + "22" * 32}
    args.update(kw)
    with pytest.raises((UsageError, InputError)) as info:
        plan_gateway_transfer(
            CONFIG,
            str(args.pop("source")),
            str(args.pop("to")),
            str(args.pop("amount")),
            str(args.pop("beneficiary")),
            **args,  # type: ignore[arg-type]
        )
    assert says in str(info.value)


def test_without_a_gateway_nothing_is_planned() -> None:
    with pytest.raises(UsageError, match="no XCM gateway"):
        plan_gateway_transfer(None, "ethereum", "peer", "1", "0x" + "22" * 32)
    with pytest.raises(UsageError, match="give --fallback"):
        key20 = GatewayConfig(CONFIG.reserve_account, {1000: GatewayRoute(
            "peer", 1000, frozenset({2}), frozenset(BeneficiaryKind), 20_000_000, 3_333_333)})  # fmt: skip
        plan_gateway_transfer(key20, "ethereum", "peer", "1", "0x" + "11" * 20)
