"""The sealed-bid auction end to end in process: encrypted bids, close, one reply call with the winner and price;
no losing bid anywhere outside the enclave (outputs, sealed events, records, digests, reasons, logs, reprs)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from bridge.confidential import (
    REPLY_SOURCE_DOMAIN,
    CallStatus,
    ConfidentialCall,
    EthereumCall,
    encode_output,
    reply_items,
    reply_nonce,
)
from bridge.evm import encode_batch
from bridge.telemetry import configure_logging
from enclave_signer.contracts import ExecutionResult
from enclave_signer.contracts.auction import MAX_PRICE, SETTLE_GAS, settle_calldata
from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, Settled, encode_input
from tests.unit.confidential.helpers import Enclave, SourceChain, address, amount_encodings

SELLER = address(0)
BIDDERS = [address(i) for i in range(1, 6)]
AMOUNTS = [7_700_000_000_000_001, 8_800_000_000_000_003, 9_900_000_000_000_007, 6_600_000_000_000_009, 5_500_000_011]
WINNING = 9_900_000_000_000_007


def _run_auction(
    enclave: Enclave, chain: SourceChain, amounts: list[int]
) -> tuple[int, tuple[ConfidentialCall, ExecutionResult]]:
    opened = enclave.run(chain.call(SELLER, encode_input(Open(close_block=200)), block=100))
    auction_id = int.from_bytes(opened.record.call_id, "big")
    for i, (bidder, amount) in enumerate(zip(BIDDERS, amounts, strict=False)):
        r = enclave.run(chain.call(bidder, encode_input(PlaceBid(auction_id, amount)), block=110 + i))
        assert r.status is CallStatus.EXECUTED, r.reason
    close = chain.call(BIDDERS[0], encode_input(Close(auction_id)), block=200)
    result = enclave.run(close)
    assert result.status is CallStatus.EXECUTED, result.reason
    return auction_id, (close, result)


@pytest.fixture
def own_logging() -> Iterator[None]:
    """Other tests configure structlog (levels, renderers): set ours, put theirs back."""
    saved = structlog.get_config()
    structlog.reset_defaults()  # whatever an earlier test left (processors, a warning-level filter)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        yield
    finally:
        structlog.configure(**saved)


def test_auction_end_to_end_reveals_only_winner_and_price(
    enclave: Enclave, chain: SourceChain, own_logging: None
) -> None:
    with structlog.testing.capture_logs() as logs:
        auction_id, (_, result) = _run_auction(enclave, chain, AMOUNTS)
    winner = BIDDERS[AMOUNTS.index(WINNING)]
    (out,) = result.outputs
    assert out == EthereumCall(enclave.registry.get(enclave.contract_id).settlement, SETTLE_GAS,  # type: ignore[union-attr]
                               settle_calldata(auction_id, winner, WINNING))  # fmt: skip
    (item,) = reply_items(5, result.outputs)
    assert item.nonce == reply_nonce(5) and item.data == out.data and item.gas_limit == SETTLE_GAS
    encode_batch(1, REPLY_SOURCE_DOMAIN, [item])  # a valid executeBatch call item
    # every output of the whole auction is that one call
    assert enclave.outputs() == [out]

    losing = [a for a in AMOUNTS if a != WINNING]
    public_bytes = [encode_output(o) for o in enclave.outputs()]
    public_bytes += [r.record_bytes for r in enclave.results] + [r.digest for r in enclave.results]
    public_bytes += [e for r in enclave.results for e in r.record.events]
    public_text = [r.reason for r in enclave.results] + [str(entry) for entry in logs] + [repr(enclave)]
    public_text += [repr(r) for r in enclave.results]
    for needle in amount_encodings(losing):
        assert not any(needle in blob for blob in public_bytes), needle
        assert not any(needle.decode("latin-1") in text for text in public_text), needle
    # the winning bid is public through the output only, never in a record
    assert not any(WINNING.to_bytes(16, "big") in r.record_bytes for r in enclave.results)
    assert logs and all(entry["event"] == "confidential_call" for entry in logs)

    # restart: the state (including every sealed bid) comes back from the log alone
    restored = enclave.restart()
    assert restored == enclave.state
    assert restored.value.auctions[auction_id].settled == Settled(auction_id, winner, WINNING)


def test_no_secret_in_rendered_logs(
    enclave: Enclave,
    chain: SourceChain,
    own_logging: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    caplog.set_level(logging.DEBUG)
    _run_auction(enclave, chain, AMOUNTS)
    rendered = out.getvalue() + caplog.text
    assert rendered.count('"confidential_call"') == len(enclave.results)
    for needle in amount_encodings([a for a in AMOUNTS if a != WINNING]):
        assert needle.decode("latin-1") not in rendered


def test_ties_go_to_the_earliest_bid(enclave: Enclave, chain: SourceChain) -> None:
    auction_id, (_, result) = _run_auction(enclave, chain, [50, 70, 70, 70, 10])
    (out,) = result.outputs
    assert isinstance(out, EthereumCall) and out.data == settle_calldata(auction_id, BIDDERS[1], 70)


def test_no_bids_settles_with_no_winner(enclave: Enclave, chain: SourceChain) -> None:
    auction_id, (_, result) = _run_auction(enclave, chain, [])
    (out,) = result.outputs
    assert isinstance(out, EthereumCall) and out.data == settle_calldata(auction_id, bytes(20), 0)


def test_auction_rules(enclave: Enclave, chain: SourceChain) -> None:
    def code(caller: bytes, op, block: int) -> str:  # type: ignore[no-untyped-def]
        return enclave.run(chain.call(caller, encode_input(op), block=block)).code

    assert code(SELLER, Open(100), 100) == "closed"
    opened = enclave.run(chain.call(SELLER, encode_input(Open(150)), block=100))
    a = int.from_bytes(opened.record.call_id, "big")
    assert code(BIDDERS[0], PlaceBid(a + 1, 5), 101) == "no_auction"
    assert code(BIDDERS[0], Close(a), 149) == "not_closed"
    # the settlement keeps the price in 95 bits (one storage word per outcome): a larger bid could never settle
    assert code(BIDDERS[0], PlaceBid(a, 0), 101) == "bad_amount"
    assert code(BIDDERS[0], PlaceBid(a, MAX_PRICE + 1), 101) == "bad_amount"
    assert code(BIDDERS[0], PlaceBid(a, 2**128 - 1), 101) == "bad_amount"
    assert code(BIDDERS[3], PlaceBid(a, MAX_PRICE), 101) == ""  # the largest bid that fits
    assert code(BIDDERS[0], PlaceBid(a, 5), 101) == ""
    assert code(BIDDERS[0], PlaceBid(a, 6), 102) == "already_bid"
    assert code(BIDDERS[1], PlaceBid(a, 6), 150) == "closed"
    assert code(BIDDERS[1], Close(a), 150) == ""
    assert code(BIDDERS[1], Close(a), 151) == "settled"
    assert code(BIDDERS[2], PlaceBid(a, 6), 152) == "settled"
    refused = [r for r in enclave.results if r.status is CallStatus.REFUSED]
    assert all(not r.outputs and not r.record.events for r in refused)
    assert len(enclave.outputs()) == 1
    assert enclave.restart() == enclave.state
