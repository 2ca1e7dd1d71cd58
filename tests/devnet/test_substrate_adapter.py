"""The Phala side of the bridge against the real runtime (Chopsticks, para 2035).

Out of Phala: a user's `batch_all([transfer_keep_alive(bridge), remark_with_event(intent)])` is seen by the watcher
with the right fields; failed deposits, bad intents and plain transfers are not turned into messages (funds that
arrived are reported); resuming from the cursor does not duplicate; a replaced cursor block is rewound; a deposit
below its destination's minimum is held and not numbered (the client, watcher and source verifier agree on it), by
the minimum in force at its block when a schedule raises it.
Into Phala: batches of Ethereum -> Phala messages are prepared, checked by an independent verifier, signed by a
3-of-5 FROST Ed25519 group (trusted dealer), submitted and confirmed; exactly once; a message below the existential
deposit fails alone with its reason; a batch that fails on chain is isolated by halves with the runtime's reason.

The bridge account is a fresh group key per module and every recipient a fresh account, so the session-wide
devnet's history never matters.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import structlog
from substrateinterface import Keypair

from bridge.client import PhalaClient
from bridge.devnet import DevnetState
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.minimums import BelowMinimum, DepositMinimum, MinimumChange, MinimumSchedule
from bridge.network import DepositMinimumSide, MinimumChangeSide, PhalaSide
from bridge.ports import ChainPosition, Confirmation, SigningRefused, SigningRequest, VerificationRefused
from bridge.refunds import is_refund, refund_nonce
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.frost import ED25519, KeyShare, sign_with_shares, trusted_dealer_keygen
from enclave_signer.sealing import Sealer
from relayers.substrate import (
    InsufficientLiquidity,
    NothingToExecute,
    PhalaConfig,
    PhalaDestination,
    PhalaVerifier,
    PhalaWatcher,
    RebuildMismatch,
    RejectedDeposit,
    SubstrateClient,
    keypair_from_uri,
    new_block,
    set_free_balance,
    set_storage,
)
from relayers.substrate.chain import ChainReader
from relayers.substrate.deposit_checkpoint import DepositCheckpoints
from relayers.substrate.replies import ReplyView
from relayers.substrate.source_verifier import PhalaSourceVerifier

pytestmark = pytest.mark.devnet

UNIT = 10**12
RID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")  # PHA (config/chains.toml)
ETH_RECIPIENT = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


@dataclass(frozen=True)
class Bridge:
    config: PhalaConfig
    shares: list[KeyShare]


@pytest.fixture(scope="module")
def chain(devnet: DevnetState) -> Iterator[SubstrateClient]:
    with SubstrateClient(devnet.phala.ws_url) as client:
        yield client


@pytest.fixture(scope="module")
def bridge(devnet: DevnetState, chain: SubstrateClient) -> Bridge:
    group_pk, shares = trusted_dealer_keygen(ED25519, n=5, t=3)
    set_free_balance(chain, group_pk, 1_000 * UNIT)  # liquidity, without a transfer the watcher would report
    start = ChainReader(chain).finalized_head().block_number + 1
    config = PhalaConfig(
        url=devnet.phala.ws_url,
        bridge_account=group_pk,
        resource_id=RID,
        start_block=start,
        index_start_block=start,
        pending_timeout=30.0,
    )
    return Bridge(config, shares)


class FrostBatchSigner:
    """The committee, in miniature: an independent verifier rebuilds the request, then 3 of 5 shares sign it."""

    def __init__(self, bridge: Bridge) -> None:
        self.verifier = PhalaVerifier(bridge.config)
        self.shares = [bridge.shares[0], bridge.shares[2], bridge.shares[4]]

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        try:
            payload = await self.verifier.check(request, messages)
        except RebuildMismatch as exc:
            raise SigningRefused(str(exc)) from exc
        return bytes(sign_with_shares(ED25519, self.shares, payload).to_bytes())


def inbound(amount: int, recipient: bytes | None = None) -> BridgeMessage:
    """An Ethereum -> Phala transfer of `amount` planck, as the Ethereum watcher would produce it."""
    return BridgeMessage(
        source_domain=1,
        dest_domain=2,
        nonce=int.from_bytes(os.urandom(7), "big"),
        kind=MessageKind.TRANSFER,
        sender=ETH_RECIPIENT,
        recipient=recipient or os.urandom(32),
        resource_id=RID,
        source_amount=amount * 10**6,
        amount=amount,
        source=SourceRef(block_number=1, block_hash=os.urandom(32), tx_hash=os.urandom(32), index=0),
    )


async def confirm_final(dest: PhalaDestination, tx: str, ids: Sequence[str]) -> Confirmation:
    deadline = time.monotonic() + 20
    while True:
        result = await dest.confirm(tx, ids)
        if not result.pending or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


Hook = Callable[[SigningRequest], None]


async def settle(
    dest: PhalaDestination,
    signer: FrostBatchSigner,
    messages: list[BridgeMessage],
    *,
    before_prepare: Callable[[], None] = lambda: None,
    before_submit: Hook = lambda _r: None,
) -> tuple[set[str], dict[str, str], list[tuple[str, ...]]]:
    """What the pipeline does with one destination, until every message is executed or failed."""
    open_ = {m.id_hex: m for m in messages}
    executed: set[str] = set()
    failed: dict[str, str] = {}
    batches: list[tuple[str, ...]] = []
    for _ in range(10):
        if not open_:
            break
        batch = list(open_.values())
        executed |= await dest.already_executed(batch)
        before_prepare()
        request = await dest.prepare([m for m in batch if m.id_hex not in executed])
        signature = await signer.sign(request, batch)
        before_submit(request)
        tx = await dest.submit(request, signature)
        result = await confirm_final(dest, tx, list(open_))
        assert not result.pending and not result.dropped, result
        batches.append(request.message_ids)
        executed |= result.executed
        failed.update(result.failed)
        open_ = {i: m for i, m in open_.items() if i not in executed and i not in failed}
    assert not open_, "not settled in 10 rounds"
    return executed, failed, batches


# ---- out of Phala: the watcher ---------------------------------------------------------------------------------------


def test_deposits_are_seen_and_everything_else_is_not_a_message(chain: SubstrateClient, bridge: Bridge) -> None:
    alice = keypair_from_uri("//Alice", chain.ss58_format)
    account = "0x" + bridge.config.bridge_account.hex()
    intent = encode_intent(Intent(IntentKind.TRANSFER, 1, RID, ETH_RECIPIENT))

    def deposit(amount: int, remark: bytes, dest: str = account) -> object:
        return chain.compose_call(
            "Utility",
            "batch_all",
            {
                "calls": [
                    chain.compose_call("Balances", "transfer_keep_alive", {"dest": dest, "value": amount}),
                    chain.compose_call("System", "remark_with_event", {"remark": "0x" + remark.hex()}),
                ]
            },
        )

    good = chain.submit(deposit(7 * UNIT + 1, intent), alice).raise_for_failure()
    failed = chain.submit(deposit(10**9 * UNIT, intent), alice)  # more than Alice has
    assert failed.failure is not None and failed.failure.error == "InsufficientBalance"
    bad_intent = chain.submit(deposit(2 * UNIT, intent[:-1]), alice).raise_for_failure()  # truncated recipient
    plain = chain.submit(chain.compose_call("Balances", "transfer", {"dest": account, "value": UNIT}), alice)
    elsewhere = chain.submit(deposit(UNIT, intent, "0x" + os.urandom(32).hex()), alice).raise_for_failure()
    head = ChainReader(chain).finalized_head().block_number

    watcher = PhalaWatcher(bridge.config)
    try:
        messages, rejected, position = asyncio.run(poll_until(watcher, None, head))
        (m,) = messages
        assert (m.source_domain, m.dest_domain, m.kind) == (2, 1, MessageKind.TRANSFER)
        assert (m.sender, m.recipient, m.resource_id) == (alice.public_key, ETH_RECIPIENT, RID)
        assert (m.source_amount, m.amount) == (7 * UNIT + 1, (7 * UNIT + 1) * 10**6)
        assert (m.source.block_number, m.source.index) == (good.block_number, good.extrinsic_index)
        assert "0x" + m.source.block_hash.hex() == good.block_hash
        assert "0x" + m.source.tx_hash.hex() == good.extrinsic_hash
        reasons = {r.extrinsic_hash: r.reason for r in rejected}
        assert set(reasons) == {bad_intent.extrinsic_hash, plain.extrinsic_hash}
        assert "bad intent: intent: truncated in recipient" in reasons[bad_intent.extrinsic_hash]
        assert "without a deposit intent" in reasons[plain.extrinsic_hash]
        assert elsewhere.succeeded and failed.extrinsic_hash not in reasons

        # Resuming from the cursor finds nothing again; re-reading from before the deposit finds the same id.
        again, rejected_again, same = asyncio.run(poll_until(watcher, position, head))
        assert again == [] and rejected_again == [] and same == position
        before = ChainPosition(good.block_number - 1, chain.block_hash(good.block_number - 1))
        rescanned, _, _ = asyncio.run(poll_until(watcher, before, head))
        assert [x.id_hex for x in rescanned] == [m.id_hex]

        # A cursor whose block is not the chain's block at that height: rewind and re-scan, reported.
        result = asyncio.run(watcher.poll(ChainPosition(good.block_number, "0x" + "00" * 32)))
        assert result.reorg_from is not None and result.reorg_from <= good.block_number
        assert m.id_hex in {x.id_hex for x in result.messages}
    finally:
        watcher.close()


async def poll_until(
    watcher: PhalaWatcher, after: ChainPosition | None, head: int
) -> tuple[list[BridgeMessage], list[RejectedDeposit], ChainPosition]:
    messages: list[BridgeMessage] = []
    rejected: list[RejectedDeposit] = []
    while True:
        result = await watcher.poll(after)
        messages.extend(result.messages)
        rejected.extend(result.rejected)
        after = result.position
        if after.block_number >= head:
            return messages, rejected, after


@pytest.mark.usefixtures("all_log_levels")
def test_a_deposit_below_the_minimum_is_held_and_the_next_one_at_it_is_numbered(
    devnet: DevnetState, chain: SubstrateClient, bridge: Bridge, tmp_path: Path
) -> None:
    """Dust protection on the real runtime: with a minimum of 1 PHA per transfer and 2 PHA per call to Ethereum, the
    SDK refuses 0.5 PHA before signing; sent anyway (by hand), it and a 1-PHA call are rejected with `below_minimum`,
    their funds in the bridge account; a transfer of exactly 1 PHA takes the next nonce. The client, the relayer's
    watcher and the enclave's source verifier all count so from the one value; a member configured without the
    minimum numbers differently (refused), and does not take a deposit snapshot made under it."""
    account = os.urandom(32)  # a fresh bridge account: this test's deposits are the only ones
    set_free_balance(chain, account, 10 * UNIT)
    start = ChainReader(chain).finalized_head().block_number + 1
    minimums = {1: DepositMinimum(transfer=UNIT, call=2 * UNIT)}
    config = replace(bridge.config, bridge_account=account, start_block=start, min_deposit=minimums)
    side = PhalaSide(
        ws_url=devnet.phala.ws_url,
        para_id=devnet.phala.para_id,
        bridge_account="0x" + account.hex(),
        start_block=start,
        min_deposit={"ethereum": DepositMinimumSide(transfer=UNIT, call=2 * UNIT)},
    )
    alice = keypair_from_uri("//Alice", chain.ss58_format)
    client = PhalaClient(side, RID)
    try:
        first = client.deposit(alice, 1, ETH_RECIPIENT, 3 * UNIT)
        nonce_before = chain.interface.get_account_nonce(alice.ss58_address)
        with pytest.raises(BelowMinimum, match=r"^below_minimum: a transfer to domain 1 must carry at least 1 PHA"):
            client.deposit(alice, 1, ETH_RECIPIENT, UNIT // 2)
        with pytest.raises(BelowMinimum, match="a call to domain 1 must carry at least 2 PHA"):
            client.call(alice, ETH_RECIPIENT, b"\x01", UNIT)
        assert chain.interface.get_account_nonce(alice.ss58_address) == nonce_before  # nothing was signed

        held_before = chain.free_balance(account)
        dust = chain.submit(_deposit_call(chain, account, UNIT // 2, IntentKind.TRANSFER), alice).raise_for_failure()
        cheap_call = chain.submit(_deposit_call(chain, account, UNIT, IntentKind.CALL), alice).raise_for_failure()
        assert chain.free_balance(account) == held_before + UNIT // 2 + UNIT  # the funds are in the bridge account
        at_minimum = client.deposit(alice, 1, ETH_RECIPIENT, UNIT)
        head = ChainReader(chain).finalized_head().block_number

        watcher = PhalaWatcher(config)
        try:
            messages, rejected, position = asyncio.run(poll_until(watcher, None, head))
        finally:
            watcher.close()
        assert [(m.source.block_number, m.source.index, m.nonce) for m in messages] == [
            (first.block_number, first.extrinsic_index, 1),
            (at_minimum.block_number, at_minimum.extrinsic_index, 2),  # the next nonce: the dust was not counted
        ]
        assert messages[1].source_amount == UNIT and position.sequence == 2
        reasons = {r.extrinsic_hash: (r.amount, r.reason) for r in rejected}
        assert set(reasons) == {dust.extrinsic_hash, cheap_call.extrinsic_hash}
        amount, reason = reasons[dust.extrinsic_hash]
        assert amount == UNIT // 2
        assert reason.startswith("below_minimum: a transfer to domain 1 must carry at least 1 PHA (1000000000000")
        assert reasons[cheap_call.extrinsic_hash][1].startswith(
            "below_minimum: a call to domain 1 must carry at least 2"
        )
        assert client.message_of(at_minimum) == messages[1].id_hex  # the client counts as the nodes do
    finally:
        client.close()

    store = SealedCheckpoints(Sealer(b"\x07" * 32), tmp_path / "checkpoints")

    async def members() -> list[MutableMapping[str, Any]]:
        agrees = PhalaSourceVerifier(config, checkpoints=DepositCheckpoints(store, "deposits"))
        other = replace(config, min_deposit={})  # a member configured without the minimum
        differs = PhalaSourceVerifier(other, checkpoints=DepositCheckpoints(store, "deposits"))
        try:
            await agrees.check_messages(messages)
            assert agrees.save_checkpoint()  # made under the minimum
            with structlog.testing.capture_logs() as logs, pytest.raises(VerificationRefused) as info:
                await differs.check_messages([messages[1]])  # it counts the dust: nonce 2 is another deposit
            assert info.value.code == "mismatch"
            return logs
        finally:
            agrees.close()
            differs.close()

    logs = asyncio.run(members())
    fallback = [e for e in logs if e["event"] == "index_checkpoint_fallback"]
    assert [e["reason"] for e in fallback] == ["other_config"] and "other minimums" in str(fallback[0]["detail"])


@pytest.mark.usefixtures("all_log_levels")
def test_a_scheduled_raise_of_the_minimum_applies_from_its_block_for_every_member(
    devnet: DevnetState, chain: SubstrateClient, bridge: Bridge, tmp_path: Path
) -> None:
    """The minimum to Ethereum rises from 1 PHA to 2 PHA at a block a few ahead. Before it, 1.5 PHA is numbered;
    from it, 1.5 PHA is held and 2 PHA takes the next nonce. The client refuses 1.5 PHA while the raise is within
    its margin (saying so) and after it; the watcher, two enclave source verifiers (one resuming from a snapshot
    made BEFORE the change was configured: taken, the change lies above its position) and the client's own count
    agree; a member that put the change in the past of counted deposits refuses that snapshot as another
    deployment, and a member without the change numbers differently (refused)."""
    account = os.urandom(32)  # a fresh bridge account: this test's deposits are the only ones
    set_free_balance(chain, account, 10 * UNIT)
    head = ChainReader(chain).finalized_head().block_number
    start, switch = head + 1, head + 4  # instant mode: one block per extrinsic, so the switch is 3 blocks ahead
    before, after = DepositMinimum(UNIT, UNIT), DepositMinimum(2 * UNIT, 2 * UNIT)
    schedule = {1: MinimumSchedule(before, (MinimumChange(switch, after),))}
    config = replace(bridge.config, bridge_account=account, start_block=start, min_deposit=schedule)
    unchanged = replace(config, min_deposit={1: before})  # the config before the operator scheduled the raise

    def side(margin_changes: list[MinimumChangeSide]) -> PhalaSide:
        return PhalaSide(
            ws_url=devnet.phala.ws_url,
            para_id=devnet.phala.para_id,
            bridge_account="0x" + account.hex(),
            start_block=start,
            min_deposit={"ethereum": DepositMinimumSide(transfer=UNIT, changes=margin_changes)},
        )

    network_side = side([MinimumChangeSide(from_block=switch, transfer=2 * UNIT)])
    alice = keypair_from_uri("//Alice", chain.ss58_format)
    client = PhalaClient(network_side, RID)
    store = SealedCheckpoints(Sealer(b"\x09" * 32), tmp_path / "checkpoints")
    try:
        nonce_before = chain.interface.get_account_nonce(alice.ss58_address)
        with pytest.raises(BelowMinimum, match=rf"at least 2 PHA .*rises to this from Phala block {switch}"):
            client.deposit(alice, 1, ETH_RECIPIENT, 3 * UNIT // 2)  # the raise is within the client's margin
        assert chain.interface.get_account_nonce(alice.ss58_address) == nonce_before  # nothing was signed
        # Sent anyway before the switch (a client without a margin): numbered under 1 PHA.
        early = PhalaClient(network_side, RID, margin=0)
        try:
            numbered = early.deposit(alice, 1, ETH_RECIPIENT, 3 * UNIT // 2)
        finally:
            early.close()
        assert numbered.block_number < switch

        # A member that counted up to here under the old config saves a snapshot (position below the switch).
        async def snapshot_before_the_change() -> ChainPosition | None:
            old = PhalaSourceVerifier(unchanged, checkpoints=DepositCheckpoints(store, "deposits"))
            try:
                position = await old.catch_up()
                assert old.save_checkpoint()
                return position
            finally:
                old.close()

        saved_at = asyncio.run(snapshot_before_the_change())
        assert saved_at is not None and saved_at.block_number < switch

        while ChainReader(chain).finalized_head().block_number < switch - 1:
            new_block(chain)
        dust = chain.submit(_deposit_call(chain, account, 3 * UNIT // 2, IntentKind.TRANSFER), alice)
        dust.raise_for_failure()
        assert dust.block_number >= switch
        with pytest.raises(BelowMinimum) as refused:
            client.deposit(alice, 1, ETH_RECIPIENT, 3 * UNIT // 2)  # in force now: no scheduled raise to explain
        assert "at least 2 PHA" in str(refused.value) and "rises" not in str(refused.value)
        at_new_minimum = client.deposit(alice, 1, ETH_RECIPIENT, 2 * UNIT)
        final = ChainReader(chain).finalized_head().block_number

        watcher = PhalaWatcher(config)
        try:
            messages, rejected, position = asyncio.run(poll_until(watcher, None, final))
        finally:
            watcher.close()
        assert [(m.source.block_number, m.source.index, m.nonce, m.source_amount) for m in messages] == [
            (numbered.block_number, numbered.extrinsic_index, 1, 3 * UNIT // 2),
            (at_new_minimum.block_number, at_new_minimum.extrinsic_index, 2, 2 * UNIT),
        ]
        assert position.sequence == 2
        ((held, reason),) = [(r.extrinsic_hash, r.reason) for r in rejected]
        assert held == dust.extrinsic_hash
        assert reason.startswith("below_minimum: a transfer to domain 1 must carry at least 2 PHA (2000000000000")
        assert client.message_of(at_new_minimum) == messages[1].id_hex  # the client counts as the nodes do
        assert client.message_of(numbered) == messages[0].id_hex
    finally:
        client.close()

    async def members() -> list[MutableMapping[str, Any]]:
        resumed = PhalaSourceVerifier(config, checkpoints=DepositCheckpoints(store, "deposits"))
        fresh = PhalaSourceVerifier(config)  # a full scan under the schedule
        past = replace(config, min_deposit={1: MinimumSchedule(before, (MinimumChange(numbered.block_number, after),))})
        rewritten = PhalaSourceVerifier(past, checkpoints=DepositCheckpoints(store, "deposits"))
        differs = PhalaSourceVerifier(unchanged)  # a member that never scheduled the raise
        try:
            with structlog.testing.capture_logs() as logs:
                await resumed.check_messages(messages)  # resumed from the old config's snapshot, then read on
                await fresh.check_messages(messages)
                with pytest.raises(VerificationRefused) as info:
                    await rewritten.check_messages([messages[0]])  # 1.5 PHA under 2 PHA there: never numbered
                assert info.value.code in {"mismatch", "absent"}
                with pytest.raises(VerificationRefused) as info:
                    await differs.check_messages([messages[1]])  # it numbers the held 1.5 PHA as deposit 2
                assert info.value.code == "mismatch"
            return logs
        finally:
            for verifier in (resumed, fresh, rewritten, differs):
                verifier.close()

    logs = asyncio.run(members())
    taken = [e for e in logs if e["event"] == "index_resumed"]
    assert len(taken) == 1 and taken[0]["block"] == saved_at.block_number  # the change lay above its position
    ((fallback),) = [e for e in logs if e["event"] == "index_checkpoint_fallback"]
    assert fallback["reason"] == "other_config"
    assert f"from block {numbered.block_number}" in str(fallback["detail"])
    assert "another deployment's numbering" in str(fallback["detail"])


def _deposit_call(chain: SubstrateClient, account: bytes, amount: int, kind: IntentKind) -> object:
    """The deposit extrinsic's call, built by hand (what a client ignoring the minimum sends)."""
    intent = Intent(kind, 1, RID, ETH_RECIPIENT, b"\x01" if kind is IntentKind.CALL else b"")
    return chain.compose_call(
        "Utility",
        "batch_all",
        {
            "calls": [
                chain.compose_call("Balances", "transfer_keep_alive", {"dest": "0x" + account.hex(), "value": amount}),
                chain.compose_call("System", "remark_with_event", {"remark": "0x" + encode_intent(intent).hex()}),
            ]
        },
    )


# ---- into Phala: the destination -------------------------------------------------------------------------------------


def test_a_batch_is_executed_exactly_once(chain: SubstrateClient, bridge: Bridge) -> None:
    dest, signer = PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    messages = [inbound(3 * UNIT // 2), inbound(2 * UNIT), inbound(UNIT // 4)]

    async def run() -> None:
        request = await dest.prepare(messages)
        assert set(request.message_ids) == {m.id_hex for m in messages}
        tx = await dest.submit(request, await signer.sign(request, messages))
        result = await confirm_final(dest, tx, request.message_ids)
        assert result.executed == set(request.message_ids) and not result.failed
        for m in messages:
            assert chain.free_balance(m.recipient) == m.amount

        # The chain now says they are executed: a second attempt is refused before anything is signed.
        assert await dest.already_executed(messages) == set(request.message_ids)
        with pytest.raises(NothingToExecute) as refused:
            await dest.prepare(messages)
        assert refused.value.executed == set(request.message_ids)
        with pytest.raises(SigningRefused, match=r"already executed|finalized nonce"):
            await signer.sign(request, messages)

        # The documented weight figures bound the real weight (gas_of and the batching budget rely on them).
        record = dest.index.extrinsic(tx)
        assert record is not None
        (ok,) = [
            e
            for e in chain.events(record.block_hash)
            if e.extrinsic_index == record.index and e.is_("System", "ExtrinsicSuccess")
        ]
        weight = int(ok.attributes["dispatch_info"]["weight"])
        assert weight <= bridge.config.batch_base_weight + len(messages) * bridge.config.transfer_weight

    try:
        asyncio.run(run())
    finally:
        dest.close()
        signer.verifier.close()


def test_a_message_below_the_existential_deposit_is_refunded_alone(chain: SubstrateClient, bridge: Bridge) -> None:
    """Refused for good on Phala: settled by a refund batch of its own (signed by members that re-judge it on their
    own chain view), paid nothing on Phala, and read back as a transfer to its depositor on Ethereum."""
    dest, signer = PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    ed = int(chain.constant("Balances", "ExistentialDeposit"))
    good = [inbound(UNIT), inbound(5 * UNIT)]
    tiny = inbound(ed - 1)
    view = ReplyView(bridge.config)
    try:
        executed, failed, batches = asyncio.run(settle(dest, signer, [*good, tiny]))
        view.session.run_sync(view.sync)
        refunds = [m for m in view.replies() if is_refund(m)]
        paid = asyncio.run(dest.already_executed([tiny]))
    finally:
        dest.close()
        signer.verifier.close()
        view.close()
    assert executed == {m.id_hex for m in good}
    assert set(failed) == {tiny.id_hex}
    assert failed[tiny.id_hex].startswith(f"refunded to 0x{ETH_RECIPIENT.hex()} on Ethereum as message 0x")
    assert "below Phala's existential deposit" in failed[tiny.id_hex]
    assert batches == [(tiny.id_hex,), tuple(m.id_hex for m in sorted(good, key=lambda m: -m.amount))]
    for m in good:
        assert chain.free_balance(m.recipient) == m.amount
    assert chain.free_balance(tiny.recipient) == 0
    (back,) = [m for m in refunds if m.recipient == tiny.sender and m.amount == tiny.source_amount]
    assert back.nonce == refund_nonce(tiny.nonce) and back.source_amount == tiny.amount
    assert paid == frozenset()  # settled on Phala, but not paid there: not executed


def set_bridge_free(chain: SubstrateClient, bridge: Bridge, free: int) -> None:
    """The bridge account's free balance, its nonce kept (the batches already signed used the ones before), in a
    new block: the dispatcher keeps the account's state by block hash."""
    reader = ChainReader(chain)
    nonce = reader.account(bridge.config.bridge_account, reader.finalized_head().block_hash).nonce
    entry = [["0x" + bridge.config.bridge_account.hex()], {"nonce": nonce, "providers": 1, "data": {"free": str(free)}}]
    set_storage(chain, {"System": {"Account": [entry]}})
    new_block(chain)


def top_up_bridge(chain: SubstrateClient, bridge: Bridge, amount: int) -> None:
    reader = ChainReader(chain)
    free = reader.account(bridge.config.bridge_account, reader.finalized_head().block_hash).free
    set_bridge_free(chain, bridge, free + amount)


async def execute(
    dest: PhalaDestination, signer: FrostBatchSigner, request: SigningRequest, messages: list[BridgeMessage]
) -> tuple[str, ...]:
    """Sign, submit and confirm `request`: every message it carries executed. Returns their ids."""
    tx = await dest.submit(request, await signer.sign(request, messages))
    result = await confirm_final(dest, tx, request.message_ids)
    assert result.executed == set(request.message_ids) and not result.failed, result
    return request.message_ids


def test_a_large_transfer_unpaid_for_long_enough_has_inflows_held_for_it(
    chain: SubstrateClient, bridge: Bridge
) -> None:
    """The bridge account can pay 3 PHA: a 5 PHA transfer waits while a 1 PHA one is paid. Once the large one has
    waited `liquidity_hold_after` (0 here), the next small one is no longer paid from its share (a leader without
    the hold would pay it); topped up, the large one is paid first, then the small one."""
    ed = int(chain.constant("Balances", "ExistentialDeposit"))
    held_config = replace(bridge.config, liquidity_hold_after=0.0)
    dest, eager, signer = PhalaDestination(held_config), PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    big, small1, small2 = inbound(5 * UNIT), inbound(UNIT), inbound(UNIT)

    async def run() -> None:
        set_bridge_free(chain, bridge, ed + bridge.config.fee_reserve + 3 * UNIT)
        request = await dest.prepare([big, small1])
        assert request.message_ids == (small1.id_hex,)  # the large one does not fit: it waits, unpaid
        await execute(dest, signer, request, [big, small1])

        # the same chain state: the eager leader still pays the small one; the holding one sets 5 PHA aside
        assert (await eager.prepare([big, small2])).message_ids == (small2.id_hex,)
        with pytest.raises(InsufficientLiquidity):
            await dest.prepare([big, small2])

        top_up_bridge(chain, bridge, 5 * UNIT)  # ~7 PHA spendable (less fees): both, the large one first
        request = await dest.prepare([big, small2])
        assert request.message_ids == (big.id_hex, small2.id_hex)
        await execute(dest, signer, request, [big, small2])
        assert dest.liquidity.waiting() == []

    try:
        asyncio.run(run())
        for m in (big, small1, small2):
            assert chain.free_balance(m.recipient) == m.amount
    finally:
        set_bridge_free(chain, bridge, 1_000 * UNIT)
        for d in (dest, eager):
            d.close()
        signer.verifier.close()


def test_a_batch_that_fails_on_chain_is_isolated_by_halves(chain: SubstrateClient, bridge: Bridge) -> None:
    """The recipient of the small transfer exists when the batch is prepared and is reaped before it lands (a race
    no up-front check can see): `batch_all` fails atomically with `Balances.ExistentialDeposit`, the dispatcher
    halves the batch, the innocent half executes, and the small transfer fails alone with the runtime's reason."""
    alice = keypair_from_uri("//Alice", chain.ss58_format)
    racer = Keypair.create_from_uri(f"//racer-{os.urandom(8).hex()}", ss58_format=chain.ss58_format)
    ed = int(chain.constant("Balances", "ExistentialDeposit"))
    good = [inbound(2 * UNIT), inbound(UNIT)]
    tiny = inbound(ed - 1, racer.public_key)

    def create_racer() -> None:
        if chain.free_balance(racer.public_key) == 0:
            fund = chain.compose_call("Balances", "transfer_keep_alive", {"dest": racer.ss58_address, "value": UNIT})
            chain.submit(fund, alice).raise_for_failure()

    def reap_racer(request: SigningRequest) -> None:
        if tiny.id_hex in request.message_ids:
            drain = chain.compose_call("Balances", "transfer_all", {"dest": alice.ss58_address, "keep_alive": False})
            chain.submit(drain, racer).raise_for_failure()
            assert chain.free_balance(racer.public_key) == 0

    dest, signer = PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    try:
        executed, failed, batches = asyncio.run(
            settle(dest, signer, [*good, tiny], before_prepare=create_racer, before_submit=reap_racer)
        )
    finally:
        dest.close()
        signer.verifier.close()
    assert executed == {m.id_hex for m in good}
    assert failed == {tiny.id_hex: failed[tiny.id_hex]}
    assert failed[tiny.id_hex].startswith("Balances.ExistentialDeposit")
    ids = [m.id_hex for m in good]
    assert batches == [(*ids, tiny.id_hex), tuple(ids), (tiny.id_hex,)]
    for m in good:
        assert chain.free_balance(m.recipient) == m.amount


def test_a_suspect_group_the_bridge_cannot_pay_does_not_block_the_lane(chain: SubstrateClient, bridge: Bridge) -> None:
    """A failed batch left two suspect groups (as the halving above does); the bridge account cannot pay the group
    being probed. The next batch carries the message no group suspects instead of nothing; topped up, the probe goes
    alone, as the isolation needs."""
    ed = int(chain.constant("Balances", "ExistentialDeposit"))
    dest, signer = PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    big, other, innocent = inbound(5 * UNIT), inbound(UNIT // 2), inbound(UNIT)
    dest.isolator.failed([big.id_hex, other.id_hex], "Balances.ExistentialDeposit")  # groups {big}, {other}

    async def pay(messages: list[BridgeMessage]) -> tuple[str, ...]:
        return await execute(dest, signer, await dest.prepare(messages), messages)

    async def run() -> None:
        set_bridge_free(chain, bridge, ed + bridge.config.fee_reserve + 3 * UNIT)
        assert await pay([big, other, innocent]) == (innocent.id_hex,)  # not the unpayable probe, nor the other group
        top_up_bridge(chain, bridge, 10 * UNIT)
        assert await pay([big, other]) == (big.id_hex,)  # the probe, alone
        assert await pay([other]) == (other.id_hex,)

    try:
        asyncio.run(run())
        for m in (big, other, innocent):
            assert chain.free_balance(m.recipient) == m.amount
    finally:
        set_bridge_free(chain, bridge, 1_000 * UNIT)
        dest.close()
        signer.verifier.close()


def test_a_request_built_for_other_messages_fails_the_rebuild(bridge: Bridge) -> None:
    dest, signer = PhalaDestination(bridge.config), FrostBatchSigner(bridge)
    messages = [inbound(UNIT), inbound(2 * UNIT)]
    forged = [messages[0].model_copy(update={"recipient": os.urandom(32)}), messages[1]]  # same ids, other payee

    async def run() -> None:
        request = await dest.prepare(messages)
        with pytest.raises(RebuildMismatch, match="call is not the batch"):
            await signer.verifier.check(request, forged)
        with pytest.raises(RebuildMismatch, match="not given to verify"):
            await signer.verifier.check(request, [inbound(UNIT), inbound(2 * UNIT)])
        with pytest.raises(SigningRefused):
            await signer.sign(request, forged)
        assert await signer.verifier.check(request, messages) == request.payload

    try:
        asyncio.run(run())
    finally:
        dest.close()
        signer.verifier.close()


def _count_reads(verifier: PhalaVerifier, calls: list[str]) -> None:
    """Record every RPC the verifier's own connection makes from now on."""

    def wrap(reader: ChainReader) -> None:
        client = reader.client
        rpc, query = client.rpc, client.query

        def counted_rpc(method: str, params: list[object]) -> object:
            calls.append(method)
            return rpc(method, params)

        def counted_query(*args: object, **kwargs: object) -> object:
            calls.append("query")
            return query(*args, **kwargs)  # type: ignore[arg-type]

        client.rpc = counted_rpc  # type: ignore[method-assign]
        client.query = counted_query  # type: ignore[method-assign]

    verifier.session.run_sync(wrap)


def test_a_verifier_that_follows_the_chain_reads_only_the_head_in_a_session(bridge: Bridge) -> None:
    """The enclave's follower keeps the executed index and the bridge account's nonce current between sessions;
    a session then costs one round trip (the finalized head) instead of reading every block since the last one."""
    followed, cold = PhalaVerifier(bridge.config), PhalaVerifier(bridge.config)

    async def run() -> None:
        await followed.follow_once()
        warm_calls: list[str] = []
        _count_reads(followed, warm_calls)
        facts = await followed.facts([])
        assert warm_calls == ["chain_getFinalizedHead"]
        # The same facts as a verifier that reads everything now (and that read is not one round trip).
        await cold.session.run(lambda _r: None)
        cold_calls: list[str] = []
        _count_reads(cold, cold_calls)
        assert await cold.facts([]) == facts
        assert len(cold_calls) > 3 and "query" in cold_calls

    try:
        asyncio.run(run())
    finally:
        followed.close()
        cold.close()
