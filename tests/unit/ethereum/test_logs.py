"""Strict decoding of the bridge's logs: good Deposit and MessageSent logs become messages with every field right;
malformed or foreign logs are skipped with a reason (never an exception); event topics match the committed ABI."""

from __future__ import annotations

from eth_abi.abi import encode

from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import Rejection
from relayers.ethereum.contracts import load_artifact
from relayers.ethereum.logs import (
    CALL_EXECUTED_SIGNATURE,
    DEPOSIT_SIGNATURE,
    DEPOSIT_TOPIC,
    KEY_ROTATED_SIGNATURE,
    MESSAGE_SENT_SIGNATURE,
    RELEASE_QUEUED_SIGNATURE,
    Skipped,
    decode_call_executed,
    decode_release_queued,
    decode_source_log,
    destination_amount,
)
from tests.unit.ethereum.helpers import (
    BLOCK_HASH,
    BRIDGE,
    DEPOSITOR,
    RESOURCES,
    RID,
    TX_HASH,
    call_executed_log,
    deposit_log,
    message_sent_log,
    raw_log,
    release_queued_log,
    u,
)


def decode(log: object) -> BridgeMessage | Rejection | Skipped:
    return decode_source_log(log, bridge=BRIDGE, resources=RESOURCES)  # type: ignore[arg-type]


def test_event_signatures_match_the_abi() -> None:
    abi = load_artifact("Bridge").abi
    events = {
        e["name"]: f"{e['name']}({','.join(i['type'] for i in e['inputs'])})" for e in abi if e["type"] == "event"
    }
    for signature in (
        DEPOSIT_SIGNATURE,
        MESSAGE_SENT_SIGNATURE,
        CALL_EXECUTED_SIGNATURE,
        RELEASE_QUEUED_SIGNATURE,
        KEY_ROTATED_SIGNATURE,
    ):
        assert events[signature.split("(")[0]] == signature


def test_deposit_becomes_a_transfer_with_every_field() -> None:
    m = decode(deposit_log(nonce=7, dest=2, recipient=b"\x42" * 32, amount=5 * 10**18 + 3 * 10**6))
    assert isinstance(m, BridgeMessage)
    assert (m.source_domain, m.dest_domain, m.nonce, m.kind) == (1, 2, 7, MessageKind.TRANSFER)
    assert (m.sender, m.recipient, m.resource_id) == (bytes.fromhex(DEPOSITOR[2:]), b"\x42" * 32, RID)
    assert (m.source_amount, m.amount) == (5 * 10**18 + 3 * 10**6, 5 * 10**12 + 3)
    assert m.source == SourceRef(
        block_number=100, block_hash=bytes.fromhex(BLOCK_HASH[2:]), tx_hash=bytes.fromhex(TX_HASH[2:]), index=3
    )


def test_amount_that_does_not_convert_is_zero_for_policy_to_refuse() -> None:
    inexact = decode(deposit_log(amount=10**18 + 1))
    assert isinstance(inexact, BridgeMessage) and (inexact.source_amount, inexact.amount) == (10**18 + 1, 0)
    unknown = decode(deposit_log(resource=b"\x99" * 32))
    assert isinstance(unknown, BridgeMessage) and unknown.amount == 0
    other_domain = decode(deposit_log(dest=3))
    assert isinstance(other_domain, BridgeMessage) and other_domain.amount == 0
    assert destination_amount(RESOURCES, RID, 2 * 10**12, 2, 1) == 2 * 10**18


def test_message_sent_becomes_a_call() -> None:
    m = decode(message_sent_log(nonce=8, payload=b"\x00secret"))
    assert isinstance(m, BridgeMessage)
    assert (m.nonce, m.kind, m.payload, m.sender, m.recipient) == (
        8,
        MessageKind.CALL,
        b"\x00secret",
        bytes.fromhex(DEPOSITOR[2:]),
        b"",
    )


def test_deposit_to_an_impossible_domain_is_a_rejection_not_a_crash() -> None:
    r = decode(deposit_log(dest=300))
    assert isinstance(r, Rejection)
    assert (r.amount, r.sender, r.extrinsic_hash, r.extrinsic_index) == (
        5 * 10**18,
        bytes.fromhex(DEPOSITOR[2:]),
        TX_HASH,
        3,
    )
    assert "dest_domain" in r.reason


def test_malformed_and_foreign_logs_are_skipped_with_a_reason() -> None:
    good = deposit_log()
    cases = {
        "removed": deposit_log(removed=True),
        "not of the bridge": deposit_log(address="0x" + "11" * 20),
        "anonymous": raw_log([], b""),
        "not a source event": raw_log([b"\x01" * 32], b""),
        "topics": raw_log(list(good.topics[:3]), good.data),
        "uint64": raw_log([DEPOSIT_TOPIC, u(2**64), u(2), RID], good.data),
        "uint32": raw_log([DEPOSIT_TOPIC, u(1), u(2**32), RID], good.data),
        "does not decode": raw_log(list(good.topics), good.data[:50]),
        "canonically": raw_log(list(good.topics), good.data + b"\x00" * 32),
        "not an address": raw_log([message_sent_log().topics[0], u(1), u(2), b"\x01" * 32], message_sent_log().data),
    }
    for needle, log in cases.items():
        out = decode(log)
        assert isinstance(out, Skipped), needle
        assert needle in out.reason, (needle, out.reason)


def test_bad_address_in_data_is_skipped() -> None:
    good = deposit_log()
    data = bytearray(good.data)
    data[0] = 1  # an address word with a high byte set
    assert isinstance(decode(raw_log(list(good.topics), bytes(data))), Skipped)


def test_call_executed_and_release_queued() -> None:
    out = decode_call_executed(call_executed_log(5, False, b"\xde\xad"))
    assert out is not None and (out.source_domain, out.nonce, out.success, out.result) == (2, 5, False, b"\xde\xad")
    queued = decode_release_queued(release_queued_log(6, b"\x01\x02"))
    assert queued is not None and (queued.nonce, queued.amount, queued.reason) == (6, 10**23, b"\x01\x02")
    assert decode_call_executed(deposit_log()) is None
    assert decode_release_queued(call_executed_log(5, True, b"")) is None
    broken = call_executed_log(5, True, b"")
    assert decode_call_executed(raw_log(list(broken.topics), encode(["uint256"], [7]))) is None
