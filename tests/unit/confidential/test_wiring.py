"""The pure parts of the confidential-call wiring: outputs notes, the bridge account's extrinsic for executed calls
(notes, payouts, executed ids), the member's rebuild from its own results, replies read back from Phala, and the
policy that keeps a settlement contract for replies only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.client.confidential import encrypt_call
from bridge.confidential import (
    CallStatus,
    ConfidentialError,
    EthereumCall,
    ExecutedCall,
    ExecutionRecord,
    OutputsNote,
    PhalaPayout,
    confidential_call,
    decode_output,
    decode_outputs_note,
    decode_share_envelopes,
    encode_output,
    encode_outputs_note,
    encode_record,
    encode_share_envelopes,
    next_reply_counter,
    phala_batch_parts,
    reply_nonce,
)
from bridge.ids import message_id
from bridge.intents import encode_executed
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.policy import BridgePolicy, PolicyRefusal
from bridge.ports import SigningRequest
from enclave_signer.contracts import DecryptedCall, Registry, SealedBidAuction, call_ciphertext, decrypt_call
from enclave_signer.contracts.auction_codec import Open, encode_input
from enclave_signer.frost.errors import InvalidDecryptionShareError
from enclave_signer.process.confidential import decode_bundle, encode_bundle
from enclave_signer.tdec import Ciphertext
from relayers.substrate.bridge_calls import (
    Transfer,
    encode_batch,
    encode_remark,
    encode_transfer,
    parse_batch,
    parse_deposit,
)
from relayers.substrate.errors import RebuildMismatch
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.payload import signing_payload
from relayers.substrate.rebuild import ChainFacts, build_confidential_call, rebuild_confidential, request_context
from relayers.substrate.replies import is_reply, replies_of
from relayers.substrate.scale import compact
from tests.unit.confidential.helpers import EncryptionCommittee, message
from tests.unit.substrate.helpers import BRIDGE, INDICES, RID, RUNTIME

SETTLE = EthereumCall(b"\x5e" * 20, 150_000, b"\x01\x02\x03")
PAY = PhalaPayout(b"\x07" * 32, 5 * 10**12)
NONCE = 9


def executed(
    nonce: int, outputs: tuple[EthereumCall | PhalaPayout, ...] = (), record: bytes = b"", first_reply: int = 0
) -> ExecutedCall:
    record = record or b"PHCR-record-" + bytes([nonce])
    return ExecutedCall(1, nonce, record, outputs, bytes([nonce]) * 32, first_reply)


def test_outputs_note_round_trips_and_decodes_strictly() -> None:
    note = encode_outputs_note(OutputsNote(1, 77, 300, (SETTLE, PAY)))
    assert decode_outputs_note(note) == OutputsNote(1, 77, 300, (SETTLE, PAY))
    assert decode_output(encode_output(SETTLE)) == SETTLE
    # version 1 (no reply counter) is refused rather than read with the wrong layout
    for bad in (note[:-1], note + b"\x00", b"PHCX" + note[4:], note[:4] + b"\x01" + note[5:]):
        with pytest.raises(ConfidentialError):
            decode_outputs_note(bad)
    with pytest.raises(ConfidentialError):
        OutputsNote(1, 77, 0, ())
    # the counters of its replies must stay below 2^63 (nonce = 2^63 | counter)
    OutputsNote(1, 77, 2**63 - 1, (SETTLE, PAY))
    with pytest.raises(ConfidentialError):
        OutputsNote(1, 77, 2**63 - 1, (SETTLE, SETTLE))


def test_reply_counters_continue_the_finalized_log() -> None:
    assert next_reply_counter([]) == 0
    notes = [
        b"PHCR-record",
        encode_outputs_note(OutputsNote(1, 3, 0, (SETTLE, PAY, SETTLE))),  # counters 0, 1
        encode_outputs_note(OutputsNote(1, 5, 2, (PAY,))),  # no reply: uses no counter
        encode_outputs_note(OutputsNote(1, 6, 2, (SETTLE,))),  # counter 2
    ]
    assert next_reply_counter(notes) == 3
    assert next_reply_counter(notes[:2]) == 2
    items = decode_outputs_note(notes[1]).reply_items()
    assert [i.nonce for i in items] == [reply_nonce(0), reply_nonce(1)]  # payouts skipped, counters consecutive
    with pytest.raises(ConfidentialError):
        next_reply_counter([b"PHCO\x02\x01"])  # a broken note in the log is an error, never skipped


def test_batch_parts_keep_call_order_with_each_calls_outputs_after_its_record() -> None:
    calls = [executed(3, (SETTLE,), first_reply=7), executed(4, first_reply=8), executed(5, (PAY,), first_reply=8)]
    notes, payouts, ids = phala_batch_parts(calls)
    assert notes == [
        calls[0].record,
        encode_outputs_note(OutputsNote(1, 3, 7, (SETTLE,))),
        calls[1].record,
        calls[2].record,
        encode_outputs_note(OutputsNote(1, 5, 8, (PAY,))),
    ]
    assert payouts == [PAY]
    assert ids == [message_id(1, 3), message_id(1, 4), message_id(1, 5)]


def test_notes_come_first_and_parse_back_and_a_deposit_never_carries_notes() -> None:
    call = encode_batch(INDICES, [Transfer(b"\x07" * 32, 9)], b"PHBX...", notes=[b"note-1", b"note-2"])
    batch = parse_batch(INDICES, call)
    assert batch is not None
    assert batch.notes == (b"note-1", b"note-2") and batch.transfers == (Transfer(b"\x07" * 32, 9),)
    assert batch.remark == b"PHBX..."
    assert parse_deposit(INDICES, call) is None
    # A remark after a transfer is not a note (the XCM gateway puts its records there): never read as a call record.
    later = bytes(INDICES.batch_all) + compact(3) + encode_transfer(INDICES, Transfer(b"\x07" * 32, 9))
    later += encode_remark(INDICES, b"note-1") + encode_remark(INDICES, b"PHBX...")
    parsed = parse_batch(INDICES, later)
    assert parsed is not None and parsed.notes == () and parsed.remarks == (b"note-1", b"PHBX...")
    # Only remarks: the last is the executed record, never a note.
    only = bytes(INDICES.batch_all) + compact(2) + encode_remark(INDICES, b"note-1") + encode_remark(INDICES, b"X")
    parsed = parse_batch(INDICES, only)
    assert parsed is not None and parsed.notes == (b"note-1",) and parsed.remark == b"X"


FACTS = ChainFacts(RUNTIME, 2, BRIDGE, RID, 41, frozenset())


def request_for(calls: list[ExecutedCall], nonce: int = 41) -> SigningRequest:
    call = build_confidential_call(RUNTIME, calls)
    return SigningRequest(
        destination=2,
        message_ids=tuple("0x" + c.call_id.hex() for c in calls),
        payload=signing_payload(RUNTIME, call, nonce),
        context=request_context(RUNTIME, BRIDGE, nonce, call, (100, "0x" + "ab" * 32)),
    )


def test_a_member_signs_only_the_extrinsic_its_own_results_make() -> None:
    mine = [executed(3, (SETTLE,)), executed(4)]
    request = request_for(mine)
    notes, _, ids = phala_batch_parts(mine)
    assert bytes.fromhex(str(request.context["call"])[2:]) == encode_batch(
        INDICES, [], encode_executed(ids), notes=notes
    )
    assert rebuild_confidential(request, mine, FACTS) == request.payload
    # another member computed another record, or other outputs: its rebuild differs, it refuses
    other_record = [executed(3, (SETTLE,), record=b"PHCR-other"), executed(4)]
    other_outputs = [executed(3, (replace(SETTLE, data=b"\x09"),)), executed(4)]
    other_counter = [executed(3, (SETTLE,), first_reply=1), executed(4)]  # another reply counter: another note
    for theirs in (other_record, other_outputs, other_counter):
        with pytest.raises(RebuildMismatch):
            rebuild_confidential(request_for(theirs), mine, FACTS)
    with pytest.raises(RebuildMismatch, match="in order"):
        rebuild_confidential(request_for(mine[::-1]), mine, FACTS)
    with pytest.raises(RebuildMismatch, match="finalized nonce"):
        rebuild_confidential(request_for(mine, nonce=42), mine, FACTS)
    done = replace(FACTS, executed=frozenset({"0x" + mine[0].call_id.hex()}))
    with pytest.raises(RebuildMismatch, match="already executed"):
        rebuild_confidential(request, mine, done)


def _record(contract_id: bytes, nonce: int) -> bytes:
    return encode_record(ExecutionRecord(contract_id, 1, nonce, 0, CallStatus.EXECUTED, 1, "", "", 0, ()))


def test_replies_are_the_ethereum_outputs_of_finalized_outputs_notes() -> None:
    auction, other = b"\xac" * 32, b"\x0c" * 32
    notes = (
        _record(other, NONCE - 1),  # another call of the same extrinsic, without outputs
        _record(auction, NONCE),
        encode_outputs_note(OutputsNote(1, NONCE, 41, (PAY, SETTLE))),
    )
    ext = BridgeExtrinsic(12, "0x" + "aa" * 32, 3, "0x" + "bb" * 32, 5, (), None, notes)
    (reply,) = replies_of(ext, BRIDGE)
    assert reply.nonce == reply_nonce(41)  # the note's first reply counter: payouts take none
    assert reply.gas_limit == SETTLE.gas_limit  # what the contract asked for, not the destination's default
    assert (reply.source_domain, reply.dest_domain, reply.kind) == (2, 1, MessageKind.CALL)
    # the sender (the reply's origin on Ethereum) is the contract whose record precedes the note, not the bridge
    assert (reply.recipient, reply.payload, reply.sender) == (SETTLE.target, SETTLE.data, auction)
    assert reply.source.block_number == 12 and reply.source.index == 3
    assert is_reply(reply)
    broken = replace(ext, notes=(b"PHCO\x01\x01",))
    assert replies_of(broken, BRIDGE) == []
    orphan = replace(ext, notes=notes[::2])  # a note whose call has no record here: no origin to vouch for
    assert replies_of(orphan, BRIDGE) == []


def _call(source: int, nonce: int, target: bytes) -> BridgeMessage:
    return BridgeMessage(
        source_domain=source, dest_domain=1, nonce=nonce, kind=MessageKind.CALL, sender=BRIDGE, recipient=target,
        payload=b"\x01", source=SourceRef(block_number=1, block_hash=bytes(32), tx_hash=bytes(32), index=0),
    )  # fmt: skip


def test_a_reply_only_target_takes_replies_and_refuses_users_calls() -> None:
    policy = BridgePolicy.of([], reply_only_targets=frozenset({SETTLE.target}))
    policy.check(_call(2, reply_nonce(0), SETTLE.target))
    with pytest.raises(PolicyRefusal, match="takes only confidential contracts' replies"):
        policy.check(_call(2, 7, SETTLE.target))  # a Phala user's call intent naming the settlement
    policy.check(_call(2, 7, b"\x01" * 20))  # other targets are the destination's allow-list's business
    # only a reply chooses its own call gas (a user's call intent gets the destination's configured gas)
    policy.check(_call(2, reply_nonce(0), SETTLE.target).model_copy(update={"gas_limit": 60_000}))
    with pytest.raises(PolicyRefusal, match="only a confidential contract's reply carries its own call gas"):
        policy.check(_call(2, 7, b"\x01" * 20).model_copy(update={"gas_limit": 60_000}))


def test_forwarded_shares_round_trip_and_only_proven_shares_decrypt() -> None:
    committee = EncryptionCommittee.new()
    contract = SealedBidAuction(b"\x42" * 20)
    registry = Registry([contract])
    caller = b"\x07" * 20
    payload = encrypt_call(committee.public_key, contract.contract_id, caller, encode_input(Open(99)))
    call = confidential_call(message(caller, payload, 5, 10))
    ct = call_ciphertext(call, registry)
    assert isinstance(ct, Ciphertext)
    shares = committee.decryption_shares(ct)
    bundle = decode_bundle(encode_bundle({call.call_id: shares}))
    assert bundle == {call.call_id: shares}
    decrypted = decrypt_call(
        call, bundle[call.call_id], committee.verifying, 3, committee.public_key, registry=registry
    )
    assert isinstance(decrypted, DecryptedCall) and decrypted.input == encode_input(Open(99))
    forged = [replace(shares[0], d=shares[1].d), *shares[1:]]  # a leader swapping a share: its proof fails
    with pytest.raises(InvalidDecryptionShareError):
        decrypt_call(call, forged, committee.verifying, 3, committee.public_key, registry=registry)
    for bad in (b"", b"PHCS", encode_bundle({call.call_id: shares})[:-1], encode_bundle({})[:-1] + b"\x01"):
        with pytest.raises(ValueError):
            decode_bundle(bad)
    boxes = {2: b"box-2", 5: b"box-5"}
    assert decode_share_envelopes(encode_share_envelopes(boxes)) == boxes
    with pytest.raises(ConfidentialError):
        decode_share_envelopes(encode_share_envelopes(boxes) + b"\x00")
