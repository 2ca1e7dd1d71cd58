"""The Ethereum side of the bridge against a real anvil loaded from the committed fixture (contracts deployed).

Out of Ethereum: a user's `deposit` (PHA to a 32-byte Phala account) and `sendMessage` are seen by the watcher with
every field right, only once `confirmations` deep; resuming from the cursor does not duplicate; a reorg within the
confirmation depth passes nothing on from the dropped block, and the deposit re-included later is seen once; a reorg
behind a zero-confirmation cursor is rewound. Into Ethereum: batches of Phala -> Ethereum messages are prepared,
checked by an independent verifier, signed 3-of-5 with FROST(secp256k1), submitted, confirmed; exactly once; a call
to a reverting target fails alone with its reason; a stuck transaction is replaced and confirmed. The verifiers
refuse a message or request that differs from the chain.

One anvil per module (the fixture state, chain id 31337), a fresh trusted-dealer committee key set by the admin.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.types import Nonce, RPCEndpoint, Wei

from bridge.batching import BatchPolicy
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.anvil import start_anvil
from bridge.devnet.processes import ProcessSupervisor
from bridge.evm import batch_digest, decompress_point, encode_batch
from bridge.ids import message_id
from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.policy import BridgePolicy, Resource
from bridge.ports import ChainPosition, Confirmation, SigningRefused, SigningRequest, WatchResult
from enclave_signer.frost import SECP256K1, KeyShare, sign_with_shares, trusted_dealer_keygen
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.ethereum import (
    ChainIdMismatch,
    EthereumBatchVerifier,
    EthereumConfig,
    EthereumDestination,
    EthereumSourceVerifier,
    EthereumWatcher,
    NothingToExecute,
    VerificationRefused,
)
from relayers.ethereum.contracts import contract_at, send
from relayers.ethereum.rebuild import batch_items
from relayers.store import open_store

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "anvil-fixtures" / "devnet-state.json"
CHAIN_ID = 31337
PHA = 10**18
PLANCK = 10**6  # one Phala planck in Ethereum PHA base units
PHA_ID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
PHA_TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECORDER = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
REVERTER = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"
RESOURCES = {PHA_ID: {1: 18, 2: 12}}
GAS: dict[str, float] = {}  # measured gas per message, printed at the end of the module


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Net:
    w3: Web3
    url: str
    shares: list[KeyShare]
    group_pk: bytes
    key_file: Path
    users: list[LocalAccount]
    bridge: Contract
    pha: Contract
    clock: Clock = field(default_factory=Clock)

    def rpc(self, method: str, *params: Any) -> Any:
        return self.w3.provider.make_request(RPCEndpoint(method), list(params)).get("result")

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def config(self, **kw: Any) -> EthereumConfig:
        base: dict[str, Any] = dict(
            rpc_url=self.url,
            chain_id=CHAIN_ID,
            bridge_address=BRIDGE,
            resources=RESOURCES,
            confirmations=2,
            start_block=self.w3.eth.block_number,
            submitter_key_file=self.key_file,
            stuck_timeout=30.0,
        )
        base.update(kw)
        return EthereumConfig(**base)

    def destination(self, **kw: Any) -> EthereumDestination:
        return EthereumDestination(self.config(**kw), clock=self.clock)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    work = tmp_path_factory.mktemp("eth-adapter")
    supervisor = ProcessSupervisor(work / "logs")
    node = start_anvil(supervisor, chain_id=CHAIN_ID, load_state=STATE)
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
        group_pk, shares = trusted_dealer_keygen(SECP256K1, n=5, t=3)
        bridge = contract_at(w3, "Bridge", BRIDGE)
        x, y = decompress_point(group_pk)
        send(w3, bridge.functions.initializeKey(x, y), w3.eth.accounts[0])
        relayer = Account.create()
        key_file = work / "relayer.key"
        key_file.write_text("0x" + relayer.key.hex().removeprefix("0x") + "\n")
        key_file.chmod(0o600)
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": relayer.address, "value": Wei(100 * PHA)})
        users = [Account.from_key(a.private_key) for a in ethereum_dev_accounts(5)[2:5]]  # hold PHA in the fixture
        pha = contract_at(w3, "PhaToken", PHA_TOKEN)
        yield Net(w3, node.rpc_url, list(shares), group_pk, key_file, users, bridge, pha)
    finally:
        supervisor.stop_all()
        if GAS:
            print("\nmeasured gas per message:", {k: round(v) for k, v in GAS.items()})


# ---- helpers -----------------------------------------------------------------------------------------------------


def deposit_tx(net: Net, user: LocalAccount, amount: int, recipient: bytes, *, nonce: int | None = None) -> bytes:
    """A signed raw `deposit` of `amount` PHA base units to `recipient` on Phala (approve first, separately)."""
    fn = net.bridge.functions.deposit(2, PHA_ID, recipient, amount)
    tx = fn.build_transaction(
        {
            "from": user.address,
            "nonce": net.w3.eth.get_transaction_count(user.address, "pending") if nonce is None else Nonce(nonce),
            "gas": 200_000,
            "maxFeePerGas": Wei(10**10),
            "maxPriorityFeePerGas": Wei(10**9),
            "chainId": CHAIN_ID,
        }
    )
    return bytes(user.sign_transaction(cast(Any, tx)).raw_transaction)  # eth_account types a plain dict, not TxParams


def approve(net: Net, user: LocalAccount, amount: int = 10**6 * PHA) -> None:
    send(net.w3, net.pha.functions.approve(BRIDGE, amount), user)


def poll(watcher: EthereumWatcher, after: ChainPosition | None) -> WatchResult:
    return asyncio.run(watcher.poll(after))


def poll_to_head(watcher: EthereumWatcher, after: ChainPosition | None) -> tuple[list[BridgeMessage], ChainPosition]:
    """Poll until the watcher reaches its final block; all messages seen on the way."""
    seen: list[BridgeMessage] = []
    position = after
    for _ in range(50):
        result = poll(watcher, position)
        seen.extend(result.messages)
        if position is not None and result.position == position:
            return seen, position
        position = result.position
    raise AssertionError("the watcher did not settle")


def inbound(nonce: int, amount_planck: int, recipient: bytes | None = None, **kw: Any) -> BridgeMessage:
    """A Phala -> Ethereum PHA transfer, as the Phala watcher would produce it."""
    fields: dict[str, Any] = dict(
        source_domain=2,
        dest_domain=1,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=os.urandom(32),
        recipient=recipient if recipient is not None else os.urandom(20),
        resource_id=PHA_ID,
        source_amount=amount_planck,
        amount=amount_planck * PLANCK,
        source=SourceRef(block_number=nonce >> 16, block_hash=os.urandom(32), tx_hash=os.urandom(32), index=0),
    )
    fields.update(kw)
    return BridgeMessage(**fields)


def call(nonce: int, target: str, data: bytes) -> BridgeMessage:
    return inbound(nonce, 0, bytes.fromhex(target[2:]), kind=MessageKind.CALL, payload=data, amount=0)


class FrostBatchSigner:
    """The committee in miniature: an independent verifier rebuilds the request, then 3 of 5 shares sign."""

    def __init__(self, net: Net, config: EthereumConfig) -> None:
        self.verifier = EthereumBatchVerifier(config)
        self.shares = [net.shares[0], net.shares[2], net.shares[4]]

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        try:
            digest = await self.verifier.check(request, messages)
        except VerificationRefused as exc:
            raise SigningRefused(str(exc)) from exc
        return bytes(sign_with_shares(SECP256K1, self.shares, digest).to_bytes())


def confirm_final(net: Net, dest: EthereumDestination, tx: str, ids: Sequence[str]) -> Confirmation:
    for _ in range(10):
        result = asyncio.run(dest.confirm(tx, ids))
        if not result.pending:
            return result
        net.mine()
    raise AssertionError("still pending")


def relay(net: Net, dest: EthereumDestination, messages: list[BridgeMessage]) -> tuple[Confirmation, dict[str, Any]]:
    """What the pipeline does with one batch: already_executed, prepare, sign, submit, confirm."""
    done = asyncio.run(dest.already_executed(messages))
    assert not done
    request = asyncio.run(dest.prepare(messages))
    signature = asyncio.run(FrostBatchSigner(net, dest.config).sign(request, messages))
    tx = asyncio.run(dest.submit(request, signature))
    receipt = dict(net.w3.eth.wait_for_transaction_receipt(HexStr(tx), timeout=10))
    return confirm_final(net, dest, tx, [m.id_hex for m in messages]), receipt


def balance(net: Net, who: bytes | str) -> int:
    address = who if isinstance(who, str) else Web3.to_checksum_address(who)
    return int(net.pha.functions.balanceOf(address).call())


# ---- out of Ethereum: the watcher ----------------------------------------------------------------------------------


def test_deposit_and_message_are_seen_once_final(net: Net) -> None:
    watcher = EthereumWatcher(net.config(confirmations=2))
    user = net.users[0]
    approve(net, user)
    start = poll(watcher, None).position
    recipient = os.urandom(32)
    amount = 7 * PHA + 3 * PLANCK
    tx = net.w3.eth.send_raw_transaction(deposit_tx(net, user, amount, recipient))
    receipt = net.w3.eth.wait_for_transaction_receipt(tx)
    payload = b"\x01confidential-ish payload"
    sent = send(net.w3, net.bridge.functions.sendMessage(2, payload), user, value=10**15)

    early = poll(watcher, start)  # the deposit's block is the head: not final
    assert early.messages == [] and early.position.block_number < receipt["blockNumber"]
    net.mine(2)
    messages, position = poll_to_head(watcher, early.position)
    deposit, message = messages
    nonce = int(net.bridge.functions.outboundNonce().call()) - 1
    assert (deposit.source_domain, deposit.dest_domain, deposit.nonce, deposit.kind) == (1, 2, nonce, "transfer")
    assert (deposit.sender, deposit.recipient) == (bytes.fromhex(user.address[2:]), recipient)
    assert deposit.resource_id == PHA_ID
    assert (deposit.source_amount, deposit.amount) == (amount, 7 * 10**12 + 3)
    deposit_logs = [e for e in receipt["logs"] if e["address"] == BRIDGE]
    assert len(deposit_logs) == 1
    log_index = deposit_logs[0]["logIndex"]
    assert deposit.source == SourceRef(
        block_number=receipt["blockNumber"],
        block_hash=bytes(receipt["blockHash"]),
        tx_hash=bytes(receipt["transactionHash"]),
        index=log_index,
    )
    assert (message.nonce, message.kind, message.payload, message.dest_domain) == (nonce + 1, "call", payload, 2)
    assert message.source.tx_hash == bytes(sent["transactionHash"])
    assert message.id == message_id(1, nonce + 1)

    # Resuming from the cursor finds nothing again; re-reading from the start finds the same ids (the store dedupes).
    assert poll(watcher, position).messages == []
    again, _ = poll_to_head(EthereumWatcher(net.config(confirmations=2)), start)
    assert [m.id_hex for m in again] == [deposit.id_hex, message.id_hex]


def test_reorg_within_the_confirmation_depth(net: Net) -> None:
    user = net.users[1]
    approve(net, user)
    net.mine(4)  # anvil_reorg needs blocks made in this session
    careful = EthereumWatcher(net.config(confirmations=3))
    eager = EthereumWatcher(net.config(confirmations=0))
    c_pos, e_pos = poll(careful, None).position, poll(eager, None).position
    recipient = os.urandom(32)
    raw = deposit_tx(net, user, 5 * PHA, recipient)
    first = net.w3.eth.wait_for_transaction_receipt(net.w3.eth.send_raw_transaction(raw))
    net.mine()

    seen_eagerly = poll(eager, e_pos)  # a zero-confirmation watcher sees it at once...
    (m_eager,) = seen_eagerly.messages
    c_result = poll(careful, c_pos)  # ...the careful one does not: its block is inside the depth
    assert c_result.messages == []
    c_pos = c_result.position
    assert c_pos.block_number < first["blockNumber"]

    net.rpc("anvil_reorg", 2, [])  # replace the deposit's block and the one after it with empty blocks
    assert net.w3.eth.get_block(first["blockNumber"])["hash"] != first["blockHash"]
    net.mine(3)
    rewound = poll(eager, seen_eagerly.position)
    assert rewound.reorg_from is not None and rewound.reorg_from <= first["blockNumber"]
    assert rewound.messages == []
    nothing, c_pos = poll_to_head(careful, c_pos)
    assert nothing == []

    again = net.w3.eth.wait_for_transaction_receipt(net.w3.eth.send_raw_transaction(raw))  # re-included later
    assert again["blockNumber"] > first["blockNumber"]
    net.mine(3)
    seen, _ = poll_to_head(careful, c_pos)
    (m,) = seen
    assert m.id_hex == m_eager.id_hex and m.recipient == recipient
    assert m.source.block_number == again["blockNumber"] and m.source.block_hash == bytes(again["blockHash"])
    eager_again, _ = poll_to_head(eager, rewound.position)
    assert [x.id_hex for x in eager_again] == [m.id_hex]  # the eager watcher reports it again: same id, deduped


def test_chain_id_mismatch_is_a_clear_error(net: Net) -> None:
    with pytest.raises(ChainIdMismatch, match="serves chain id 31337"):
        poll(EthereumWatcher(net.config(chain_id=1)), None)


# ---- independent verification ------------------------------------------------------------------------------------


def test_source_verifier_refuses_what_differs_from_the_chain(net: Net) -> None:
    user = net.users[2]
    approve(net, user)
    start = poll(EthereumWatcher(net.config(confirmations=1)), None).position
    tx = net.w3.eth.send_raw_transaction(deposit_tx(net, user, 2 * PHA, b"\x07" * 32))
    net.w3.eth.wait_for_transaction_receipt(tx)
    net.mine()
    (m,) = poll_to_head(EthereumWatcher(net.config(confirmations=1)), start)[0]
    verifier = EthereumSourceVerifier(net.config(confirmations=1))
    asyncio.run(verifier.check([m]))

    def refused(message: BridgeMessage, cfg: EthereumConfig | None = None) -> VerificationRefused:
        with pytest.raises(VerificationRefused) as info:
            asyncio.run(EthereumSourceVerifier(cfg or net.config(confirmations=1)).check([message]))
        return info.value

    assert refused(m.model_copy(update={"amount": m.amount + 1})).field == "amount"
    assert refused(m.model_copy(update={"source_amount": m.source_amount * 2})).field == "source_amount"
    assert refused(m.model_copy(update={"recipient": b"\x08" * 32})).field == "recipient"
    assert refused(m.model_copy(update={"nonce": m.nonce + 1})).field == "nonce"
    missing = m.model_copy(update={"source": m.source.model_copy(update={"tx_hash": os.urandom(32)})})
    assert refused(missing).field == "source.tx_hash"
    no_log = m.model_copy(update={"source": m.source.model_copy(update={"index": m.source.index + 5})})
    assert refused(no_log).field == "source.index"
    err = refused(m, net.config(confirmations=50))
    assert err.field == "source.block_number" and "not final" in str(err)


# ---- into Ethereum: the destination --------------------------------------------------------------------------------


def test_batch_of_releases_executes_exactly_once(net: Net) -> None:
    dest = net.destination()
    amounts = [(i + 1) * 10**12 + i for i in range(50)]  # planck: 1..50 PHA, inexact in whole PHA on purpose
    batch = [inbound(n + 1, a) for n, a in enumerate(amounts)]
    result, receipt = relay(net, dest, batch)
    assert result.executed == {m.id_hex for m in batch} and not result.failed
    for m in batch:
        assert balance(net, m.recipient) == m.amount
    GAS["release, batch of 50 (fresh recipients)"] = receipt["gasUsed"] / 50

    assert asyncio.run(dest.already_executed(batch)) == {m.id_hex for m in batch}
    assert dest.submitter is not None
    submitter = to_checksum_address(dest.submitter.address)
    sent_before = net.w3.eth.get_transaction_count(submitter)
    with pytest.raises(NothingToExecute) as info:
        asyncio.run(dest.prepare(batch))
    assert info.value.executed == {m.id_hex for m in batch} and not info.value.refused
    assert net.w3.eth.get_transaction_count(submitter) == sent_before

    # Single releases: to a fresh recipient, and to an existing holder (nonce word in use either way).
    single, receipt = relay(net, dest, [inbound(51, 3 * 10**12)])
    assert len(single.executed) == 1
    GAS["single release (fresh recipient)"] = receipt["gasUsed"]
    holder = batch[0].recipient
    single, receipt = relay(net, dest, [inbound(52, 10**12, holder)])
    assert len(single.executed) == 1 and balance(net, holder) == batch[0].amount + 10**18
    GAS["single release (existing holder)"] = receipt["gasUsed"]
    holders = [inbound(60 + i, 10**12, m.recipient) for i, m in enumerate(batch)]
    result, receipt = relay(net, dest, holders)
    assert len(result.executed) == 50
    GAS["release, batch of 50 (existing holders)"] = receipt["gasUsed"] / 50

    # The same without access lists: what the pruned EIP-2930 list actually saves (gasUsed, not estimates).
    plain = net.destination(use_access_lists=False)
    _, receipt = relay(net, plain, [inbound(53, 10**12, holder)])
    GAS["single release (existing holder), no access list"] = receipt["gasUsed"]
    holders = [inbound(120 + i, 10**12, m.recipient) for i, m in enumerate(batch)]
    _, receipt = relay(net, plain, holders)
    GAS["release, batch of 50 (existing holders), no access list"] = receipt["gasUsed"] / 50
    assert receipt["gasUsed"] > GAS["release, batch of 50 (existing holders)"] * 50


def test_failed_call_refused_and_queued_items(net: Net) -> None:
    dest = net.destination()
    recorder_call = bytes.fromhex(net.w3.keccak(text="record(bytes32,bytes)")[:4].hex())
    ok_data = recorder_call + encode(["bytes32", "bytes"], [b"\x01" * 32, b"hi"])
    large = inbound(1003, 150_000 * 10**12)  # above the 100k PHA threshold: queued by the rate limiter
    good = inbound(1000, 5 * 10**12)
    reverting = call(1001, REVERTER, b"\xde\xad")
    recorded = call(1002, RECORDER, ok_data)
    wrong_recipient = inbound(1004, 10**12, os.urandom(32))  # a Phala-shaped recipient: refused
    inexact = inbound(1005, 10**12, amount=0)  # the watcher found no exact conversion: refused
    messages = [good, reverting, recorded, large, wrong_recipient, inexact]
    result, _ = relay(net, dest, messages)
    assert result.executed == {good.id_hex, recorded.id_hex, large.id_hex}
    assert set(result.failed) == {reverting.id_hex, wrong_recipient.id_hex, inexact.id_hex}
    assert "AlwaysReverts" in result.failed[reverting.id_hex]
    assert "20-byte address" in result.failed[wrong_recipient.id_hex]
    assert "amount 0" in result.failed[inexact.id_hex]
    assert balance(net, large.recipient) == 0
    assert bytes(net.bridge.functions.pendingRelease(2, 1003).call()) != bytes(32)  # claimable after the delay
    assert int(contract_at(net.w3, "CallRecorder", RECORDER).functions.count().call()) >= 1


def submit_one(net: Net, dest: EthereumDestination, m: BridgeMessage) -> str:
    request = asyncio.run(dest.prepare([m]))
    signature = asyncio.run(FrostBatchSigner(net, dest.config).sign(request, [m]))
    return asyncio.run(dest.submit(request, signature))


def test_stuck_transaction_is_replaced(net: Net) -> None:
    dest = net.destination(stuck_timeout=5.0)
    assert dest.submitter is not None
    waiting, underpriced = inbound(2000, 4 * 10**12), inbound(2001, 6 * 10**12)
    net.rpc("evm_setAutomine", False)
    try:
        # 1. No block is made: the transaction waits in the pool; after stuck_timeout it is replaced in the pool
        # (same nonce, both fees up >= 12.5%: anvil, like geth, refuses a smaller bump).
        tx = submit_one(net, dest, waiting)
        sent = net.w3.eth.get_transaction(HexStr(tx))
        assert asyncio.run(dest.confirm(tx, [waiting.id_hex])).pending
        net.clock.now += 6
        assert asyncio.run(dest.confirm(tx, [waiting.id_hex])).pending
        tracked = dest.submitter.tracked(tx)
        assert tracked is not None and len(tracked.hashes) == 2
        replacement = net.w3.eth.get_transaction(HexStr(tracked.hashes[1]))
        assert replacement["nonce"] == sent["nonce"]
        assert replacement["maxFeePerGas"] * 8 >= sent["maxFeePerGas"] * 9
        assert replacement["maxPriorityFeePerGas"] * 8 >= sent["maxPriorityFeePerGas"] * 9
        net.mine()
        first = confirm_final(net, dest, tx, [waiting.id_hex])
        assert first.executed == {waiting.id_hex}
        assert net.w3.eth.get_transaction_receipt(HexStr(tracked.hashes[1]))["status"] == 1

        # 2. The base fee jumps above its fee cap: anvil evicts it (geth would keep it, unmineable). Either way no
        # receipt comes; after stuck_timeout it is re-sent at the same nonce with fees for the new base fee.
        tx2 = submit_one(net, dest, underpriced)
        low = net.w3.eth.get_transaction(HexStr(tx2))
        net.rpc("anvil_setNextBlockBaseFeePerGas", hex(low["maxFeePerGas"] * 4))
        net.mine()
        assert asyncio.run(dest.confirm(tx2, [underpriced.id_hex])).pending
        net.clock.now += 6
        assert asyncio.run(dest.confirm(tx2, [underpriced.id_hex])).pending
        again = dest.submitter.tracked(tx2)
        assert again is not None and len(again.hashes) == 2
        assert net.w3.eth.get_transaction(HexStr(again.hashes[1]))["nonce"] == low["nonce"]
        net.mine()
    finally:
        net.rpc("evm_setAutomine", True)
    second = confirm_final(net, dest, tx2, [underpriced.id_hex])
    assert second.executed == {underpriced.id_hex}
    assert balance(net, waiting.recipient) == waiting.amount
    assert balance(net, underpriced.recipient) == underpriced.amount


def test_batch_verifier_refuses_a_tampered_request(net: Net) -> None:
    dest = net.destination()
    messages = [inbound(3000 + i, 10**12) for i in range(3)]
    request = asyncio.run(dest.prepare(messages))
    verifier = EthereumBatchVerifier(dest.config)
    assert asyncio.run(verifier.check(request, messages)) == request.payload

    def refused(req: SigningRequest, msgs: Sequence[BridgeMessage] = messages) -> str:
        with pytest.raises(VerificationRefused) as info:
            asyncio.run(verifier.check(req, msgs))
        return str(info.value)

    # A batch paying someone else, with its own (consistent) digest.
    items = [m.model_copy(update={"recipient": b"\x66" * 20}) if i == 0 else m for i, m in enumerate(messages)]
    facts = asyncio.run(verifier.facts(messages))
    evil = encode_batch(facts.epoch, 2, batch_items(items, facts))
    tampered = replace(
        request,
        payload=batch_digest(CHAIN_ID, BRIDGE, evil),
        context={**request.context, "batch": "0x" + evil.hex()},
    )
    assert "not the batch for these messages" in refused(tampered)
    assert "payload" in refused(replace(request, payload=os.urandom(32)))
    assert "epoch" in refused(replace(request, context={**request.context, "epoch": 7}))
    assert "canonical" in refused(replace(request, message_ids=tuple(reversed(request.message_ids))))
    richer = [messages[0].model_copy(update={"amount": messages[0].amount * 2}), *messages[1:]]
    assert "not the batch" in refused(request, richer)


# ---- the pipeline with the real destination ------------------------------------------------------------------------


class PhalaFeed:
    """A stand-in Phala watcher: hands out the given messages once."""

    name = "phala"
    domain = 2

    def __init__(self, messages: list[BridgeMessage]) -> None:
        self.messages = messages

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        new = [] if after is not None else self.messages
        return WatchResult(new, ChainPosition(1, "0x" + "01" * 32), head=1)


def test_pipeline_drives_the_destination_to_executed_and_failed(net: Net, tmp_path: Path) -> None:
    dest = net.destination(confirmations=0)
    good = [inbound(6000 + i, (i + 1) * 10**12) for i in range(20)]
    not_allowed = call(6100, "0x" + "12" * 20, b"\x01")  # passes policy, refused by the destination
    inexact = inbound(6101, 10**12, amount=10**18 + 1)  # refused by policy
    pipeline = Pipeline(
        store=open_store(f"sqlite:///{tmp_path}/store.db"),
        policy=BridgePolicy.of([Resource("PHA", PHA_ID, {1: 18, 2: 12})]),
        watchers=[PhalaFeed([*good, not_allowed, inexact])],
        destinations=[dest],
        signer=FrostBatchSigner(net, dest.config),
        config=PipelineConfig(
            poll_interval=0.02, confirm_interval=0.02, retry_backoff=0.05, batch=BatchPolicy(50, 0.05)
        ),
    )

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        try:
            async with asyncio.timeout(20):
                while pipeline.store.counts().get("executed", 0) < 20 or pipeline.store.counts().get("failed", 0) < 2:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task

    asyncio.run(run())
    assert pipeline.store.counts() == {"executed": 20, "failed": 2}
    assert all(balance(net, m.recipient) == m.amount for m in good)
    refused = pipeline.store.get(not_allowed.id_hex)
    assert refused is not None and "allow-listed" in (refused.reason or "")
    states = {r.state for r in map(pipeline.store.get, (m.id_hex for m in good)) if r is not None}
    assert states == {MessageState.EXECUTED}
