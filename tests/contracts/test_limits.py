"""Rate limits, the delay queue and failing tokens: a release that cannot pay out now is queued, never lost."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.evm import TokenRelease
from relayers.ethereum import errors
from relayers.ethereum.contracts import send
from tests.contracts.conftest import PHA, PHALA, Chain

DAY = 86_400
CAPACITY = 1_000_000 * PHA  # deploy defaults for PHA: 1M per day, releases above 100k delayed a day
THRESHOLD = 100_000 * PHA


def _pha(chain: Chain, nonce: int, amount: int, recipient: str | None = None) -> TokenRelease:
    return TokenRelease(nonce, chain.deployment.pha_token, recipient or chain.accounts[2], amount)


def _claim(chain: Chain, event: dict[str, Any], sender: str | None = None) -> Any:
    fn = chain.bridge.functions.claimRelease(
        event["sourceDomain"], event["nonce"], event["token"], event["recipient"], event["amount"], event["readyAt"]
    )
    return send(chain.w3, fn, sender or chain.accounts[7])


def test_release_over_the_rate_limit_is_queued(chain: Chain) -> None:
    alice = chain.accounts[2]
    before = chain.pha.functions.balanceOf(alice).call()
    items = [_pha(chain, n, 99_000 * PHA) for n in range(11)]  # 1.089M > 1M per day
    receipt = chain.execute(items)
    (queued,) = chain.events(receipt, "ReleaseQueued")
    assert queued["nonce"] == 10 and queued["amount"] == 99_000 * PHA
    assert queued["readyAt"] == chain.now() + DAY
    reason = errors.decode_error(queued["reason"])
    assert isinstance(reason, errors.RateLimited)
    assert reason.values["available"] == CAPACITY - 10 * 99_000 * PHA
    assert "exceeds the rate limit" in str(reason)
    assert chain.pha.functions.balanceOf(alice).call() == before + 10 * 99_000 * PHA
    assert chain.bridge.functions.isNonceUsed(PHALA, 10).call()  # queued counts as executed: no replay
    assert chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call() == 10_000 * PHA


def test_the_limit_refills_over_its_window(chain: Chain) -> None:
    chain.execute([_pha(chain, n, 100_000 * PHA) for n in range(10)])  # the whole capacity
    assert chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call() == 0
    chain.increase_time(DAY // 2)
    available = chain.bridge.functions.availableToRelease(chain.deployment.pha_token).call()
    assert CAPACITY // 2 <= available <= CAPACITY // 2 + CAPACITY // DAY * 5
    receipt = chain.execute([_pha(chain, 10, 400_000 * PHA // 4)])
    assert chain.events(receipt, "ReleaseQueued") == []


def test_large_release_waits_for_the_delay_then_is_claimed(chain: Chain) -> None:
    bob = chain.accounts[3]
    before = chain.pha.functions.balanceOf(bob).call()
    receipt = chain.execute([_pha(chain, 40, 150_000 * PHA, bob)])
    (queued,) = chain.events(receipt, "ReleaseQueued")
    reason = errors.decode_error(queued["reason"])
    assert isinstance(reason, errors.LargeTransferDelayed) and reason.values["threshold"] == THRESHOLD
    assert chain.pha.functions.balanceOf(bob).call() == before

    with pytest.raises(errors.ReleaseNotReady) as info:
        _claim(chain, queued)
    assert info.value.retryable and f"claimable from {queued['readyAt']}" in str(info.value)

    chain.increase_time(DAY)
    claim = _claim(chain, queued)
    assert chain.pha.functions.balanceOf(bob).call() == before + 150_000 * PHA
    assert chain.events(claim, "ReleaseClaimed")[0]["nonce"] == 40

    with pytest.raises(errors.ReleaseNotPending, match="no queued release of nonce 40"):
        _claim(chain, queued)


def test_claim_with_other_arguments_is_refused(chain: Chain) -> None:
    receipt = chain.execute([_pha(chain, 41, 150_000 * PHA)])
    (queued,) = chain.events(receipt, "ReleaseQueued")
    chain.increase_time(DAY)
    for field, value in (("recipient", chain.accounts[8]), ("amount", queued["amount"] + 1), ("readyAt", 0)):
        with pytest.raises(errors.ReleaseNotPending):
            _claim(chain, {**queued, field: value})


def test_admin_cancels_a_queued_release(chain: Chain) -> None:
    receipt = chain.execute([_pha(chain, 42, 150_000 * PHA)])
    (queued,) = chain.events(receipt, "ReleaseQueued")
    with pytest.raises(errors.NotAdmin):
        send(chain.w3, chain.bridge.functions.cancelRelease(PHALA, 42), chain.accounts[5])
    send(chain.w3, chain.bridge.functions.cancelRelease(PHALA, 42), chain.admin)
    chain.increase_time(DAY)
    with pytest.raises(errors.ReleaseNotPending):
        _claim(chain, queued)


def test_paused_token_release_is_queued_and_claimable_once_unpaused(chain: Chain) -> None:
    bob = chain.accounts[3]
    send(chain.w3, chain.wrapped.functions.setPaused(True), chain.admin)
    items = [
        TokenRelease(50, chain.deployment.wrapped_token, bob, 10**12),
        _pha(chain, 51, PHA, bob),  # the rest of the batch still executes
    ]
    pha_before = chain.pha.functions.balanceOf(bob).call()
    receipt = chain.execute(items)
    (queued,) = chain.events(receipt, "ReleaseQueued")
    assert queued["nonce"] == 50 and queued["readyAt"] == chain.now()
    reason = errors.decode_error(queued["reason"])
    assert isinstance(reason, errors.TokenCallReverted)
    assert isinstance(errors.decode_error(bytes(reason.values["reason"])), errors.TokenPaused)  # type: ignore[call-overload]
    assert "refused the release (TokenPaused: the token is paused)" in str(reason)
    assert chain.pha.functions.balanceOf(bob).call() == pha_before + PHA

    with pytest.raises(errors.TokenCallFailed, match="TokenPaused"):
        _claim(chain, queued)
    send(chain.w3, chain.wrapped.functions.setPaused(False), chain.admin)
    _claim(chain, queued)
    assert chain.wrapped.functions.balanceOf(bob).call() == 10**12


def test_claims_wait_while_the_bridge_is_paused(chain: Chain) -> None:
    receipt = chain.execute([_pha(chain, 60, 150_000 * PHA)])
    (queued,) = chain.events(receipt, "ReleaseQueued")
    chain.increase_time(DAY)
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    with pytest.raises(errors.BridgePaused):
        _claim(chain, queued)


def test_limits_of_wrapped_token_are_separate(chain: Chain) -> None:
    chain.execute([_pha(chain, n, 100_000 * PHA) for n in range(10)])  # PHA exhausted
    receipt = chain.execute([TokenRelease(70, chain.deployment.wrapped_token, chain.accounts[2], 5 * 10**12)])
    assert chain.events(receipt, "ReleaseQueued") == []


def test_token_configuration_is_checked(chain: Chain) -> None:
    configure = chain.bridge.functions.configureToken
    token = chain.deployment.pha_token
    with pytest.raises(errors.NotAdmin, match="is not the bridge admin"):
        send(chain.w3, configure(token, 1, 12, DAY, CAPACITY, THRESHOLD, DAY), chain.accounts[4])
    with pytest.raises(errors.InvalidTokenConfig):
        send(chain.w3, configure(token, 1, 12, 0, CAPACITY, THRESHOLD, DAY), chain.admin)
    with pytest.raises(errors.InvalidTokenConfig):
        send(chain.w3, configure(token, 3, 12, DAY, CAPACITY, THRESHOLD, DAY), chain.admin)
    with pytest.raises(errors.NotAContract, match="has no code"):
        send(chain.w3, configure(chain.accounts[4], 1, 12, DAY, CAPACITY, THRESHOLD, DAY), chain.admin)
    with pytest.raises(errors.InvalidTokenConfig):  # a call target must never be a token
        send(chain.w3, configure(chain.deployment.call_recorder, 1, 12, DAY, CAPACITY, THRESHOLD, DAY), chain.admin)
    send(chain.w3, configure(token, 1, 12, DAY, 10 * PHA, 5 * PHA, 60), chain.admin)
    limit = chain.bridge.functions.tokenLimit(token).call()
    assert limit[0] == 1 and limit[5] == 10 * PHA and limit[6] == 5 * PHA and limit[7] == 60


def test_disabled_token_is_unknown(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.configureToken(chain.deployment.pha_token, 0, 0, 1, 0, 0, 0), chain.admin)
    with pytest.raises(errors.UnknownToken):
        chain.execute([_pha(chain, 80, PHA)])


def test_frequent_batches_do_not_lose_refill_to_rounding(chain: Chain) -> None:
    # 100 PHA a day counted in whole PHA: 600 s between batches refills 0.69 of a unit each time
    token = chain.deployment.pha_token
    send(chain.w3, chain.bridge.functions.configureToken(token, 1, 18, DAY, 100 * PHA, 100 * PHA, DAY), chain.admin)
    chain.execute([_pha(chain, 1000, 100 * PHA)])  # empty the bucket
    released = 0
    for step in range(DAY // 600):
        chain.increase_time(600)
        receipt = chain.execute([_pha(chain, 1001 + step, PHA)])
        released += 0 if chain.events(receipt, "ReleaseQueued") else 1
    left = chain.bridge.functions.availableToRelease(token).call() // PHA
    assert released + left >= 99  # a day's refill, less at most a unit of rounding
