"""The committee record as it is written on the Phala chain (`system.remark_with_event`): who the committee is
(member ids, attested identity keys, quote digests, measurements), its epoch and threshold, and its group keys.

    remark = MAGIC | canonical JSON (sorted keys, no spaces)

Anyone can read the chain and learn which enclaves (by identity key and quote digest) hold the bridge's keys in
each epoch; a new committee after resharing writes a new record.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from bridge.enclave_api import CommitteeRecord
from bridge.errors import InputError, validation_problems

MAGIC = b"phala-bridge/committee-record/v1\n"
MAX_RECORD_BYTES = 64 * 1024
MAX_RECORD_FILE_BYTES = 1024 * 1024  # a ceremony's JSON output, pretty-printed, with its record inside


class CommitteeRecordError(InputError):
    pass


def encode_record(record: CommitteeRecord) -> bytes:
    body = json.dumps(record.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    if len(body) > MAX_RECORD_BYTES:
        raise CommitteeRecordError(f"committee record too large ({len(body)} bytes)")
    return MAGIC + body


def is_committee_record(data: bytes) -> bool:
    return data.startswith(MAGIC)


def decode_record(data: bytes) -> CommitteeRecord:
    if not data.startswith(MAGIC):
        raise CommitteeRecordError("not a committee record (wrong prefix)")
    body = data[len(MAGIC) :]
    if len(body) > MAX_RECORD_BYTES:
        raise CommitteeRecordError(f"committee record too large ({len(body)} bytes)")
    try:
        return CommitteeRecord.model_validate_json(body)
    except ValidationError as exc:
        raise CommitteeRecordError(f"malformed committee record: {exc.error_count()} problem(s)") from None


def parse_record_json(text: str) -> CommitteeRecord:
    """The record an operator publishes, as `committee dkg --json` or `committee reshare --json` print it (the
    ceremony's result, whose `record` is taken) or the bare record. `CommitteeRecordError` says where and what is
    wrong, never a value."""
    if len(text) > MAX_RECORD_FILE_BYTES:
        size = len(text)
        raise CommitteeRecordError(f"too large for a committee record ({size} bytes; at most {MAX_RECORD_FILE_BYTES})")
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CommitteeRecordError(f"not JSON{where}: expected the output of `committee dkg --json`") from None
    if isinstance(data, dict) and isinstance(data.get("record"), dict):
        data = data["record"]
    if not isinstance(data, dict):
        raise CommitteeRecordError("expected a JSON object: the output of `committee dkg --json`, or its `record`")
    try:
        return CommitteeRecord.model_validate(data)
    except ValidationError as exc:
        raise CommitteeRecordError(f"not a valid committee record: {validation_problems(exc)}") from None
