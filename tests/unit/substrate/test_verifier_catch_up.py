"""A member one finalized block behind the leader waits for its own view to reach the leader's nonce (bounded)
instead of refusing with `mismatch` (a content code that counts as a strike against the leader, distrust.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine

import pytest

from bridge.ports import SigningRequest
from relayers.substrate import RebuildMismatch
from relayers.substrate.rebuild import ChainFacts, rebuild_and_check
from relayers.substrate.verifier import facts_reaching, requested_nonce
from tests.unit.substrate.helpers import inbound
from tests.unit.substrate.test_plan_and_rebuild import FACTS, NONCE, request_for


class _View:
    """This member's view: its nonce moves on by one each `step` reads (its node seeing new finalized blocks)."""

    def __init__(self, nonce: int, step: int | None) -> None:
        self.nonce, self.step, self.reads = nonce, step, 0

    async def fetch(self) -> ChainFacts:
        self.reads += 1
        if self.step is not None and self.reads % self.step == 0:
            self.nonce += 1
        return dataclasses.replace(FACTS, account_nonce=self.nonce)


def _run(coro: Coroutine[object, object, ChainFacts]) -> ChainFacts:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_a_member_one_block_behind_waits_and_then_signs() -> None:
    messages = [inbound(1, 10**12)]
    request = request_for(messages, nonce=NONCE)
    view = _View(NONCE - 1, step=3)  # behind by one; the third read sees the new block
    facts = _run(facts_reaching(view.fetch, requested_nonce(request), wait=5.0, poll=0.01))
    assert facts.account_nonce == NONCE and view.reads == 3
    assert rebuild_and_check(request, messages, facts) == request.payload


def test_a_nonce_still_ahead_after_the_wait_is_refused_as_before() -> None:
    messages = [inbound(1, 10**12)]
    request = request_for(messages, nonce=NONCE + 5)
    view = _View(NONCE, step=None)  # the member's view never gets there: a request for a future nonce
    facts = _run(facts_reaching(view.fetch, requested_nonce(request), wait=0.05, poll=0.01))
    assert facts.account_nonce == NONCE and view.reads >= 2
    with pytest.raises(RebuildMismatch, match="finalized nonce"):
        rebuild_and_check(request, messages, facts)


def test_a_member_ahead_or_level_reads_once_and_a_stale_request_is_refused() -> None:
    messages = [inbound(1, 10**12)]
    stale = request_for(messages, nonce=NONCE - 1)  # the leader's view is behind: its nonce is already used
    view = _View(NONCE, step=None)
    facts = _run(facts_reaching(view.fetch, requested_nonce(stale), wait=5.0, poll=0.01))
    assert view.reads == 1
    with pytest.raises(RebuildMismatch, match="finalized nonce"):
        rebuild_and_check(stale, messages, facts)


@pytest.mark.parametrize("value", [None, "7", True, 1.5])
def test_a_request_without_an_integer_nonce_is_not_waited_for(value: object) -> None:
    request = SigningRequest(
        destination=2,
        message_ids=("0x" + "11" * 32,),
        payload=b"x",
        context={"account_nonce": value},  # type: ignore[dict-item]
    )
    assert requested_nonce(request) is None
    view = _View(NONCE, step=None)
    _run(facts_reaching(view.fetch, None, wait=5.0, poll=0.01))
    assert view.reads == 1
