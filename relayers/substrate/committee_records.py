"""Write and read the committee record on the Phala chain (see bridge/committee_record.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from substrateinterface import Keypair

from bridge.addresses import parse_substrate_account
from bridge.committee_record import CommitteeRecordError, decode_record, encode_record, is_committee_record
from bridge.enclave_api import CommitteeRecord
from bridge.errors import AddressError
from relayers.substrate.client import SubstrateClient


@dataclass(frozen=True)
class RecordOnChain:
    block_number: int
    extrinsic_hash: str
    record: CommitteeRecord
    signer: bytes | None = None  # the account that wrote it: anyone can remark, readers trust the operator's only


def write_record(client: SubstrateClient, keypair: Keypair, record: CommitteeRecord) -> RecordOnChain:
    call = client.compose_call("System", "remark_with_event", {"remark": "0x" + encode_record(record).hex()})
    outcome = client.submit(call, keypair).raise_for_failure()
    return RecordOnChain(outcome.block_number, outcome.extrinsic_hash, record, bytes(keypair.public_key))


def read_records(client: SubstrateClient, first_block: int, last_block: int) -> list[RecordOnChain]:
    """Committee records remarked in blocks [first_block, last_block], oldest first; malformed ones are skipped."""
    out: list[RecordOnChain] = []
    iface = client.interface
    for number in range(first_block, last_block + 1):
        block_hash = client.block_hash(number)
        block = iface.get_block(block_hash=block_hash)
        for ext in block["extrinsics"]:
            call = ext.value.get("call", {})
            if call.get("call_module") != "System" or call.get("call_function") != "remark_with_event":
                continue
            raw = call["call_args"][0]["value"]
            data = bytes.fromhex(raw[2:]) if isinstance(raw, str) and raw.startswith("0x") else bytes(raw, "latin-1")
            if not is_committee_record(data):
                continue
            try:
                record = decode_record(data)
            except CommitteeRecordError:
                continue
            out.append(RecordOnChain(number, str(ext.value.get("extrinsic_hash")), record, _signer(ext.value)))
    return out


def _signer(value: dict[str, Any]) -> bytes | None:
    """The signed extrinsic's account id (substrate-interface gives a MultiAddress `Id` as 0x hex or SS58)."""
    address = value.get("address")
    if isinstance(address, dict):  # MultiAddress as a one-key mapping
        address = address.get("Id")
    if not isinstance(address, str):
        return None
    try:
        return parse_substrate_account(address)
    except AddressError:
        return None
