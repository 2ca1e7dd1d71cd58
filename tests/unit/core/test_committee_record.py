from __future__ import annotations

import json

import pytest

from bridge.committee_record import MAGIC, CommitteeRecordError, decode_record, encode_record, parse_record_json
from bridge.enclave_api import CommitteeRecord

RECORD = {
    "committee_id": "devnet",
    "epoch": 1,
    "threshold": 2,
    "members": [
        {"member_id": i, "identity_public_key": "0x" + f"{i:02x}" * 32, "quote_digest": "0x" + "ab" * 32,
         "platform_id": f"node-{i}", "measurement": "0x" + "cd" * 32}
        for i in (1, 2, 3)
    ],
    "group_keys": {"secp256k1": "0x02" + "11" * 32, "ed25519": "0x" + "22" * 32, "encryption": "0x" + "33" * 32},
    "verifying_shares": {},
}  # fmt: skip


def test_round_trip_is_canonical() -> None:
    record = CommitteeRecord.model_validate(RECORD)
    data = encode_record(record)
    assert data.startswith(MAGIC)
    assert decode_record(data) == record
    assert encode_record(decode_record(data)) == data


@pytest.mark.parametrize(
    "bad",
    [b"", b"hello", MAGIC + b"{", MAGIC + b"{}", MAGIC + b'{"committee_id": 5}', MAGIC + b"x" * (70 * 1024)],
)
def test_malformed_records_are_refused(bad: bytes) -> None:
    with pytest.raises(CommitteeRecordError):
        decode_record(bad)


def test_a_ceremony_output_and_a_bare_record_both_parse() -> None:
    record = CommitteeRecord.model_validate(RECORD)
    ceremony = {"record": RECORD, "session_id": "0x" + "77" * 32}  # what `committee dkg --json` prints
    assert parse_record_json(json.dumps(ceremony, indent=2)) == record
    assert parse_record_json(json.dumps(RECORD)) == record


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not JSON (line 1, column 1)"),
        ('{"record": ', "not JSON (line 1, column 12)"),
        ("[1, 2]", "expected a JSON object"),
        ('"devnet"', "expected a JSON object"),
        (json.dumps({**RECORD, "epoch": -1}), "epoch: Input should be greater than or equal to 0"),
        (json.dumps({k: v for k, v in RECORD.items() if k != "group_keys"}), "group_keys: Field required"),
        (json.dumps({**RECORD, "extra": 1}), "extra: Extra inputs are not permitted"),
        (" " * (1024 * 1024 + 1), "too large for a committee record"),
    ],
)
def test_a_bad_record_file_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(CommitteeRecordError) as info:
        parse_record_json(text)
    assert says in str(info.value)


def test_a_bad_value_is_named_never_echoed() -> None:
    secretish = "0x" + "5e" * 31  # one byte short: refused, and not repeated in the error
    bad = {**RECORD, "group_keys": {**RECORD["group_keys"], "ed25519": secretish}}  # type: ignore[dict-item]
    with pytest.raises(CommitteeRecordError) as info:
        parse_record_json(json.dumps(bad))
    assert "group_keys.ed25519" in str(info.value) and "5e5e" not in str(info.value)
