"""A prepared batch stays within `max_batch_bytes` (audit finding: large user calls made untransmittable batches):
cut to its longest fitting prefix, never below one message, the rest deferred; the size bounds the real encoding."""

from __future__ import annotations

import os

from relayers.ethereum.destination import fit_batch_bytes
from relayers.ethereum.rebuild import build_batch, plan_batch
from tests.unit.ethereum.helpers import call_message, facts, inbound


def test_large_calls_are_cut_to_the_byte_limit_and_the_rest_deferred() -> None:
    messages = [call_message(n, data=os.urandom(8192)) for n in range(1, 41)] + [inbound(41)]
    plan = plan_batch(messages, facts())
    assert len(plan.included) == 41 and not plan.deferred
    cut = fit_batch_bytes(plan, 112 * 1024)
    assert 1 <= len(cut.included) < len(plan.included)
    assert cut.included == plan.included[: len(cut.included)]
    assert cut.deferred == frozenset(m.id_hex for m in plan.included[len(cut.included) :])
    batch, _ = build_batch(cut.included, facts())
    assert len(batch) <= 112 * 1024
    one_more, _ = build_batch(plan.included[: len(cut.included) + 1], facts())
    assert len(one_more) > 112 * 1024  # the longest prefix that fits, not a shorter one


def test_a_batch_within_the_limit_is_left_as_planned_and_one_message_always_goes() -> None:
    plan = plan_batch([inbound(n) for n in range(1, 201)], facts())
    assert fit_batch_bytes(plan, 16 * 1024) is plan  # 200 releases: ~9.2 KB
    single = plan_batch([call_message(1, data=os.urandom(20_000))], facts())
    assert fit_batch_bytes(single, 16 * 1024).included == single.included
