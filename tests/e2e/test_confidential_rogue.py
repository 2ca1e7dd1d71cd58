"""A committee member whose enclave computes another result, on the real bridge (anvil + Chopsticks + Mosquitto +
5 enclaves 3-of-5 + 5 relayers): it cannot get that result signed (docs/confidential-contracts.md, "A member that
computes another result").

The attacker broke member 1's TEE: its enclave runs modified code whose measurement the committee accepts (it is on
every member's allow-list), it took part in the DKG so it holds a genuine key share, and its sealed-bid auction names
the LOWEST bidder as winner, at its price. The modification exists only in a copy of `enclave_signer/` made here
(one line of the winner choice, replaced by text); the devnet starts member 1's enclave from that copy
(`Devnet(enclave_builds=...)`, a test-only constructor argument).

(a) member 1 does not lead (its relayer is stopped; its enclave still verifies and signs): the auction settles with
    the honest winner and price; member 1 refuses the close's batch (`mismatch`), and its result is nowhere.
(b) member 1 leads: the honest members refuse its proposal (`mismatch`: not the extrinsic of their own results),
    nothing is finalized; after three such refusals in a row every honest member distrusts it, the committee moves
    the lead past it (docs/decisions.md, "A rogue leader costs liveness, not safety"), member 2 leads while the
    rogue's enclave and relayer keep running, and the honest result settles.

The chains are the judges: the Phala records and outputs notes of the bridge account, every Phala extrinsic, every
Ethereum transaction, and `SealedBidAuction.outcome`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import enclave_signer
from bridge.client.confidential import decrypt_answer, prepare_query
from bridge.confidential import (
    OUTPUTS_MAGIC,
    RECORD_MAGIC,
    CallStatus,
    ExecutionRecord,
    decode_record,
)
from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.committee import enclave_build_measurement
from bridge.devnet.processes import ManagedProcess
from bridge.enclave_api import StatusResult
from bridge.evm import ContractCall, decode_batch, parse_execute_batch_calldata
from bridge.ids import message_id
from enclave_signer.contracts import SealedBidAuction
from enclave_signer.contracts.auction import settle_calldata
from enclave_signer.contracts.auction_codec import (
    AuctionResult,
    Close,
    Open,
    PlaceBid,
    ResultOf,
    decode_result_answer,
    encode_input,
    encode_query,
)
from enclave_signer.measurement import current_measurement
from relayers.enclave_client import EnclaveClient
from relayers.substrate import PhalaConfig
from relayers.substrate.chain import ChainReader
from relayers.substrate.replies import ReplyView
from tests.e2e.conftest import ALL_MEMBERS, FaultBridge, wait_for
from tests.e2e.shared.test_confidential import Auctioneer

pytestmark = pytest.mark.devnet

ROGUE = 1
HONEST = (2, 3, 4, 5)
ETH = 1
# Blocks (1 s each) until the close: room for the open and three bids to be mined first on a loaded machine (the
# suite runs two devnets at once); pass_block mines what is left at once, so a wide margin costs no time.
CLOSE_IN = 100
AMOUNTS = {2: 300, 3: 900, 4: 500}  # bidder account -> bid
HONEST_RESULT = (3, 900)  # the highest bid wins, at its own price
ROGUE_RESULT = (2, 300)  # what the modified enclave names: the lowest bid

# The patch: the one line of the auction's close that chooses the winner (enclave_signer/contracts/auction.py,
# `SealedBidAuction._close`). If that line changes shape, the copy fails loudly rather than run honest code.
WINNER_CHOICE = "best = max(auction.bids, key=lambda b: (b.amount, -b.order))"
ROGUE_CHOICE = "best = min(auction.bids, key=lambda b: (b.amount, b.order))"
SIGN_ERRORS = "phala_bridge_stage_errors_total"  # the relayer's counter, stage "sign", kind "refused"
OWN_RESULTS = "not the extrinsic of this member's own results"  # relayers/substrate/rebuild.py's refusal


def make_rogue_build(root: Path) -> str:
    """Copy `enclave_signer/` under `root` with the winner choice replaced; returns the copy's measurement."""
    shutil.copytree(
        Path(enclave_signer.__file__).parent, root / "enclave_signer", ignore=shutil.ignore_patterns("__pycache__")
    )
    auction = root / "enclave_signer" / "contracts" / "auction.py"
    text = auction.read_text()
    assert text.count(WINNER_CHOICE) == 1, (
        f"the auction's winner choice changed shape: {WINNER_CHOICE!r} not found once"
    )
    auction.write_text(text.replace(WINNER_CHOICE, ROGUE_CHOICE))
    return enclave_build_measurement(root)


@dataclass
class RogueBridge:
    auctioneer: Auctioneer
    measurement: str  # the rogue build's

    @property
    def bridge(self) -> FaultBridge:
        return self.auctioneer.bridge


@pytest.fixture(scope="module")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RogueBridge]:
    build = tmp_path_factory.mktemp("rogue-build")
    measurement = make_rogue_build(build)
    devnet = Devnet(
        DevnetSection(), work_dir=tmp_path_factory.mktemp("rogue"), committee=True, enclave_builds={ROGUE: build}
    )
    devnet.start()
    bridge: FaultBridge | None = None
    view: ReplyView | None = None
    try:
        bridge = FaultBridge(devnet)
        conf = bridge.net.confidential
        assert conf is not None and conf.auction_settlement is not None
        view = ReplyView(
            PhalaConfig(
                url=bridge.net.phala.ws_url,
                bridge_account=bridge.bridge_account,
                resource_id=bridge.rid,
                index_start_block=bridge.net.phala.start_block,
            )
        )
        contract = SealedBidAuction(bytes.fromhex(conf.auction_settlement[2:]))
        yield RogueBridge(Auctioneer(bridge, contract, bytes.fromhex(conf.encryption_key[2:]), view), measurement)
    finally:
        if view is not None:
            view.close()
        if bridge is not None:
            bridge.stop_bridge_processes()
            bridge.close()
        devnet.stop()


# ---- helpers ----------------------------------------------------------------------------------------------------


def _address(account: int) -> str:
    return ethereum_dev_accounts(account + 1)[account].address


def _settle(auction_id: int, result: tuple[int, int]) -> bytes:
    account, price = result
    return settle_calldata(auction_id, bytes.fromhex(_address(account)[2:]), price)


def _log_size(proc: ManagedProcess | None) -> int:
    assert proc is not None
    return proc.log_path.stat().st_size


def _logged(proc: ManagedProcess | None, event: str, offset: int = 0) -> list[dict[str, Any]]:
    """The JSON log records of `event` the process wrote past `offset`."""
    assert proc is not None
    with open(proc.log_path, "rb") as f:
        f.seek(offset)
        lines = f.read().splitlines()
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("event") == event:
            out.append(rec)
    return out


def _own_results_refusals(proc: ManagedProcess | None, offset: int) -> list[dict[str, Any]]:
    return [
        r for r in _logged(proc, "refusing_to_sign", offset) if r["code"] == "mismatch" and OWN_RESULTS in r["reason"]
    ]


def _leader_is(b: FaultBridge, leader: int, seen_by: tuple[int, ...]) -> bool:
    return all(b.leader_seen_by(i) == leader for i in seen_by)


def _open_with_bids(a: Auctioneer) -> int:
    """Open an auction, bid AMOUNTS, wait for the records and the close block; returns the auction id."""
    close_block = a.w3.eth.block_number + CLOSE_IN
    opened = a.send(0, encode_input(Open(close_block)))
    auction_id = int.from_bytes(message_id(ETH, opened), "big")
    bids = [a.send(acct, encode_input(PlaceBid(auction_id, amount))) for acct, amount in AMOUNTS.items()]
    records = a.wait_records([opened, *bids])
    for nonce in (opened, *bids):  # every member computes these alike, the rogue included
        assert records[nonce].status is CallStatus.EXECUTED, records[nonce]
    a.pass_block(close_block)
    return auction_id


def _on_phala(a: Auctioneer, close_nonce: int, auction_id: int) -> tuple[list[ExecutionRecord], list[bytes]]:
    """What the bridge account finalized on Phala for the close: its records, and every note (records, outputs
    notes) that holds a settle call for the auction (found by its bytes, whatever the note's layout)."""
    a.phala.session.run_sync(a.phala.sync)
    notes = a.phala.notes()
    records = [decode_record(n) for n in notes if n.startswith(RECORD_MAGIC)]
    settle_head = _settle(auction_id, HONEST_RESULT)[:36]  # selector | auction id: any result for this auction
    ours = [r for r in records if (r.source_domain, r.source_nonce) == (ETH, close_nonce)]
    return ours, [n for n in notes if settle_head in n]


def _assert_only_the_honest_result(a: Auctioneer, auction_id: int, close_nonce: int) -> None:
    """On both chains, from their start: the honest settle call exactly once, the rogue's nowhere."""
    honest, rogue = _settle(auction_id, HONEST_RESULT), _settle(auction_id, ROGUE_RESULT)

    # Phala: one record for the close, executed; one outputs note with a settle call, the honest one; the replies
    # the relayers derive from the notes: the honest call once, the rogue's never
    records, notes = _on_phala(a, close_nonce, auction_id)
    assert len(records) == 1 and records[0].status is CallStatus.EXECUTED, records
    assert len(notes) == 1 and notes[0].startswith(OUTPUTS_MAGIC) and honest in notes[0], notes
    assert all(rogue not in n for n in a.phala.notes())
    replies = [(m.payload, m.recipient) for m in a.phala.replies() if m.payload in (honest, rogue)]
    assert replies == [(honest, a.contract.settlement)], replies
    # the record's sealed events, replayed by an honest enclave: the auction's state names the honest winner
    settled = wait_for("member 2's replayed state settled", lambda: _result_seen_by(a, 2, auction_id), timeout=30)
    assert (settled.winner, settled.price) == (bytes.fromhex(_address(HONEST_RESULT[0])[2:]), HONEST_RESULT[1])

    # every Phala extrinsic since the bridge started (finalized or not, anyone's): the rogue call in none
    def scan_phala(reader: ChainReader) -> int:
        found = 0
        for number in range(a.bridge.net.phala.start_block, reader.finalized_head().block_number + 1):
            block_hash = reader.block_hash(number)
            assert block_hash is not None
            for raw in reader.block(block_hash).extrinsics:
                assert rogue not in raw, f"the rogue result in Phala block {number}"
                found += honest in raw
        return found

    assert a.phala.session.run_sync(scan_phala) == 1

    # Ethereum: every transaction since the fixture; the settle calls executeBatch delivered
    delivered: list[bytes] = []
    for number in range(a.bridge.net.ethereum.start_block, a.w3.eth.block_number + 1):
        block: Any = a.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            data = bytes(tx["input"])
            assert rogue not in data, f"the rogue result in Ethereum tx {tx['hash'].hex()}"
            parsed = parse_execute_batch_calldata(data)
            if parsed is not None:
                calls = [i for i in decode_batch(parsed[0]).items if isinstance(i, ContractCall)]
                delivered += [c.data for c in calls if c.data[:4] == honest[:4]]
    assert delivered.count(honest) == 1 and rogue not in delivered
    assert a.outcome(auction_id) == (True, _address(HONEST_RESULT[0]), HONEST_RESULT[1])


def _result_seen_by(a: Auctioneer, index: int, auction_id: int) -> AuctionResult | None:
    """`ResultOf(auction)` (a public query) answered by member `index`'s enclave from its replay of the Phala log;
    None while the auction is not settled there."""
    prepared = prepare_query(
        a.contract.contract_id, encode_query(ResultOf(auction_id)), ethereum_key=ethereum_dev_accounts(1)[0].private_key
    )

    async def ask() -> bytes:
        async with EnclaveClient(str(a.bridge.member(index).socket)) as client:
            return await client.query(prepared.signed)

    answer = decrypt_answer(prepared, asyncio.run(ask()))
    assert answer.ok, answer
    result = decode_result_answer(answer.body)
    return result if result.status == 2 else None


async def _enclave_status(b: FaultBridge, index: int) -> StatusResult:
    async with EnclaveClient(str(b.member(index).socket)) as client:
        return await client.status()


# ---- the tests --------------------------------------------------------------------------------------------------


def test_the_rogue_build_is_attested_and_holds_a_share(rogue: RogueBridge) -> None:
    """The threat model's premise, checked on the devnet: the modified build is another measurement, every member
    allows it and has verified member 1's quote, and member 1 runs it with the committee's keys (from the DKG)."""
    b = rogue.bridge
    honest = current_measurement().hex()
    assert rogue.measurement != honest
    for m in b.committee.members:
        config = m.config.read_text()
        assert rogue.measurement in config and honest in config
        status = asyncio.run(_enclave_status(b, m.index))
        assert status.measurement.hex() == (rogue.measurement if m.index == ROGUE else honest)
        assert status.has_keys and status.group_keys is not None
        assert set(status.attested) == set(ALL_MEMBERS), status.attested  # member 1 included: its quote passed
    (ready,) = _logged(b.member(ROGUE).enclave, "enclave_ready")  # the process's own word on what it runs
    assert ready["measurement"] == rogue.measurement[:16]


def test_a_rogue_member_that_does_not_lead_is_outvoted(rogue: RogueBridge) -> None:
    a, b = rogue.auctioneer, rogue.bridge
    b.kill_relayer(ROGUE)  # its enclave stays in the committee (verifies, signs) but cannot lead without a relayer
    wait_for("member 2 leading", lambda: _leader_is(b, 2, HONEST), timeout=60)
    rogue_enclave = b.member(ROGUE).enclave
    before = _log_size(rogue_enclave)

    auction_id = _open_with_bids(a)
    # the rogue agreed with everything so far: its code differs only in the winner choice
    assert _own_results_refusals(rogue_enclave, before) == []
    at_close = _log_size(rogue_enclave)
    close_nonce = a.send(0, encode_input(Close(auction_id)))
    assert a.wait_settled(auction_id)[1:] == (_address(HONEST_RESULT[0]), HONEST_RESULT[1])

    # the rogue member refused the close's batch: not the extrinsic of its own (other) results
    refusals = wait_for("the rogue's refusal", lambda: _own_results_refusals(rogue_enclave, at_close), timeout=30)
    assert all(r["leader"] == 2 for r in refusals), refusals
    _assert_only_the_honest_result(a, auction_id, close_nonce)


def test_b_a_rogue_leader_is_refused_and_an_honest_member_takes_over(rogue: RogueBridge) -> None:
    a, b = rogue.auctioneer, rogue.bridge
    member = b.member(ROGUE)  # whole again, whatever ran before: enclave and relayer up
    if member.enclave is None or not member.enclave.alive():
        b.start_enclave(ROGUE)
    if member.relayer is None or not member.relayer.alive():
        b.start_relayer(ROGUE)
    wait_for("member 1 (the rogue) leading", lambda: _leader_is(b, ROGUE, (ROGUE, *HONEST)), timeout=60)

    auction_id = _open_with_bids(a)  # proposed by the rogue leader and signed: the same results as everyone's
    honest_logs = {i: _log_size(b.member(i).enclave) for i in HONEST}
    relayer_log = _log_size(b.member(ROGUE).relayer)
    refused_before = b.metric(ROGUE, SIGN_ERRORS, stage="sign", kind="refused") or 0.0
    close_nonce = a.send(0, encode_input(Close(auction_id)))

    # every honest member refuses the rogue's extrinsic, each from its own execution of the close
    for i in HONEST:
        refusals = wait_for(
            f"member {i} refusing the rogue's close",
            lambda i=i: _own_results_refusals(b.member(i).enclave, honest_logs[i]),  # type: ignore[misc]
            timeout=60,
        )
        assert all(r["leader"] == ROGUE for r in refusals), refusals
    # the rogue leader's relayer is told so, and tries again (a new session) with the same outcome
    wait_for(
        "the rogue leader refused twice",
        lambda: len(_logged(b.member(ROGUE).relayer, "signing_refused", relayer_log)) >= 2,
        timeout=60,
    )
    failed = _logged(b.member(ROGUE).relayer, "signing_refused", relayer_log)[0]
    assert "mismatch" in failed["reason"] and OWN_RESULTS in failed["reason"], failed
    assert (b.metric(ROGUE, SIGN_ERRORS, stage="sign", kind="refused") or 0.0) >= refused_before + 2
    # two refusals in a row are not yet enough to move the lead (three are: CommitteeSection.distrust_strikes);
    # nothing of the close is on either chain while the rogue leads
    assert _leader_is(b, ROGUE, HONEST)
    assert _on_phala(a, close_nonce, auction_id) == ([], [])
    assert a.outcome(auction_id)[0] is False

    # the third refusal: every honest member distrusts member 1 and says so in its heartbeats; four (>= t = 3)
    # distrusting it, every member, the rogue's own enclave included, moves the lead to the next one with a relayer
    for i in HONEST:
        distrusted = wait_for(
            f"member {i} distrusting the rogue",
            lambda i=i: _logged(b.member(i).enclave, "member_distrusted", honest_logs[i]),  # type: ignore[misc]
            timeout=60,
        )
        assert [r["leader"] for r in distrusted] == [ROGUE], distrusted
    wait_for("member 2 leading", lambda: _leader_is(b, 2, (ROGUE, *HONEST)), timeout=60)
    for i in HONEST:
        assert any(
            r["skipped"] == [ROGUE] for r in _logged(b.member(i).enclave, "leader_candidates_changed", honest_logs[i])
        )
    # the rogue was not stopped: its enclave and relayer run, its enclave is up in everyone's view, it only does
    # not lead
    member = b.member(ROGUE)
    assert member.enclave is not None and member.enclave.alive()
    assert member.relayer is not None and member.relayer.alive()
    assert all(ROGUE in asyncio.run(_enclave_status(b, i)).members_up for i in HONEST)
    assert a.wait_settled(auction_id)[1:] == (_address(HONEST_RESULT[0]), HONEST_RESULT[1])
    _assert_only_the_honest_result(a, auction_id, close_nonce)
    # the close was proposed by the rogue only while it led: 3 refused sessions (one more may have been under way
    # when the heartbeats moved the lead), then it stopped proposing for good
    assert 3 <= len(_logged(b.member(ROGUE).relayer, "signing_refused", relayer_log)) <= 4
