from __future__ import annotations

import pytest

from bridge.committee_record import MAGIC, CommitteeRecordError, decode_record, encode_record
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
