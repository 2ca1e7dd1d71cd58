"""Confidential contracts on the real bridge (anvil + Chopsticks + Mosquitto + 5 enclaves + 5 relayers): the
sealed-bid auction sent encrypted through `Bridge.sendMessage`, threshold-decrypted and run by the enclaves, its
records sealed on Phala by the bridge account, and `settle` delivered on Ethereum by a committee-signed batch."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from bridge.client.confidential import decrypt_answer, encrypt_call, prepare_query, send_call
from bridge.confidential import RECORD_MAGIC, CallStatus, ExecutionRecord, decode_record
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.evm import ContractCall, MessageOrigin, decode_batch, message_origin, parse_execute_batch_calldata
from bridge.ids import message_id
from enclave_signer.contracts import SealedBidAuction, contract_id_for
from enclave_signer.contracts.auction_codec import (
    BidOf,
    Close,
    Open,
    PlaceBid,
    decode_bid_answer,
    encode_input,
    encode_query,
)
from relayers.enclave_client import EnclaveClient
from relayers.ethereum.contracts import contract_at
from relayers.substrate import PhalaConfig
from relayers.substrate.chain import ChainReader
from relayers.substrate.replies import ReplyView
from tests.e2e.conftest import ALL_MEMBERS, FaultBridge, run_cli, wait_for

pytestmark = pytest.mark.devnet

ETH = 1
# bidder account -> bid; account 3 wins at its own price (first price). The amounts fill their 12 low bytes with
# no pattern (and stay under the settlement's 95-bit MAX_PRICE): the plaintext scan looks for their 16- and 32-byte
# encodings, and a small amount's encoding (14 zero bytes, then two) turns up in ordinary SCALE data by chance.
AMOUNTS = {2: 0x4F1D_8A22_93C7_0B5E_61A9_D3F0, 3: 0x7E3B_15C9_A04D_62F8_9B71_C2E5, 4: 0x5C92_E7A1_3F06_B84D_D15A_2E97}
REFUSED_BID = 0x2A6D_F390_81C4_5B1E_E7F2_069D  # the amount of the bids the enclaves must refuse


@dataclass
class Auctioneer:
    bridge: FaultBridge
    contract: SealedBidAuction
    key: bytes  # the committee's encryption key
    phala: ReplyView

    @property
    def w3(self) -> Web3:
        return self.bridge.w3

    def send(self, account: int, data: bytes, *, contract_id: bytes | None = None, payload: bytes | None = None) -> int:
        """Send one encrypted call from anvil account `account`; returns its source nonce."""
        key = ethereum_dev_accounts(account + 1)[account].private_key
        sender = Account.from_key(key)
        if payload is None:
            payload = encrypt_call(self.key, contract_id or self.contract.contract_id, sender.address, data)
        return send_call(self.w3, self.bridge.net.ethereum.bridge, sender, payload).nonce

    def records(self) -> dict[int, ExecutionRecord]:
        """Source nonce -> the record the bridge account appended on Phala (finalized)."""
        self.phala.session.run_sync(self.phala.sync)
        out = {}
        for note in self.phala.notes():
            if note.startswith(RECORD_MAGIC):
                rec = decode_record(note)
                out[rec.source_nonce] = rec
        return out

    def wait_records(self, nonces: list[int], timeout: float = 120.0) -> dict[int, ExecutionRecord]:
        def ready() -> dict[int, ExecutionRecord] | None:
            r = self.records()
            return r if all(n in r for n in nonces) else None

        return wait_for(f"records of calls {nonces} on Phala", ready, timeout=timeout)

    def pass_block(self, block: int) -> None:
        """Take Ethereum 3 blocks past `block` (an auction's close), mining what is missing at once: waiting for
        anvil's 1-s blocks only spent time the tests do not test."""
        missing = block + 3 - self.w3.eth.block_number
        if missing > 0:
            self.bridge.eth_rpc("anvil_mine", hex(missing))
        wait_for(f"Ethereum block {block}", lambda: self.w3.eth.block_number >= block + 3, timeout=120)

    def outcome(self, auction_id: int) -> tuple[bool, str, int]:
        conf = self.bridge.net.confidential
        assert conf is not None and conf.auction_settlement is not None
        settlement = contract_at(self.w3, "SealedBidAuction", conf.auction_settlement)
        settled, winner, price = settlement.functions.outcome(auction_id).call()
        return bool(settled), str(winner), int(price)

    def wait_settled(self, auction_id: int, timeout: float = 120.0) -> tuple[bool, str, int]:
        def settled() -> tuple[bool, str, int] | None:
            o = self.outcome(auction_id)
            return o if o[0] else None

        return wait_for("settle on Ethereum", settled, timeout)


@pytest.fixture(scope="module")
def auctioneer(bridge_devnet: Devnet) -> Iterator[Auctioneer]:
    bridge = FaultBridge(bridge_devnet)
    conf = bridge.net.confidential
    assert conf is not None and conf.auction_settlement is not None
    contract = SealedBidAuction(bytes.fromhex(conf.auction_settlement[2:]))
    cfg = PhalaConfig(
        url=bridge.net.phala.ws_url,
        bridge_account=bridge.bridge_account,
        resource_id=bridge.rid,
        index_start_block=bridge.net.phala.start_block,
    )
    view = ReplyView(cfg)
    try:
        yield Auctioneer(bridge, contract, bytes.fromhex(conf.encryption_key[2:]), view)
    finally:
        view.close()
        bridge.close()


def _address(account: int) -> str:
    return ethereum_dev_accounts(account + 1)[account].address


def test_sealed_bid_auction_end_to_end(auctioneer: Auctioneer) -> None:
    a = auctioneer
    close_block = a.w3.eth.block_number + 100  # 8 calls sent before it, on a loaded machine; pass_block mines the rest
    opened = a.send(0, encode_input(Open(close_block)))
    auction_id = int.from_bytes(message_id(ETH, opened), "big")
    bids = {acct: a.send(acct, encode_input(PlaceBid(auction_id, amount))) for acct, amount in AMOUNTS.items()}

    # refused and recorded, changing nothing: a tampered ciphertext, a call for a contract the enclaves do not run,
    # another sender's ciphertext copied, and the same bid sent again
    good = encrypt_call(a.key, a.contract.contract_id, _address(2), encode_input(PlaceBid(auction_id, REFUSED_BID)))
    tampered = a.send(2, b"", payload=good[:-1] + bytes([good[-1] ^ 1]))
    other = contract_id_for("some-other-contract/v1", b"\x01" * 20)
    unknown = a.send(3, encode_input(PlaceBid(auction_id, REFUSED_BID)), contract_id=other)
    copied = a.send(4, b"", payload=good)  # account 2's bid, sent by account 4
    again = a.send(3, encode_input(PlaceBid(auction_id, REFUSED_BID)))  # account 3 already bid

    records = a.wait_records([opened, *bids.values(), tampered, unknown, copied, again])
    for nonce in (opened, *bids.values()):
        assert records[nonce].status is CallStatus.EXECUTED, records[nonce]
    assert records[tampered].code == "undecryptable"
    assert records[unknown].code == "unknown_contract"
    assert records[copied].code == "undecryptable"
    assert records[again].code == "already_bid"
    for nonce in (tampered, unknown, copied, again):
        assert records[nonce].status is CallStatus.REFUSED and not records[nonce].events

    a.pass_block(close_block)
    closed = a.send(0, encode_input(Close(auction_id)))
    _, winner, price = a.wait_settled(auction_id)
    assert (winner, price) == (_address(3), AMOUNTS[3])
    assert a.records()[closed].status is CallStatus.EXECUTED
    _settle_origin_is_the_auction(a, auction_id)
    _no_plaintext_bids(a, [*AMOUNTS.values(), REFUSED_BID])


def _settle_origin_is_the_auction(a: Auctioneer, auction_id: int) -> None:
    """The executeBatch that delivered `settle` carried the reply with its origin: the auction's contract id, which
    the settlement could read with messageOrigin() during the call."""
    settlement = contract_at(a.w3, "SealedBidAuction", "0x" + a.contract.settlement.hex())
    (log,) = settlement.events.Settled().get_logs(
        from_block=a.bridge.net.ethereum.start_block, argument_filters={"auctionId": auction_id}
    )
    tx = a.w3.eth.get_transaction(log["transactionHash"])
    parsed = parse_execute_batch_calldata(bytes(tx["input"]))
    assert parsed is not None
    batch = decode_batch(parsed[0])
    (item,) = [
        i for i in batch.items if isinstance(i, ContractCall) and bytes.fromhex(i.target[2:]) == a.contract.settlement
    ]
    assert message_origin(batch, item.nonce) == MessageOrigin(2, a.contract.contract_id, item.nonce)


def _no_plaintext_bids(a: Auctioneer, amounts: list[int]) -> None:
    """No bid amount, in any encoding a contract would use, in any anvil transaction input or log, any Phala
    extrinsic or event of the bridge account's, the relayer and enclave logs or the relayers' stores."""
    losing = [x for x in amounts if x != AMOUNTS[3]]
    for block_number in range(a.bridge.net.ethereum.start_block, a.w3.eth.block_number + 1):
        block: Any = a.w3.eth.get_block(block_number, full_transactions=True)
        for tx in block["transactions"]:
            receipt: Any = a.w3.eth.get_transaction_receipt(tx["hash"])
            blobs = [bytes(tx["input"])] + [bytes(log["data"]) for log in receipt["logs"]]
            for blob in blobs:
                # the winning price is published by settle, by design; losing bids never are
                for x in losing:
                    assert x.to_bytes(32, "big") not in blob, f"bid {x} in Ethereum tx {tx['hash'].hex()}"
    losing_needles = [x.to_bytes(n, "big") for x in losing for n in (16, 32)]

    def scan_phala(reader: ChainReader) -> int:
        head = reader.finalized_head().block_number
        for number in range(a.bridge.net.phala.start_block, head + 1):
            block_hash = reader.block_hash(number)
            assert block_hash is not None
            for raw in reader.block(block_hash).extrinsics:
                for needle in losing_needles:
                    assert needle not in raw, f"a losing bid in Phala block {number}"
            events = repr(reader.events(block_hash))
            for needle in losing_needles:
                assert needle.hex() not in events
        return head

    assert a.phala.session.run_sync(scan_phala) > a.bridge.net.phala.start_block
    committee = a.bridge.committee
    for m in committee.members:
        for proc in (m.enclave, m.relayer):
            assert proc is not None
            text = proc.log_path.read_text(errors="replace")
            for x in losing:
                assert f"{x:064x}" not in text and f'"amount": {x}' not in text
        db = Path(str(m.config).replace(".toml", ".db"))
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            dump = "\n".join(conn.iterdump()).encode()
        finally:
            conn.close()
        for x in losing:
            assert x.to_bytes(32, "big").hex().encode() not in dump
            assert x.to_bytes(16, "big").hex().encode() not in dump


def test_all_enclaves_restarted_rebuild_state_from_phala(auctioneer: Auctioneer) -> None:
    a = auctioneer
    close_block = a.w3.eth.block_number + 100  # the restart of five enclaves must fit before it
    opened = a.send(0, encode_input(Open(close_block)))
    auction_id = int.from_bytes(message_id(ETH, opened), "big")
    first = a.send(2, encode_input(PlaceBid(auction_id, 700)))
    a.wait_records([opened, first])

    for index in ALL_MEMBERS:  # every enclave at once: nothing in memory survives
        a.bridge.kill_enclave(index)
    for index in ALL_MEMBERS:
        a.bridge.start_enclave(index)
    wait_for("the committee whole again", a.bridge.members_whole, timeout=90)

    # the state comes back from the Phala records only
    _auction_continues(a, auction_id, close_block)
    # the enclaves' Ethereum scans resumed from their sealed checkpoints (at least the t that signed ran one)
    resumed = [i for i in ALL_MEMBERS if a.bridge.logged(i, "enclave", "engine_scan_resumed")]
    assert len(resumed) >= 3, resumed
    assert not any(a.bridge.logged(i, "enclave", "engine_scan_checkpoint_fallback") for i in ALL_MEMBERS)


def _auction_continues(a: Auctioneer, auction_id: int, close_block: int) -> None:
    """After a restart of the enclaves, with account 2's bid of 700 taken before it: account 2 already bid (refused),
    account 4 outbids it, and the close settles 750 to account 4."""
    again = a.send(2, encode_input(PlaceBid(auction_id, 800)))
    second = a.send(4, encode_input(PlaceBid(auction_id, 750)))
    records = a.wait_records([again, second])
    assert records[again].code == "already_bid"
    assert records[second].status is CallStatus.EXECUTED
    a.pass_block(close_block)
    a.send(0, encode_input(Close(auction_id)))
    _, winner, price = a.wait_settled(auction_id)
    assert (winner, price) == (_address(4), 750)


def test_enclaves_restarted_resume_from_their_sealed_state_snapshots(auctioneer: Auctioneer) -> None:
    """A clean stop seals each engine's states (`confidential_state_saved`); on restart an enclave resumes from its
    snapshot (`confidential_state_resumed`: the position, nothing replayed) and answers as before; one whose
    snapshot was tampered with falls back to a full replay (logged) and answers the same; the auction continues and
    settles correctly."""
    a = auctioneer
    close_block = a.w3.eth.block_number + 100  # the restart of five enclaves must fit before it
    opened = a.send(0, encode_input(Open(close_block)))
    auction_id = int.from_bytes(message_id(ETH, opened), "big")
    first = a.send(2, encode_input(PlaceBid(auction_id, 700)))
    other = a.send(3, encode_input(PlaceBid(auction_id, 650)))
    a.wait_records([opened, first, other])
    on_log = len(a.records())
    bidder = ethereum_dev_accounts(3)[2]
    body = encode_query(BidOf(auction_id, bytes.fromhex(bidder.address[2:])))

    async def ask(index: int) -> int | None:
        prepared = prepare_query(a.contract.contract_id, body, ethereum_key=bidder.private_key)
        async with EnclaveClient(str(a.bridge.member(index).socket)) as client:
            answer = decrypt_answer(prepared, await client.query(prepared.signed))
        assert answer.ok, answer
        return decode_bid_answer(answer.body)

    for index in ALL_MEMBERS:  # a read syncs each engine to the finalized log
        assert asyncio.run(ask(index)) == 700
    for index in ALL_MEMBERS:  # clean stops: each enclave seals its states
        a.bridge.stop_enclave(index)
    saved = {}
    for index in ALL_MEMBERS:
        events = a.bridge.logged(index, "enclave", "confidential_state_saved")
        assert events and events[-1]["records"] == on_log, (index, events)
        saved[index] = events[-1]
    tampered = 5
    (path,) = _sealed_dir(a, tampered).glob("checkpoints/*confidential-state*.sealed")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))
    for index in ALL_MEMBERS:
        a.bridge.start_enclave(index)
    wait_for("the committee whole again", a.bridge.members_whole, timeout=90)

    for index in saved:  # every one answers from its state, resumed or replayed
        assert asyncio.run(ask(index)) == 700
        replayed = [e for e in a.bridge.logged(index, "enclave", "confidential_state_replayed") if e["full"]]
        if index == tampered:
            (fallback,) = a.bridge.logged(index, "enclave", "confidential_state_snapshot_fallback")
            assert fallback["reason"] == "unreadable" and fallback["action"] == "full_replay"
            assert replayed and replayed[0]["records"] >= on_log  # the whole log, from the chain
            assert not a.bridge.logged(index, "enclave", "confidential_state_resumed")
        else:
            (resumed,) = a.bridge.logged(index, "enclave", "confidential_state_resumed")
            assert (resumed["records"], resumed["notes"]) == (on_log, saved[index]["notes"])
            assert resumed["replayed"] == 0  # nothing was appended after the stop: nothing replayed
            assert not replayed and not a.bridge.logged(index, "enclave", "confidential_state_snapshot_fallback")

    # the state is the one before the restart
    _auction_continues(a, auction_id, close_block)


def _sealed_dir(a: Auctioneer, index: int) -> Path:
    config = tomllib.loads(a.bridge.member(index).config.read_text())
    return Path(config["enclave"]["sealed_dir"])


CLI_BID = 731_904_615_283_746_192  # below the auction's 95-bit price cap


def test_call_and_status_through_the_cli(auctioneer: Auctioneer, bridge_devnet: Devnet) -> None:
    assert bridge_devnet.state is not None and bridge_devnet.state.network_file
    network = bridge_devnet.state.network_file
    # Bids close 300 blocks on (pass_block mines them at once below): with anvil's 1-s blocks, 30 were too few for the
    # two bids' CLI round trips on a loaded machine (the second was refused as `closed`, not `already_bid`).
    out = run_cli("call", "auction-open", "--close-in", "300", "--dev-account", "2", "--network", network)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "executed on phala" in out.stdout
    found = re.search(r"auction (0x[0-9a-f]{64}) open", out.stdout)
    assert found is not None
    auction = found.group(1)
    # A high-entropy bid: "4242" turned up by chance in the hex of a transaction hash (one run in a few hundred).
    bid = run_cli(
        "call",
        "auction-bid",
        "--auction",
        auction,
        "--amount",
        str(CLI_BID),
        "--dev-account",
        "3",
        "--network",
        network,
    )
    assert bid.returncode == 0, bid.stdout + bid.stderr
    assert str(CLI_BID) not in bid.stdout + bid.stderr  # the amount is encrypted before it leaves the caller's machine
    call = re.search(r"; call (0x[0-9a-f]{64})", bid.stdout)
    assert call is not None
    # the same bidder again: refused by the contract, recorded, and the command says so (exit 1)
    again = run_cli(
        "call", "auction-bid", "--auction", auction, "--amount", "1", "--dev-account", "3", "--network", network
    )
    assert again.returncode == 1 and "refused (already_bid" in again.stdout, again.stdout + again.stderr

    status = run_cli("status", call.group(1), "--network", network)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "state executed" in status.stdout and "executed on phala" in status.stdout

    until = re.search(r"open until ethereum block (\d+)", out.stdout)
    assert until is not None
    auctioneer.pass_block(int(until.group(1)))
    closed = run_cli("call", "auction-close", "--auction", auction, "--dev-account", "2", "--network", network)
    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert "executed on ethereum" in closed.stdout  # the reply, followed to the bridge's nonce bitmap
    assert f"settled: True, winner {_address(3)}, price {CLI_BID}" in closed.stdout


def test_authorized_and_unauthorized_queries_through_an_enclave(auctioneer: Auctioneer) -> None:
    a = auctioneer
    opened = a.send(0, encode_input(Open(a.w3.eth.block_number + 200)))
    auction_id = int.from_bytes(message_id(ETH, opened), "big")
    bid = a.send(2, encode_input(PlaceBid(auction_id, 1234)))
    a.wait_records([opened, bid])
    bidder = ethereum_dev_accounts(3)[2]
    stranger = ethereum_dev_accounts(4)[3]
    body = encode_query(BidOf(auction_id, bytes.fromhex(bidder.address[2:])))

    async def ask(key: str) -> Any:
        prepared = prepare_query(a.contract.contract_id, body, ethereum_key=key)
        async with EnclaveClient(str(a.bridge.member(2).socket)) as client:
            return decrypt_answer(prepared, await client.query(prepared.signed))

    own = asyncio.run(ask(bidder.private_key))
    assert own.ok and decode_bid_answer(own.body) == 1234
    refused = asyncio.run(ask(stranger.private_key))
    assert not refused.ok and refused.code == "unauthorized"
    assert b"1234" not in refused.body and (1234).to_bytes(16, "big") not in refused.body
