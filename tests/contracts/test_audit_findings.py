"""Audit findings on Bridge.sol, each shown on a live anvil (docs/decisions.md, "Pre-launch audit")."""

from __future__ import annotations

from typing import Any

import pytest
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from bridge.evm import GovernanceAction, TokenRelease, execute_batch_calldata
from relayers.ethereum import errors
from relayers.ethereum.contracts import send
from relayers.ethereum.deploy import deploy_contract
from tests.contracts.conftest import PHA, PHALA, Chain


def test_an_unconsumed_unpause_signature_cannot_lift_a_later_guardian_pause(chain: Chain) -> None:
    # An UNPAUSE signed while the bridge runs (ahead of time, or raced by events): its transaction reverts, and its
    # calldata, the signature included, is now public in that reverted transaction.
    sig = chain.governance_signature(GovernanceAction.UNPAUSE)
    with pytest.raises(errors.NotPaused):
        send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
    # Later an incident: the guardian pulls the emergency brake.
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    assert chain.bridge.functions.paused().call()
    # Anyone replays the old signature: it must not lift the guardian's pause.
    with pytest.raises(errors.InvalidSignature):
        send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[7])
    assert chain.bridge.functions.paused().call()
    with pytest.raises(errors.BridgePaused):
        chain.execute([TokenRelease(1, chain.deployment.pha_token, chain.accounts[2], PHA)])


# ---- Second review (session 12): the limiter's refill, token calls' gas, configuration that disarms a check ----------

_DAY = 86_400
_PHA_PER_DAY = 1_000_000 * PHA  # deploy defaults: 10^12 units of 10^12 wei a day, 11,574,074.07 units a second


def _empty_pha_bucket(chain: Chain) -> int:
    """Release the whole day's PHA (10 x the 100k threshold); returns the block timestamp the bucket was emptied."""
    receipt = chain.execute(
        [TokenRelease(n, chain.deployment.pha_token, chain.accounts[2], 100_000 * PHA) for n in range(10)]
    )
    assert chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call() == 0
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def _rpc(chain: Chain, method: str, *params: Any) -> Any:
    reply = chain.w3.provider.make_request(RPCEndpoint(method), list(params))
    assert "error" not in reply, reply
    return reply.get("result")


def _released(chain: Chain, receipts: list[Any]) -> int:
    """PHA paid out (not queued) by these receipts' batches."""
    events = [e for r in receipts for e in chain.pha.events.Transfer().process_receipt(r, errors=DISCARD)]
    return sum(int(e["args"]["value"]) for e in events if e["args"]["from"] == chain.deployment.bridge)


def test_batches_in_one_block_refill_the_limit_once(chain: Chain) -> None:
    # Rounding lastUpdate down credited the fraction of a second again at every later batch: five batches in one
    # block 12 s after the bucket emptied released ~185 PHA of a 138.9 PHA refill.
    emptied = _empty_pha_bucket(chain)
    _rpc(chain, "evm_setAutomine", False)
    try:
        _rpc(chain, "evm_setNextBlockTimestamp", emptied + 12)
        hashes = []
        for n in range(5):
            batch = chain.encode([TokenRelease(100 + n, chain.deployment.pha_token, chain.accounts[3], 30 * PHA)])
            data = execute_batch_calldata(batch, chain.sign_batch(batch))
            hashes.append(
                chain.w3.eth.send_transaction(
                    {"from": chain.accounts[9], "to": chain.deployment.bridge, "data": HexBytes(data), "gas": 400_000}
                )
            )
        _rpc(chain, "evm_mine")
    finally:
        _rpc(chain, "evm_setAutomine", True)
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    assert {r["status"] for r in receipts} == {1} and len({r["blockNumber"] for r in receipts}) == 1
    left = chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call()
    refill = 12 * _PHA_PER_DAY // _DAY  # 138.888... PHA
    assert _released(chain, receipts) == 4 * 30 * PHA  # the fifth is over what 12 s refill: queued
    assert _released(chain, receipts) + left <= refill
    assert _released(chain, receipts) + left > refill - 10**12  # less than a unit (10^12 wei) lost to rounding


def test_a_batch_a_second_refills_at_the_configured_rate(chain: Chain) -> None:
    # One batch per block, blocks 1 s apart: each refill credits 0.99999999 s of units; rounded down, lastUpdate
    # never moved and every batch credited the seconds since the first again (twice the rate).
    emptied = _empty_pha_bucket(chain)
    receipts = []
    for n in range(12):
        _rpc(chain, "evm_setNextBlockTimestamp", emptied + 1 + n)
        # a fixed limit: an estimate made at the previous block's time (empty bucket: queued) would be too low
        receipts.append(
            chain.execute([TokenRelease(200 + n, chain.deployment.pha_token, chain.accounts[3], PHA)], gas=400_000)
        )
    left = chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call()
    refill = 12 * _PHA_PER_DAY // _DAY
    assert _released(chain, receipts) == 12 * PHA
    assert _released(chain, receipts) + left <= refill
    assert _released(chain, receipts) + left > refill - 12 * 10**12  # less than a unit lost per refill


def _guzzler(chain: Chain) -> str:
    token = deploy_contract(chain.w3, chain.accounts[0], "GasGuzzlingToken")
    send(chain.w3, chain.bridge.functions.configureToken(token, 1, 0, _DAY, 10**15, 10**15, _DAY), chain.admin)
    return token


def test_a_token_that_burns_all_its_gas_is_queued_and_the_batch_goes_on(chain: Chain) -> None:
    # Token calls forwarded all gas left: a token failing by burning it took 63/64 of the batch's gas and every
    # later item (and the batch) with it. Now it gets TOKEN_CALL_GAS (100k) and its release is queued.
    token = _guzzler(chain)
    before = chain.pha.functions.balanceOf(chain.accounts[4]).call()
    items = [
        TokenRelease(300, token, chain.accounts[3], 5),
        TokenRelease(301, chain.deployment.pha_token, chain.accounts[4], PHA),
        TokenRelease(302, token, chain.accounts[3], 6),
    ]
    receipt = chain.execute(items, gas=2_000_000)
    queued = chain.events(receipt, "ReleaseQueued")
    assert [(e["nonce"], e["token"], e["readyAt"]) for e in queued] == [
        (300, token, chain.now()),
        (302, token, chain.now()),
    ]
    assert chain.pha.functions.balanceOf(chain.accounts[4]).call() == before + PHA
    assert all(chain.bridge.functions.isNonceUsed(PHALA, n).call() for n in (300, 301, 302))
    assert receipt["gasUsed"] < 500_000  # two capped calls and the rest, not 63/64 of the limit


def test_a_relayer_cannot_starve_a_token_call(chain: Chain) -> None:
    # A limit that leaves less than TOKEN_CALL_MIN_GAS before the token call reverts the batch (nothing queued).
    with pytest.raises(errors.InsufficientGasForCall) as info:
        chain.execute([TokenRelease(310, chain.deployment.pha_token, chain.accounts[2], PHA)], gas=150_000)
    assert info.value.values == {"nonce": 310, "gasLimit": 141_587}
    assert not chain.bridge.functions.isNonceUsed(PHALA, 310).call()


def test_an_enabled_token_needs_a_delay(chain: Chain) -> None:
    # delay 0: a release over the limit is queued ready at once and claimed in the same block: no limit at all.
    configure = chain.bridge.functions.configureToken
    with pytest.raises(errors.InvalidTokenConfig):
        send(chain.w3, configure(chain.deployment.pha_token, 1, 12, _DAY, _PHA_PER_DAY, 100_000 * PHA, 0), chain.admin)
    send(chain.w3, configure(chain.deployment.pha_token, 1, 12, _DAY, _PHA_PER_DAY, 100_000 * PHA, 1), chain.admin)


def test_a_call_target_must_have_code(chain: Chain) -> None:
    # A call to an address without code succeeds doing nothing: the message spent and reported executed.
    with pytest.raises(errors.NotAContract, match="has no code"):
        send(chain.w3, chain.bridge.functions.setAllowedTarget(chain.accounts[4], True), chain.admin)
    send(chain.w3, chain.bridge.functions.setAllowedTarget(chain.accounts[4], False), chain.admin)  # forbidding is fine
