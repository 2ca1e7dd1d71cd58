"""Properties over random call sequences (decryption is covered elsewhere, so calls enter already decrypted):
execute-then-replay gives the same state, a refusal never changes the contract's state, and the settled winner is
the reference model's (highest amount, earliest on ties, first price)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.confidential import CallStatus, ConfidentialCall, EthereumCall, decode_record
from enclave_signer.contracts import (
    DecryptedCall,
    Registry,
    SealedBidAuction,
    StateKeyring,
    execute,
    initial_state,
    replay,
)
from enclave_signer.contracts.auction import settle_calldata
from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, encode_input

CALLERS = [bytes([0xB0 + i]) * 20 for i in range(4)]
KEYRING = StateKeyring(b"\x42" * 32)
AUCTION = SealedBidAuction(b"\x5e" * 20)
REGISTRY = Registry([AUCTION])

steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "bid", "bid", "bid", "bid", "close", "close", "junk"]),
        st.integers(0, 3),  # caller
        st.integers(0, 2),  # which auction (index among those opened)
        st.integers(0, 20),  # amount
        st.integers(0, 3),  # blocks to advance
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_execute_then_replay_and_refusals_change_nothing(plan) -> None:  # type: ignore[no-untyped-def]
    cid = AUCTION.contract_id
    state = initial_state(cid, REGISTRY)
    log: list[bytes] = []
    opened: list[int] = []
    bids: dict[int, list[tuple[int, int, bytes]]] = {}  # auction -> (amount, nonce, bidder)
    block = 100
    for nonce, (kind, who, which, amount, advance) in enumerate([("open", 0, 0, 0, 0), *plan], start=1):
        block += advance
        target = opened[which % len(opened)] if opened else 1
        data = {
            "open": encode_input(Open(block + 5)),
            "bid": encode_input(PlaceBid(target, amount)),
            "close": encode_input(Close(target)),
            "junk": b"\xff" * 72,
        }[kind]
        call = ConfidentialCall(1, nonce, CALLERS[who], block, b"")
        result = execute(cid, state, DecryptedCall(call, cid, data), KEYRING, registry=REGISTRY)
        if result.status is CallStatus.REFUSED:
            assert result.state.value == state.value and result.state.next_seq == state.next_seq
            assert result.outputs == () and result.record.events == ()
        elif kind == "open":
            opened.append(int.from_bytes(call.call_id, "big"))
        elif kind == "bid":
            bids.setdefault(target, []).append((amount, nonce, CALLERS[who]))
        elif kind == "close":
            entries = bids.get(target, [])
            best = max(entries, key=lambda e: (e[0], -e[1])) if entries else (0, 0, bytes(20))
            (out,) = result.outputs
            assert isinstance(out, EthereumCall) and out.data == settle_calldata(target, best[2], best[0])
        state = result.state
        log.append(result.record_bytes)
    assert replay(cid, [decode_record(r) for r in log], KEYRING, registry=REGISTRY) == state
