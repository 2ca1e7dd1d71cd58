"""The confirm decision table over fake receipts: executed, failed calls with decoded reasons, queued releases,
whole-batch reverts (permanent for an item or not), another leader's execution, gone transactions."""

from __future__ import annotations

from eth_abi.abi import encode

from bridge.evm import ContractCall, TokenRelease, encode_batch
from bridge.evm.batch import decode_batch
from bridge.ids import message_id
from relayers.ethereum.errors import (
    AlwaysReverts,
    BridgePaused,
    InvalidSignature,
    NonceAlreadyUsed,
    TargetNotAllowed,
    UnknownToken,
)
from relayers.ethereum.logs import CallOutcome, QueuedRelease
from relayers.ethereum.outcome import Mined, SentBatch, call_failure, decide

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TARGET = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
SENT = SentBatch.of(
    decode_batch(
        encode_batch(
            1,
            2,
            [
                TokenRelease(1, TOKEN, "0x" + "01" * 20, 10**18),
                ContractCall(2, TARGET, 100_000, b"\xde\xad"),
                TokenRelease(3, TOKEN, "0x" + "03" * 20, 10**23),
            ],
        )
    )
)
ID = {n: "0x" + message_id(2, n).hex() for n in range(1, 6)}
ALL_USED = frozenset({(2, 1), (2, 2), (2, 3)})
IDS = [ID[1], ID[2], ID[3]]


def test_sent_batch_names_its_items_by_message_id() -> None:
    assert [i.id for i in SENT.items] == IDS
    assert [i.kind for i in SENT.items] == ["token", "call", "token"]
    assert SENT.pairs == ALL_USED


def test_success_every_nonce_used() -> None:
    result = decide(IDS, SENT, Mined(1), ALL_USED)
    assert result.executed == set(IDS) and not result.failed and not result.pending and not result.dropped


def test_failed_call_is_failed_with_its_decoded_reason_the_rest_executed() -> None:
    revert = AlwaysReverts.selector() + encode(["address", "bytes"], ["0x" + "ee" * 20, b"\xde\xad"])
    calls = {2: CallOutcome(2, 2, TARGET.lower(), False, revert)}
    queued = {3: QueuedRelease(2, 3, TOKEN, "0x" + "03" * 20, 10**23, 1_800_000_000, b"")}
    result = decide(IDS, SENT, Mined(1, calls, queued), ALL_USED)
    assert result.executed == {ID[1], ID[3]}  # a queued release counts as executed
    assert set(result.failed) == {ID[2]} and "AlwaysReverts" in result.failed[ID[2]]


def test_call_failure_reasons() -> None:
    assert "without revert data" in call_failure(CallOutcome(2, 2, TARGET, False, b""))
    assert "0xdeadbeef" in call_failure(CallOutcome(2, 2, TARGET, False, b"\xde\xad\xbe\xef"))


def test_revert_sends_unused_items_back_and_keeps_used_ones_executed() -> None:
    used_by_another = frozenset({(2, 1)})
    for revert in (NonceAlreadyUsed(2, 1), InvalidSignature(), BridgePaused(), None):
        result = decide(IDS, SENT, Mined(0, revert=revert), used_by_another)
        assert result.executed == {ID[1]} and not result.failed and not result.dropped


def test_revert_permanent_for_one_item_fails_only_that_item() -> None:
    result = decide(IDS, SENT, Mined(0, revert=TargetNotAllowed(TARGET)), frozenset())
    assert set(result.failed) == {ID[2]} and "allow-listed" in result.failed[ID[2]] and not result.executed
    result = decide(IDS, SENT, Mined(0, revert=UnknownToken(TOKEN)), frozenset())
    assert set(result.failed) == {ID[1], ID[3]}
    other = decide(IDS, SENT, Mined(0, revert=TargetNotAllowed("0x" + "77" * 20)), frozenset())
    assert not other.failed and not other.executed and not other.dropped


def test_gone_transaction() -> None:
    assert decide(IDS, SENT, None, frozenset()).dropped
    assert decide(IDS, None, None, frozenset()).dropped
    executed_elsewhere = decide(IDS, SENT, None, frozenset({(2, 2), (2, 3)}))
    assert executed_elsewhere.executed == {ID[2], ID[3]} and not executed_elsewhere.dropped


def test_refused_and_early_executed_ids_are_reported() -> None:
    ids = [*IDS, ID[4], ID[5]]
    result = decide(ids, SENT, Mined(1), ALL_USED, refused={ID[4]: "recipient is 32 bytes"}, executed_before={ID[5]})
    assert result.executed == {*IDS, ID[5]} and result.failed == {ID[4]: "recipient is 32 bytes"}
    gone = decide(ids, None, None, frozenset(), refused={ID[4]: "bad"})
    assert not gone.dropped and gone.failed == {ID[4]: "bad"}  # the rest goes back to verified anyway


def test_ids_not_asked_about_are_not_reported() -> None:
    result = decide([ID[1]], SENT, Mined(1), ALL_USED, refused={ID[4]: "x"})
    assert result.executed == {ID[1]} and not result.failed
