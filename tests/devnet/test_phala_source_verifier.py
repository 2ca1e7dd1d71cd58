"""An enclave's independent check of Phala deposits: its own watcher over its own connection must agree with the
relayer's message in every field, including the dense deposit number."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import structlog

from bridge.devnet import DevnetState
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.messages import BridgeMessage
from bridge.ports import VerificationRefused
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.sealing import Sealer
from relayers.substrate import PhalaConfig, PhalaWatcher, SubstrateClient, keypair_from_uri
from relayers.substrate.chain import ChainReader, RawBlock
from relayers.substrate.deposit_checkpoint import DepositCheckpoints
from relayers.substrate.devnet import new_block
from relayers.substrate.source_verifier import PhalaSourceVerifier

pytestmark = pytest.mark.devnet

UNIT = 10**12
RID = bytes.fromhex("209ac63481437ccc57c869087ff12313991c325a82d4621a7241f3f1865df803")
ETH = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


def test_verifier_agrees_with_the_watcher_and_refuses_anything_else(devnet: DevnetState) -> None:
    bridge_account = os.urandom(32)  # a fresh bridge account: this test's deposits are the only ones
    with SubstrateClient(devnet.phala.ws_url) as chain:
        start = ChainReader(chain).finalized_head().block_number + 1
        config = PhalaConfig(url=devnet.phala.ws_url, bridge_account=bridge_account, resource_id=RID, start_block=start)
        alice = keypair_from_uri("//Alice", chain.ss58_format)
        intent = encode_intent(Intent(IntentKind.TRANSFER, 1, RID, ETH))
        for amount in (3 * UNIT, 5 * UNIT):
            call = chain.compose_call(
                "Utility",
                "batch_all",
                {
                    "calls": [
                        chain.compose_call(
                            "Balances", "transfer_keep_alive", {"dest": "0x" + bridge_account.hex(), "value": amount}
                        ),
                        chain.compose_call("System", "remark_with_event", {"remark": "0x" + intent.hex()}),
                    ]
                },
            )
            chain.submit(call, alice).raise_for_failure()

    async def scenario() -> None:
        watcher = PhalaWatcher(config)
        verifier = PhalaSourceVerifier(config)
        try:
            result = await watcher.poll(None)
            first, second = result.messages
            assert (first.nonce, second.nonce) == (1, 2)  # dense deposit numbers from the start block
            assert result.position.sequence == 2
            await verifier.check_messages([first, second])  # agrees
            # the sender is the extrinsic's signer: what a call's origin on Ethereum is built from
            assert first.sender == alice.public_key

            with pytest.raises(VerificationRefused) as info:
                await verifier.check_messages([first.model_copy(update={"sender": os.urandom(32)})])
            assert info.value.code == "mismatch" and "sender" in info.value.reason

            with pytest.raises(VerificationRefused) as info:
                await verifier.check_messages([second.model_copy(update={"amount": second.amount + 10**6})])
            assert info.value.code == "mismatch" and "amount" in info.value.reason

            with pytest.raises(VerificationRefused) as info:
                await verifier.check_messages([first.model_copy(update={"recipient": os.urandom(20)})])
            assert info.value.code == "mismatch" and "recipient" in info.value.reason

            invented = first.model_copy(update={"nonce": 3})  # a deposit nobody made
            with pytest.raises(VerificationRefused) as info:
                await verifier.check_messages([invented])
            assert info.value.code == "absent"
        finally:
            watcher.close()
            verifier.close()

    asyncio.run(scenario())


class _CountingReader(ChainReader):
    def __init__(self, client: SubstrateClient) -> None:
        super().__init__(client)
        self.blocks_read: list[int] = []

    def block(self, block_hash: str) -> RawBlock:
        block = super().block(block_hash)
        self.blocks_read.append(block.number)
        return block


def _deposit(chain: SubstrateClient, bridge_account: bytes, amount: int) -> int:
    alice = keypair_from_uri("//Alice", chain.ss58_format)
    intent = encode_intent(Intent(IntentKind.TRANSFER, 1, RID, ETH))
    transfer = {"dest": "0x" + bridge_account.hex(), "value": amount}
    call = chain.compose_call(
        "Utility",
        "batch_all",
        {
            "calls": [
                chain.compose_call("Balances", "transfer_keep_alive", transfer),
                chain.compose_call("System", "remark_with_event", {"remark": "0x" + intent.hex()}),
            ]
        },
    )
    return int(chain.submit(call, alice).raise_for_failure().block_number)


@pytest.mark.usefixtures("all_log_levels")  # index_resumed (info) is asserted on
def test_a_restarted_verifier_resumes_from_its_sealed_checkpoint(devnet: DevnetState, tmp_path: Path) -> None:
    """Resumed from a sealed snapshot, the verifier reads only the newer blocks, plus the one block of each old
    deposit a session asks about (numbered from the count the snapshot kept), and judges them as a full scan does."""
    bridge_account = os.urandom(32)
    store = SealedCheckpoints(Sealer(b"\x07" * 32), tmp_path / "checkpoints")
    with SubstrateClient(devnet.phala.ws_url, timeout=300) as chain:  # dev_newBlock with a count: slow when busy
        start = ChainReader(chain).finalized_head().block_number + 1
        config = PhalaConfig(url=devnet.phala.ws_url, bridge_account=bridge_account, resource_id=RID, start_block=start)
        old_blocks = [_deposit(chain, bridge_account, a * UNIT) for a in (3, 5)]
        new_block(chain, count=3)

        async def before_restart() -> list[BridgeMessage]:
            verifier = PhalaSourceVerifier(config, checkpoints=DepositCheckpoints(store, "deposits"))
            try:
                position = await verifier.catch_up()
                assert position is not None and position.sequence == 2
                assert verifier.save_checkpoint()
                return list(verifier._seen.values())
            finally:
                verifier.close()

        old = asyncio.run(before_restart())
        snapshot_at = ChainReader(chain).finalized_head().block_number
        new_block(chain, count=4)
        newer = _deposit(chain, bridge_account, 7 * UNIT)

    async def after_restart() -> tuple[list[int], list[int]]:
        watcher = PhalaWatcher(config)
        verifier = PhalaSourceVerifier(config, checkpoints=DepositCheckpoints(store, "deposits"))
        client = SubstrateClient(devnet.phala.ws_url)
        reader = _CountingReader(client)
        verifier._watcher.session._reader = reader  # the real reader, counted
        try:
            full = (await watcher.poll(None)).messages
            assert [m.nonce for m in full] == [1, 2, 3]
            with structlog.testing.capture_logs() as logs:
                await verifier.catch_up()
            assert [e["block"] for e in logs if e["event"] == "index_resumed"] == [snapshot_at]
            after_resume = list(reader.blocks_read)
            await verifier.check_messages(full)  # old ones re-read from their blocks, numbered as a full scan does
            await verifier.check_messages(full)  # ...once
            refused = [
                full[0].model_copy(update={"amount": full[0].amount + 10**6}),  # an old deposit, altered
                full[1].model_copy(update={"nonce": 9}),  # an old block, a deposit nobody made
                # a deposit nobody made, in an old block that held none (not read: the snapshot says so)
                full[0].model_copy(
                    update={"nonce": 10, "source": full[0].source.model_copy(update={"block_number": snapshot_at})}
                ),
            ]
            for bad, code in zip(refused, ["mismatch", "absent", "absent"], strict=True):
                with pytest.raises(VerificationRefused) as info:
                    await verifier.check_messages([bad])
                assert info.value.code == code
            return after_resume, reader.blocks_read[len(after_resume) :]
        finally:
            watcher.close()
            verifier.close()

    after_resume, on_demand = asyncio.run(after_restart())
    assert after_resume == list(range(snapshot_at + 1, after_resume[-1] + 1)) and newer in after_resume
    assert sorted(on_demand) == sorted(set(old_blocks)) and [m.nonce for m in old] == [1, 2]
