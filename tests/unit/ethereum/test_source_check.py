"""The source check an enclave runs on an Ethereum-sourced message, over fake receipts and headers (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bridge.messages import BridgeMessage
from relayers.ethereum.errors import VerificationRefused
from relayers.ethereum.logs import decode_source_log
from relayers.ethereum.source_check import mismatched_fields, verify_source
from relayers.ethereum.views import Header, Receipt
from tests.unit.ethereum.helpers import BLOCK_HASH, BRIDGE, RESOURCES, TX_HASH, call_executed_log, deposit_log

LOG = deposit_log()


def _claim() -> BridgeMessage:
    decoded = decode_source_log(LOG, bridge=BRIDGE, resources=RESOURCES)
    assert isinstance(decoded, BridgeMessage)
    return decoded


CLAIM = _claim()
RECEIPT = Receipt(TX_HASH, 1, 100, BLOCK_HASH, 80_000, 10**9, (call_executed_log(1, True, b"", log_index=2), LOG))
HEADER = Header(100, BLOCK_HASH, "0x" + "00" * 32, 0, 1)


def check(message: BridgeMessage = CLAIM, receipt: Receipt | None = RECEIPT, **kw: Any) -> None:
    args: dict[str, Any] = dict(canonical=HEADER, final_block=110)
    args.update(kw)
    verify_source(message, receipt, args["canonical"], args["final_block"], bridge=BRIDGE, resources=RESOURCES)


def refused(message: BridgeMessage = CLAIM, receipt: Receipt | None = RECEIPT, **kw: Any) -> VerificationRefused:
    with pytest.raises(VerificationRefused) as info:
        check(message, receipt, **kw)
    assert info.value.message_id == message.id_hex
    return info.value


def test_the_message_as_on_chain_passes() -> None:
    check()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", CLAIM.amount + 1),
        ("source_amount", CLAIM.source_amount + 10**6),
        ("recipient", b"\x43" * 32),
        ("sender", b"\x01" * 20),
        ("dest_domain", 3),
        ("resource_id", b"\x05" * 32),
        ("payload", b"x"),
        ("kind", "call"),
    ],
)
def test_any_field_that_differs_is_named(field: str, value: object) -> None:
    tampered = CLAIM.model_copy(update={field: value})
    err = refused(tampered)
    assert err.field == field and "differs from the chain" in str(err)


def test_mismatched_fields_lists_source_fields_too() -> None:
    moved = CLAIM.model_copy(update={"source": CLAIM.source.model_copy(update={"index": 9})})
    assert mismatched_fields(moved, CLAIM) == ["source.index"]


def test_chain_facts_that_refuse() -> None:
    assert refused(receipt=None).field == "source.tx_hash"
    assert refused(receipt=replace(RECEIPT, status=0)).field == "source.tx_hash"
    assert refused(receipt=replace(RECEIPT, block_number=101)).field == "source.block_number"
    assert refused(canonical=replace(HEADER, hash="0x" + "99" * 32)).field == "source.block_hash"
    assert refused(canonical=None).field == "source.block_hash"
    assert "not final" in str(refused(final_block=99))
    assert refused(receipt=replace(RECEIPT, logs=RECEIPT.logs[:1])).field == "source.index"
    on_other_log = CLAIM.model_copy(update={"source": CLAIM.source.model_copy(update={"index": 3})})
    other = replace(RECEIPT, logs=(call_executed_log(1, True, b"", log_index=3),))
    assert "not a bridge message" in str(refused(on_other_log, other))
