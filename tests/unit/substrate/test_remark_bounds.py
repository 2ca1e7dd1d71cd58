"""Audit finding: the bridge account's own confidential extrinsics must parse back. An execution record may carry
MAX_EVENTS sealed events of MAX_EVENT_SIZE bytes (~265 KB), an outputs note MAX_OUTPUTS calls of MAX_CALL_PAYLOAD
bytes (~131 KB), but `parse_batch` refused any remark above 64 KiB: such an extrinsic, signed and final, would read as
"not a bridge call", so the executed index would not see its call ids (executed again: twice) and replies and the
confidential log would miss its notes."""

from __future__ import annotations

import os

from bridge.confidential import (
    MAX_EVENT_SIZE,
    MAX_EVENTS,
    MAX_OUTPUTS,
    CallStatus,
    EthereumCall,
    ExecutedCall,
    ExecutionRecord,
    encode_record,
    phala_batch_parts,
)
from bridge.intents import MAX_CALL_PAYLOAD, encode_executed
from relayers.substrate.bridge_calls import Transfer, encode_batch, parse_batch
from tests.unit.substrate.helpers import INDICES

SEALED_OVERHEAD = 24 + 16  # nonce and tag of a sealed event


def test_the_largest_record_and_outputs_note_the_runtime_allows_parse_back() -> None:
    record = ExecutionRecord(
        contract_id=os.urandom(32),
        source_domain=1,
        source_nonce=7,
        position=0,
        status=CallStatus.EXECUTED,
        key_version=1,
        code="",
        reason="",
        first_seq=0,
        events=tuple(os.urandom(MAX_EVENT_SIZE + SEALED_OVERHEAD) for _ in range(MAX_EVENTS)),
    )
    outputs = tuple(EthereumCall(os.urandom(20), 100_000, os.urandom(MAX_CALL_PAYLOAD)) for _ in range(MAX_OUTPUTS))
    call = ExecutedCall(1, 7, encode_record(record), outputs, os.urandom(32))
    notes, payouts, ids = phala_batch_parts([call])
    assert len(notes[0]) > 64 * 1024 and len(notes[1]) > 64 * 1024
    extrinsic_call = encode_batch(
        INDICES, [Transfer(p.recipient, p.amount) for p in payouts], encode_executed(ids), notes=notes
    )
    parsed = parse_batch(INDICES, extrinsic_call)
    assert parsed is not None, "the bridge's own signed extrinsic does not parse back"
    assert parsed.notes == tuple(notes)
    assert parsed.remark == encode_executed(ids)
