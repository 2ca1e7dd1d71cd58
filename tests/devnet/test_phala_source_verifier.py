"""An enclave's independent check of Phala deposits: its own watcher over its own connection must agree with the
relayer's message in every field, including the dense deposit number."""

from __future__ import annotations

import asyncio
import os

import pytest

from bridge.devnet import DevnetState
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.ports import VerificationRefused
from relayers.substrate import PhalaConfig, PhalaWatcher, SubstrateClient, keypair_from_uri
from relayers.substrate.chain import ChainReader
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
