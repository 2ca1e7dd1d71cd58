"""Audit finding: a batch of confidential calls must fit the enclave's local API and one committee message.

A call's payload is a user's (`Bridge.sendMessage`: up to 16 KiB) and a batch held up to `max_messages` (100) of them,
all handed to the enclave at once (`confidential_run`, then `sign`), each payload twice its size as hex. ~33 such calls
exceed the committee's envelope (1 MiB), ~65 the local API's line (2 MiB): the request fails, the pipeline forms the
same batch again, and every Ethereum -> Phala message behind them (PHA transfers included) waits for good. For the
price of a few dozen `sendMessage` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence

from bridge.confidential import MAX_MESSAGE_PAYLOAD, CallPayload, ExecutedCall, encode_call_payload
from bridge.enclave_api import MAX_LINE_BYTES, ConfidentialRunParams, SigningRequestModel
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from enclave_signer.committee.envelope import MAX_ENVELOPE_SIZE
from enclave_signer.committee.messages import SignRequest, encode
from relayers.substrate.dispatcher import PhalaDestination
from tests.unit.substrate.helpers import CONFIG


class _Ran(Exception):
    pass


def confidential_call(nonce: int) -> BridgeMessage:
    payload = encode_call_payload(CallPayload(b"\x42" * 32, os.urandom(MAX_MESSAGE_PAYLOAD - 37)))
    return BridgeMessage(
        source_domain=1,
        dest_domain=2,
        nonce=nonce,
        kind=MessageKind.CALL,
        sender=os.urandom(20),
        recipient=b"",
        payload=payload,
        source=SourceRef(block_number=nonce, block_hash=os.urandom(32), tx_hash=os.urandom(32), index=0),
    )


def test_the_calls_handed_to_the_enclave_fit_its_api_and_one_committee_message() -> None:
    handed: list[BridgeMessage] = []

    async def executor(calls: Sequence[BridgeMessage]) -> tuple[Sequence[ExecutedCall], dict[int, bytes]]:
        handed.extend(calls)
        raise _Ran  # what follows needs a chain; the size is decided here

    dest = PhalaDestination(CONFIG, executor=executor)
    batch = [confidential_call(n) for n in range(1, 101)]  # one batch of the default policy (100 messages)
    try:
        with contextlib.suppress(_Ran):
            asyncio.run(dest.prepare(batch))
    finally:
        dest.close()
    assert handed, "no call was handed to the enclave"
    assert [m.nonce for m in handed] == list(range(1, len(handed) + 1))  # a prefix, in source order
    params = ConfidentialRunParams(messages=tuple(handed)).model_dump(mode="json")
    run_line = json.dumps({"id": 1, "method": "confidential_run", "params": params})
    assert len(run_line) < MAX_LINE_BYTES, f"{len(handed)} calls: a {len(run_line)}-byte confidential_run request"
    request = SigningRequestModel(destination=2, message_ids=tuple(m.id_hex for m in handed), payload=b"\x00" * 32)
    body = encode(SignRequest(attempt=0, key="ed25519", request=request, messages=tuple(handed)))
    # the real request also carries the extrinsic and the forwarded shares: keep a quarter of the envelope for them
    assert len(body) <= MAX_ENVELOPE_SIZE * 3 // 4, f"{len(handed)} calls: a {len(body)}-byte sign request"
