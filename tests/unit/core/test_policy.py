from __future__ import annotations

import pytest

from bridge.domains import Domain
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.policy import BridgePolicy, PolicyRefusal, Resource

PHA = Resource("PHA", b"\x01" * 32, {Domain.ETHEREUM: 18, Domain.PHALA: 12}, max_per_message=1_000 * 10**18)
POLICY = BridgePolicy.of([PHA])
SRC = SourceRef(block_number=1, block_hash=b"\x00" * 32, tx_hash=b"\x00" * 32, index=0)


def _transfer(**kw: object) -> BridgeMessage:
    base: dict[str, object] = dict(
        source_domain=1,
        dest_domain=2,
        nonce=1,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 20,
        recipient=b"\x22" * 32,
        resource_id=PHA.resource_id,
        source_amount=5 * 10**18,
        amount=5 * 10**12,
        source=SRC,
    )
    base.update(kw)
    return BridgeMessage.model_validate(base)


def test_valid_transfer_passes() -> None:
    POLICY.check(_transfer())
    POLICY.check(_transfer(source_domain=2, dest_domain=1, recipient=b"\x33" * 20, source_amount=7, amount=7 * 10**6))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"resource_id": b"\x09" * 32}, "unknown resource"),
        ({"amount": 5 * 10**12 + 1}, "does not match the source amount"),
        ({"source_amount": 5 * 10**18 + 1}, "does not convert exactly"),
        ({"source_amount": 0, "amount": 0}, "must be positive"),
        ({"recipient": b"\x22" * 20}, "recipient must be 32 bytes"),
        ({"dest_domain": 9}, "unknown domain 9"),
        ({"dest_domain": 1, "recipient": b"\x22" * 20}, "same chain"),
        ({"resource_id": None}, "needs a resource id"),
        ({"source_amount": 2_000 * 10**18, "amount": 2_000 * 10**12}, "per-message limit"),
    ],
)
def test_refusals_carry_their_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(PolicyRefusal, match=reason):
        POLICY.check(_transfer(**change))
