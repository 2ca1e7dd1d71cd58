"""Audit finding: the batches the relayer forms for Ethereum must fit what an Ethereum node accepts.

A Phala user's call intent carries up to MAX_CALL_PAYLOAD (8 KiB) of calldata for an allow-listed target, and any
user can send many. The pipeline's batch budget (`BatchPolicy.max_gas`, filled with `EthereumDestination.gas_of`)
used to count a call item as its target's gas plus a fixed overhead, not its calldata: under the default 8M budget
it admitted 36 such calls, a transaction of ~296 KB whose gas is ~11.9M. Ethereum nodes refuse a transaction above
128 KiB from their pools (geth's and reth's txMaxSize), so that submission fails, the messages go back to
`verified`, the next round forms the same batch, and every Phala -> Ethereum message behind them waits for good.

Against a real anvil loaded from the committed fixture: the batch the pipeline forms from such messages is prepared
by the destination, signed by a FROST committee, and its exact executeBatch calldata must stay under the pool limit
and its gas under the budget the batch was formed with.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from bridge.batching import Batcher, BatchPolicy
from bridge.devnet.anvil import start_anvil
from bridge.devnet.processes import ProcessSupervisor
from bridge.evm import decompress_point, encode_signature, execute_batch_calldata
from bridge.intents import MAX_CALL_PAYLOAD
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from enclave_signer.frost import SECP256K1, KeyShare, sign_with_shares, trusted_dealer_keygen
from relayers.ethereum import EthereumBatchVerifier, EthereumConfig, EthereumDestination
from relayers.ethereum.contracts import contract_at, send

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "anvil-fixtures" / "devnet-state.json"
CHAIN_ID = 31337
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
RECORDER = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"  # allow-listed in the fixture
# The largest transaction geth and reth keep in their pools (txMaxSize: 4 slots of 32 KiB); larger is refused.
POOL_MAX_TX_BYTES = 128 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Web3, str, bytes, list[KeyShare]]]:
    work = tmp_path_factory.mktemp("batch-bounds")
    supervisor = ProcessSupervisor(work / "logs")
    anvil = start_anvil(supervisor, chain_id=CHAIN_ID, load_state=STATE)
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 60}))
        group_pk, shares = trusted_dealer_keygen(SECP256K1, n=5, t=3)
        x, y = decompress_point(group_pk)
        send(w3, contract_at(w3, "Bridge", BRIDGE).functions.initializeKey(x, y), w3.eth.accounts[0])
        yield w3, anvil.rpc_url, group_pk, list(shares)
    finally:
        supervisor.stop_all()


def user_call(nonce: int, payload: bytes) -> BridgeMessage:
    """A Phala user's call intent to the allow-listed recorder, as the Phala watcher produces it."""
    return BridgeMessage(
        source_domain=2,
        dest_domain=1,
        nonce=nonce,
        kind=MessageKind.CALL,
        sender=os.urandom(32),
        recipient=bytes.fromhex(RECORDER[2:]),
        payload=payload,
        source=SourceRef(block_number=nonce, block_hash=os.urandom(32), tx_hash=os.urandom(32), index=0),
    )


def first_batch(policy: BatchPolicy, dest: EthereumDestination, messages: list[BridgeMessage]) -> list[BridgeMessage]:
    """The first batch the pipeline's batcher closes for these messages (its submit loop's rule)."""
    batcher: Batcher[BridgeMessage] = Batcher(policy, dest.gas_of)
    for m in messages:
        closed = batcher.add(1, m, 0.0)
        if closed:
            return closed[0]
    return batcher.due(0.0)[0][1]


@pytest.mark.parametrize("max_gas", [BatchPolicy().max_gas, 30_000_000])  # the default and the schema's maximum
def test_a_batch_of_large_user_calls_fits_a_transaction_and_its_budget(
    node: tuple[Web3, str, bytes, list[KeyShare]], max_gas: int
) -> None:
    w3, url, group_pk, shares = node
    config: dict[str, Any] = dict(rpc_url=url, chain_id=CHAIN_ID, bridge_address=BRIDGE, confirmations=0)
    dest = EthereumDestination(EthereumConfig(**config))
    policy = BatchPolicy(max_gas=max_gas)
    messages = [user_call(n, os.urandom(MAX_CALL_PAYLOAD)) for n in range(1, 161)]

    batch = first_batch(policy, dest, messages)
    request = asyncio.run(dest.prepare(batch))
    covered = [m for m in batch if m.id_hex in set(request.message_ids)]
    digest = asyncio.run(EthereumBatchVerifier(EthereumConfig(**config)).check(request, covered))
    signature = sign_with_shares(SECP256K1, [shares[0], shares[2], shares[4]], digest)
    data = execute_batch_calldata(
        bytes.fromhex(str(request.context["batch"])[2:]), encode_signature(signature, group_pk)
    )
    # web3 annotates `accounts` as a 1-tuple (tuple[ChecksumAddress]); anvil has ten.
    gas = w3.eth.estimate_gas({"from": w3.eth.accounts[9], "to": BRIDGE, "data": Web3.to_hex(data)})  # type: ignore[misc]

    calls, size = len(request.message_ids), len(data)
    assert calls >= 1
    # room left for the rest of the signed transaction: envelope, signature, access list
    assert size <= POOL_MAX_TX_BYTES - 4096, f"{calls} calls: {size} bytes of calldata"
    assert gas <= policy.max_gas, f"{calls} calls: {gas} gas, budget {policy.max_gas}"
