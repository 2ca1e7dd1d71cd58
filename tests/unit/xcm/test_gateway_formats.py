"""The gateway's formats: XCM destination, gateway record, and the hand-encoded V2 program (checked against the
runtime's own `VersionedXcm` / `VersionedLocation` types and against `bridge.xcm`'s encoder)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.gateway import (
    BeneficiaryKind,
    GatewayConfig,
    GatewayError,
    GatewayRecord,
    GatewayRoute,
    GatewayStatus,
    Refund,
    RefundReason,
    Route,
    XcmDestination,
    decide,
    decode_destination,
    decode_record,
    encode_destination,
    encode_program_v2,
    encode_record,
    encode_sibling_dest,
    fallback_of,
)
from bridge.xcm import (
    AllAssets,
    Asset,
    BuyExecution,
    ClearOrigin,
    DepositAsset,
    Location,
    Weight,
    WithdrawAsset,
    Xcm,
    XcmVersion,
    versioned_location,
    versioned_xcm,
)
from tests.unit.xcm.metadata import Runtime

FALLBACK = b"\x33" * 32
BENEFICIARY = b"\x22" * 32
ROUTE = GatewayRoute(
    "peer", 1000, frozenset({2}), frozenset({BeneficiaryKind.ACCOUNT_ID32}), min_fee=20_000_000, min_deposit=3_333_333
)
CONFIG = GatewayConfig(reserve_account=b"\x44" * 32, routes={1000: ROUTE})


def dest(**kw: object) -> XcmDestination:
    base: dict[str, object] = {
        "fallback": FALLBACK,
        "xcm_version": 2,
        "para_id": 1000,
        "beneficiary_kind": BeneficiaryKind.ACCOUNT_ID32,
        "beneficiary": BENEFICIARY,
        "max_fee": 10**9,
    }
    base.update(kw)
    return XcmDestination(**base)  # type: ignore[arg-type]


destinations = st.builds(
    lambda kind, para, version, fee, fb, ben: XcmDestination(fb, version, para, kind, ben[: kind.length], fee),
    st.sampled_from(list(BeneficiaryKind)),
    st.integers(0, 2**32 - 1),
    st.integers(1, 255),
    st.integers(1, 2**128 - 1),
    st.binary(min_size=32, max_size=32).filter(lambda b: b != bytes(32)),
    st.binary(min_size=32, max_size=32).filter(lambda b: b[:20] != bytes(20)),
)


@given(destinations)
def test_destination_round_trips_and_is_never_32_bytes(d: XcmDestination) -> None:
    raw = encode_destination(d)
    assert decode_destination(raw) == d
    assert len(raw) in (79, 91)
    assert fallback_of(raw) == d.fallback


@given(destinations, st.data())
def test_any_truncation_or_extension_is_refused(d: XcmDestination, data: st.DataObject) -> None:
    raw = encode_destination(d)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(GatewayError):
        decode_destination(raw[:cut])
    with pytest.raises(GatewayError, match="trailing"):
        decode_destination(raw + b"\x00")


def test_destination_errors_say_what_is_wrong() -> None:
    raw = bytearray(encode_destination(dest()))
    raw[4] = 9
    with pytest.raises(GatewayError, match="unsupported version 9"):
        decode_destination(bytes(raw))
    raw = bytearray(encode_destination(dest()))
    raw[42] = 7  # beneficiary kind
    with pytest.raises(GatewayError, match="unknown beneficiary kind 7"):
        decode_destination(bytes(raw))
    with pytest.raises(GatewayError, match="does not start"):
        decode_destination(b"PHBI" + bytes(90))
    with pytest.raises(GatewayError, match="zero account"):
        dest(beneficiary=bytes(32))
    with pytest.raises(GatewayError, match="max_fee"):
        dest(max_fee=0)
    with pytest.raises(GatewayError, match="20 bytes"):
        dest(beneficiary_kind=BeneficiaryKind.ACCOUNT_KEY20)


def test_a_malformed_tail_is_refunded_to_the_fallback_and_a_bad_head_is_not_decided() -> None:
    raw = encode_destination(dest())
    decision = decide(raw[:50], 10**12, 1, CONFIG)
    assert isinstance(decision, Refund) and decision.reason is RefundReason.MALFORMED
    assert decision.account == FALLBACK and "truncated" in decision.detail
    assert decide(raw[:20], 10**12, 1, CONFIG) is None
    assert decide(raw[:5] + bytes(32) + raw[37:], 10**12, 1, CONFIG) is None  # zero fallback


@pytest.mark.parametrize(
    ("changes", "amount", "reason"),
    [
        ({"para_id": 3000}, 10**12, RefundReason.UNKNOWN_PARACHAIN),
        ({"xcm_version": 3}, 10**12, RefundReason.UNSUPPORTED_VERSION),
        ({"beneficiary_kind": BeneficiaryKind.ACCOUNT_KEY20, "beneficiary": b"\x22" * 20}, 10**12,
         RefundReason.UNSUPPORTED_BENEFICIARY),
        ({"max_fee": 19_999_999}, 10**12, RefundReason.FEE_TOO_LOW),
        ({"max_fee": 20_000_000}, 23_333_332, RefundReason.AMOUNT_TOO_LOW),
    ],
)  # fmt: skip
def test_what_the_route_cannot_carry_is_refunded_with_its_reason(
    changes: dict[str, object], amount: int, reason: RefundReason
) -> None:
    decision = decide(encode_destination(dest(**changes)), amount, 1, CONFIG)
    assert isinstance(decision, Refund) and decision.reason is reason and decision.account == FALLBACK


def test_an_other_asset_is_refunded() -> None:
    config = GatewayConfig(CONFIG.reserve_account, CONFIG.routes, resource_id=b"\x01" * 32)
    decision = decide(encode_destination(dest()), 10**12, 1, config, resource_id=b"\x02" * 32)
    assert isinstance(decision, Refund) and decision.reason is RefundReason.UNSUPPORTED_ASSET


def test_each_message_gets_its_own_program() -> None:
    raw = encode_destination(dest())
    a, b = decide(raw, 23_333_333 + 10**9, 7, CONFIG), decide(raw, 23_333_333 + 10**9, 8, CONFIG)
    assert isinstance(a, Route) and isinstance(b, Route)
    assert a.program != b.program and a.dest_bytes == b.dest_bytes == bytes.fromhex("01010100a10f")


def test_records_round_trip_and_are_strict() -> None:
    mid = b"\x99" * 32
    sent = GatewayRecord(mid, GatewayStatus.SENT, 1000, b"\x01\x02", b"\x03" * 40)
    refunded = GatewayRecord(mid, GatewayStatus.REFUNDED, reason=RefundReason.FEE_TOO_LOW, account=FALLBACK)
    for record in (sent, refunded):
        raw = encode_record(record)
        assert decode_record(raw) == record
        with pytest.raises(GatewayError, match="trailing"):
            decode_record(raw + b"\x00")
        for cut in range(len(raw)):
            with pytest.raises(GatewayError):
                decode_record(raw[:cut])
    bad = bytearray(encode_record(refunded))
    bad[38] = 99
    with pytest.raises(GatewayError, match="unknown refund reason 99"):
        decode_record(bytes(bad))
    with pytest.raises(GatewayError, match="a sent record"):
        GatewayRecord(mid, GatewayStatus.SENT, 1000, b"", b"")


# -- the bytes against the runtime's types and bridge.xcm ------------------------------------------------------------


def _program_value(amount: int, d: XcmDestination, weight: int) -> Xcm:
    beneficiary = (
        Location.account32(d.beneficiary)
        if d.beneficiary_kind is BeneficiaryKind.ACCOUNT_ID32
        else Location.account20(d.beneficiary)
    )
    return Xcm.of(
        WithdrawAsset((Asset(Location.parent(), amount),)),
        ClearOrigin(),
        BuyExecution(Asset(Location.parent(), d.max_fee), Weight(weight)),
        DepositAsset(AllAssets(), beneficiary, max_assets=1),
    )


@pytest.mark.parametrize("kind", list(BeneficiaryKind))
@pytest.mark.parametrize("amount", [23_333_334, 10**12, 2**128 - 1])
def test_the_hand_encoded_program_is_what_the_runtime_encodes(
    load_runtime: Callable[[str], Runtime], kind: BeneficiaryKind, amount: int
) -> None:
    rt = load_runtime("polkadot-1002005")  # metadata V14 with XCM V2 (the devnet peer speaks V2)
    d = dest(beneficiary_kind=kind, beneficiary=b"\x22" * kind.length, max_fee=20_000_000)
    weight = 10**10 + 12345
    ours = encode_program_v2(amount, d, weight)
    value = versioned_xcm(_program_value(amount, d, weight), XcmVersion.V2, rt.names)
    assert rt.encode("xcm::VersionedXcm", value) == ours
    location = versioned_location(Location.sibling(1000), XcmVersion.V2, rt.names)
    assert rt.encode("xcm::VersionedLocation", location) == encode_sibling_dest(1000)


def test_the_program_bytes_match_docs_xcm_md() -> None:
    # docs/xcm.md's worked example, with Unlimited replaced by Limited(10^10) (01 + compact 0x07 00e40b5402).
    d = dest(max_fee=10**12)
    assert encode_program_v2(10**12, d, 10**10).hex() == (
        "0210" "000400010000070010a5d4e8" "0a" "1300010000070010a5d4e8" "0107" "00e40b5402"
        "0d010004000101" "00" + "22" * 32
    )  # fmt: skip
