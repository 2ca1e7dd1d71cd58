"""The devnet's XCM origin (the relay stand-in) on the real chains: it sends exactly what a gateway record signed by
the bridge account holds, nothing for the same record signed by anyone else, and never the same program twice."""

from __future__ import annotations

import os

import pytest

from bridge.devnet.state import DevnetState
from bridge.gateway import (
    BeneficiaryKind,
    GatewayRecord,
    GatewayStatus,
    XcmDestination,
    encode_program_v2,
    encode_record,
    encode_sibling_dest,
)
from bridge.intents import encode_executed
from bridge.xcm import xcm_message_hash
from relayers.substrate import SubstrateClient, keypair_from_ed25519_seed, set_free_balance
from relayers.substrate.bridge_calls import BatchCall, Remark, Transfer
from relayers.substrate.chain import ChainReader
from relayers.substrate.xcm_origin import DevnetRelayOrigin
from relayers.substrate.xcm_tracker import SentMessage, XcmTracker

pytestmark = pytest.mark.devnet

UNIT = 10**12


def _record(beneficiary: bytes, amount: int) -> GatewayRecord:
    dest = XcmDestination(os.urandom(32), 2, 1000, BeneficiaryKind.ACCOUNT_ID32, beneficiary, 20_000_000)
    tag = int.from_bytes(os.urandom(3), "big")  # a fresh program per test run
    program = encode_program_v2(amount, dest, 10**10 + tag)
    return GatewayRecord(os.urandom(32), GatewayStatus.SENT, 1000, encode_sibling_dest(1000), program)


def test_only_records_signed_by_the_bridge_account_are_sent_and_never_twice(devnet: DevnetState) -> None:
    phala = SubstrateClient(devnet.phala.ws_url, timeout=30)
    origin_client = SubstrateClient(devnet.phala.ws_url, timeout=30)
    peer = SubstrateClient(devnet.peer.ws_url, timeout=30)
    try:
        bridge = keypair_from_ed25519_seed("0x" + os.urandom(32).hex(), phala.ss58_format)
        impostor = keypair_from_ed25519_seed("0x" + os.urandom(32).hex(), phala.ss58_format)
        for kp in (bridge, impostor):
            set_free_balance(phala, kp.public_key, 100 * UNIT)
        reader = ChainReader(phala)
        start = reader.finalized_head().block_number + 1
        origin = DevnetRelayOrigin(origin_client, bridge.public_key, start_block=start)
        beneficiary = os.urandom(32)
        record = _record(beneficiary, UNIT)
        reserve = os.urandom(32)
        calls: list[BatchCall] = [
            Transfer(reserve, UNIT),
            Remark(encode_record(record)),
            Remark(encode_executed([record.message_id])),
        ]

        # The same record in an extrinsic signed by another account: nothing is sent.
        phala.submit(reader.compose_calls(calls), impostor).raise_for_failure()
        assert origin.poll() == []

        # Signed by the bridge account: sent, once, with the program's own hash, and delivered on the peer.
        peer_from = XcmTracker(peer).finalized_number()
        phala.submit(reader.compose_calls(calls), bridge).raise_for_failure()
        (sent,) = origin.poll()
        assert sent.message_id == record.message_id_hex
        assert sent.message_hash == "0x" + xcm_message_hash(record.program).hex()
        outcome = XcmTracker(peer).wait(SentMessage(xcm_message_hash(record.program)), after_block=peer_from)
        assert outcome.succeeded and 0 < outcome.deposited_to(beneficiary) < UNIT
        assert peer.free_balance(beneficiary) == outcome.deposited_to(beneficiary)
        assert origin.poll() == []

        # A restarted origin re-scans from the same block and finds the program already sent: nothing again.
        again = DevnetRelayOrigin(origin_client, bridge.public_key, start_block=start)
        assert again.poll() == []
        assert peer.free_balance(beneficiary) == outcome.deposited_to(beneficiary)
    finally:
        for c in (phala, origin_client, peer):
            c.close()
