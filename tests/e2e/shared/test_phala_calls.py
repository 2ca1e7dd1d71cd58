"""Phala -> Ethereum calls on the real bridge: an intent submitted on Phala becomes a committee-signed call item of
`executeBatch`; its outcome (success, or the target's revert reason) is what `phala-bridge status` reports.
Targets: an allow-listed recorder, an allow-listed target that always reverts, a contract not on the allow-list,
the auction's settlement (allow-listed, but it takes only confidential contracts' replies), and targets that read
`Bridge.messageOrigin()`: the calling Phala account, as the committee signed it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from substrateinterface import Keypair
from web3.logs import DISCARD

from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from relayers.ethereum.contracts import contract_at, send
from relayers.ethereum.deploy import deploy_contract
from tests.e2e.conftest import FaultBridge, run_cli, wait_for

pytestmark = pytest.mark.devnet

UNIT_PHA = 10**12


@pytest.fixture(scope="module")
def calls(bridge_devnet: Devnet) -> Iterator[FaultBridge]:
    bridge = FaultBridge(bridge_devnet)
    try:
        yield bridge
    finally:
        bridge.close()


def _deploy(bridge: FaultBridge, name: str, *args: Any, allow: bool) -> Any:
    admin = Account.from_key(ethereum_dev_accounts(1)[0].private_key)
    address = deploy_contract(bridge.w3, admin, name, *args)
    if allow:
        send(bridge.w3, bridge.bridge.functions.setAllowedTarget(address, True), admin)
    return contract_at(bridge.w3, name, address)


def _call(bridge: FaultBridge, target: str, calldata: bytes) -> dict[str, Any]:
    """Submit the intent on Phala and wait for the relayers' final word on it (executed or failed)."""
    dep = bridge.phala.call(Keypair.create_from_uri("//Charlie"), bytes.fromhex(target[2:]), calldata, UNIT_PHA)
    mid = bridge.phala.message_of(dep)
    assert mid is not None, "the call intent was not recognized as a bridge message"

    def settled() -> dict[str, Any] | None:
        rec = bridge.message(1, mid)
        return rec if rec is not None and rec["state"] in ("executed", "failed") else None

    return wait_for(f"the call {mid} to settle", settled, timeout=120)


def _status(bridge: FaultBridge, mid: str) -> str:
    assert bridge.devnet.state is not None and bridge.devnet.state.network_file
    out = run_cli("status", mid, "--network", bridge.devnet.state.network_file, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_call_to_an_allow_listed_target_executes(calls: FaultBridge) -> None:
    recorder = _deploy(calls, "CallRecorder", allow=True)
    data = recorder.functions.record(b"\x42" * 32, b"from phala")._encode_transaction_data()
    rec = _call(calls, recorder.address, bytes.fromhex(data[2:]))
    assert rec["state"] == "executed", rec
    assert recorder.functions.count().call() == 1
    assert recorder.functions.lastCaller().call() == calls.bridge.address
    assert recorder.functions.lastTag().call() == b"\x42" * 32
    assert "state executed" in _status(calls, rec["id"])


def test_a_reverting_target_is_reported_with_its_revert_reason(calls: FaultBridge) -> None:
    reverting = _deploy(calls, "RevertingTarget", allow=True)
    rec = _call(calls, reverting.address, b"\x01\x02")
    assert rec["state"] == "failed", rec
    assert "reverted" in rec["reason"] and "AlwaysReverts" in rec["reason"], rec["reason"]
    assert "AlwaysReverts" in _status(calls, rec["id"])


def test_a_target_not_on_the_allow_list_is_refused(calls: FaultBridge) -> None:
    stranger = _deploy(calls, "CallRecorder", allow=False)
    rec = _call(calls, stranger.address, b"\x01")
    assert rec["state"] == "failed" and "not allow-listed" in rec["reason"], rec
    assert stranger.functions.count().call() == 0
    assert "not allow-listed" in _status(calls, rec["id"])


def test_a_user_cannot_call_the_auction_settlement(calls: FaultBridge) -> None:
    conf = calls.net.confidential
    assert conf is not None and conf.auction_settlement is not None
    settlement = contract_at(calls.w3, "SealedBidAuction", conf.auction_settlement)
    forged_id = 0xF0F0
    data = settlement.functions.settle(forged_id, calls.bridge.address, 1)._encode_transaction_data()
    rec = _call(calls, settlement.address, bytes.fromhex(data[2:]))
    assert rec["state"] == "failed" and "only confidential contracts' replies" in rec["reason"], rec
    assert settlement.functions.outcome(forged_id).call()[0] is False


def test_the_target_reads_the_calling_phala_account_as_its_origin(calls: FaultBridge) -> None:
    charlie = Keypair.create_from_uri("//Charlie").public_key  # `_call` submits as //Charlie
    probe = _deploy(calls, "OriginProbe", calls.bridge.address, allow=True)
    rec = _call(calls, probe.address, bytes.fromhex(probe.functions.probe()._encode_transaction_data()[2:]))
    assert rec["state"] == "executed", rec
    receipt = calls.w3.eth.get_transaction_receipt(rec["dest_tx"])
    (seen,) = probe.events.Seen().process_receipt(receipt, errors=DISCARD)  # the bridge's own logs: not Seen
    assert seen["args"]["has"] is True
    assert (seen["args"]["sourceDomain"], seen["args"]["sender"], seen["args"]["nonce"]) == (2, charlie, rec["nonce"])
    assert rec["sender"] == "0x" + charlie.hex()
    status = _status(calls, rec["id"])
    assert "origin seen by the target" in status and charlie.hex() in status


def test_a_target_owned_by_one_phala_account_refuses_the_others(calls: FaultBridge) -> None:
    charlie = Keypair.create_from_uri("//Charlie").public_key
    dave = Keypair.create_from_uri("//Dave").public_key
    mine = _deploy(calls, "PhalaOwnedRecorder", calls.bridge.address, 2, charlie, allow=True)
    theirs = _deploy(calls, "PhalaOwnedRecorder", calls.bridge.address, 2, dave, allow=True)
    data = bytes.fromhex(mine.functions.record(b"\x42" * 32)._encode_transaction_data()[2:])
    ok = _call(calls, mine.address, data)
    assert ok["state"] == "executed", ok
    assert mine.functions.count().call() == 1 and mine.functions.lastNonce().call() == ok["nonce"]
    refused = _call(calls, theirs.address, data)
    assert refused["state"] == "failed" and "not from the target's owner" in refused["reason"], refused
    assert theirs.functions.count().call() == 0
