"""Audit findings on Bridge.sol, each shown on a live anvil (docs/decisions.md, "Pre-launch audit")."""

from __future__ import annotations

import pytest

from bridge.evm import GovernanceAction, TokenRelease
from relayers.ethereum import errors
from relayers.ethereum.contracts import send
from tests.contracts.conftest import PHA, Chain


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
