"""The public API, topics and the ready-made claim program."""

from __future__ import annotations

import importlib

import pytest

import bridge.xcm
from bridge.xcm import (
    AllAssets,
    Asset,
    BuyExecution,
    ClaimAsset,
    ClearOrigin,
    DepositAsset,
    Location,
    SetTopic,
    XcmError,
    claim_trapped,
    pay_from_sovereign,
    topic_for,
    topic_of,
    with_topic,
)


def test_all_is_explicit_and_resolves() -> None:
    for name in bridge.xcm.__all__:
        assert hasattr(bridge.xcm, name), name
    assert sorted(bridge.xcm.__all__, key=str.casefold) == sorted(set(bridge.xcm.__all__), key=str.casefold)


def test_error_tree_docstring_names_every_error() -> None:
    errors = importlib.import_module("bridge.xcm.errors")
    for name, obj in vars(errors).items():
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert name in (errors.__doc__ or ""), name
            assert issubclass(obj, XcmError) and issubclass(obj, ValueError)


def test_topics_are_stable_per_message_and_distinct_between_messages() -> None:
    assert topic_for(b"msg-1") == topic_for(b"msg-1") != topic_for(b"msg-2")
    assert len(topic_for(b"msg-1")) == 32
    with pytest.raises(XcmError):
        topic_for(b"")


def test_with_topic_appends_one_set_topic() -> None:
    program = pay_from_sovereign(Asset(Location.parent(), 10), Location.account32(b"\x01" * 32))
    topic = topic_for(b"msg-1")
    tagged = with_topic(program, topic)
    assert tagged.instructions == (*program.instructions, SetTopic(topic))
    assert topic_of(tagged) == topic and topic_of(program) is None
    with pytest.raises(XcmError, match="already"):
        with_topic(tagged, topic)
    with pytest.raises(XcmError, match="32 bytes"):
        SetTopic(b"short")


def test_claim_program_claims_exactly_the_trapped_assets() -> None:
    trapped = (Asset(Location.parent(), 99),)
    beneficiary = Location.account32(b"\x02" * 32)
    assert claim_trapped(trapped, beneficiary).instructions == (
        ClaimAsset(trapped, Location.here()),
        ClearOrigin(),
        BuyExecution(trapped[0], None),
        DepositAsset(AllAssets(), beneficiary, max_assets=1),
    )
    with pytest.raises(XcmError):
        claim_trapped((), beneficiary)
