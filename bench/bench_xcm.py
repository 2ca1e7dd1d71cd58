"""XCM gateway benchmark: time to delivery on the peer parachain (p50 over a handful of runs).

One whole bridge devnet (anvil, two Chopsticks parachains with XCMP, Mosquitto, 5 enclaves, 5 relayers, the
devnet's XCM origin). Two figures:

- `xcm.phala_submission_to_peer_delivery_s`: from submitting a gateway extrinsic on Phala (the bridge's shape:
  `batch_all([transfer_keep_alive(reserve), remark(gateway record), remark(executed record)])`) to the beneficiary's
  balance appearing on the peer. Signed by a bench-local ed25519 account with its own `DevnetRelayOrigin` (the
  committee's key cannot sign outside the enclaves); includes inclusion on Phala, the origin's 0.2 s poll, the
  relay's downward message and the XCMP hop.
- `xcm.ethereum_deposit_to_peer_delivery_s`: from sending the Ethereum deposit (recipient: an XCM destination for the
  peer) to the beneficiary's balance on the peer: anvil's 1 s blocks and 2 confirmations, the relayers, a FROST
  signing round, Phala, the XCM origin and XCMP.

Run: `python -m bench xcm` (PB_BENCH_XCM_RUNS, default 5).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.results import record
from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.gateway import (
    BeneficiaryKind,
    GatewayRecord,
    GatewayStatus,
    XcmDestination,
    encode_destination,
    encode_program_v2,
    encode_record,
    encode_sibling_dest,
)
from bridge.intents import encode_executed
from bridge.network import NetworkInfo
from relayers.substrate import SubstrateClient, keypair_from_ed25519_seed, set_free_balance
from relayers.substrate.bridge_calls import Remark, Transfer
from relayers.substrate.chain import ChainReader
from relayers.substrate.xcm_origin import DevnetRelayOrigin

RUNS = int(os.environ.get("PB_BENCH_XCM_RUNS", "5"))
UNIT = 10**12
USER = 4


def _account() -> bytes:
    return os.urandom(32)


def _wait_credit(peer: SubstrateClient, who: bytes, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while peer.free_balance(who) == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"0x{who.hex()} not credited on the peer within {timeout}s")
        time.sleep(0.05)
    return time.perf_counter()


def _phala_leg(net: NetworkInfo, runs: int) -> list[float]:
    assert net.gateway is not None and net.gateway.parachains["peer"].ws_url
    seed = "0x" + os.urandom(32).hex()
    phala = SubstrateClient(net.phala.ws_url, timeout=30)
    origin_client = SubstrateClient(net.phala.ws_url, timeout=30)
    peer = SubstrateClient(net.gateway.parachains["peer"].ws_url, timeout=30)
    signer = keypair_from_ed25519_seed(seed, phala.ss58_format)
    set_free_balance(phala, signer.public_key, 1000 * UNIT)
    reader = ChainReader(phala)
    origin = DevnetRelayOrigin(origin_client, signer.public_key, start_block=reader.finalized_head().block_number + 1)
    stop = threading.Event()
    thread = threading.Thread(target=origin.run, args=(stop.is_set,), daemon=True)
    thread.start()
    reserve = bytes.fromhex(net.gateway.reserve_account[2:])
    times = []
    try:
        for run in range(runs):
            beneficiary = _account()
            amount = UNIT
            dest = XcmDestination(_account(), 2, 1000, BeneficiaryKind.ACCOUNT_ID32, beneficiary, 20_000_000)
            mid = os.urandom(32)
            record_bytes = encode_record(
                GatewayRecord(
                    mid, GatewayStatus.SENT, 1000, encode_sibling_dest(1000),
                    encode_program_v2(amount, dest, 10**10 + 10**6 + run),
                )
            )  # fmt: skip
            call = reader.compose_calls(
                [Transfer(reserve, amount), Remark(record_bytes), Remark(encode_executed([mid]))]
            )
            t0 = time.perf_counter()
            phala.submit(call, signer).raise_for_failure()
            times.append(_wait_credit(peer, beneficiary) - t0)
    finally:
        stop.set()
        thread.join(timeout=5)
        for c in (phala, origin_client, peer):
            c.close()
    return times


def _ethereum_leg(net: NetworkInfo, runs: int) -> list[float]:
    from eth_account import Account
    from web3 import Web3

    from bridge.client import EthereumClient
    from relayers.ethereum.contracts import contract_at, send

    assert net.gateway is not None and net.gateway.parachains["peer"].ws_url
    user = ethereum_dev_accounts(USER + 1)[USER]
    w3 = Web3(Web3.HTTPProvider(net.ethereum.rpc_url))
    token = contract_at(w3, "PhaToken", net.ethereum.pha_token)
    send(w3, token.functions.approve(net.ethereum.bridge, 2**255), Account.from_key(user.private_key))
    eth = EthereumClient(net.ethereum, user.private_key, timeout=30)
    peer = SubstrateClient(net.gateway.parachains["peer"].ws_url, timeout=30)
    rid = bytes.fromhex(net.pha_resource_id[2:])
    times = []
    try:
        for _ in range(runs):
            beneficiary = _account()
            dest = XcmDestination(_account(), 2, 1000, BeneficiaryKind.ACCOUNT_ID32, beneficiary, 20_000_000)
            t0 = time.perf_counter()
            eth.deposit_pha(2, encode_destination(dest), 10**18, rid)
            times.append(_wait_credit(peer, beneficiary, timeout=180) - t0)
    finally:
        peer.close()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-xcm-") as work:
        devnet = Devnet(DevnetSection(), work_dir=Path(work), committee=True)
        devnet.start()
        try:
            assert devnet.state is not None and devnet.state.network_file
            net = NetworkInfo.model_validate_json(Path(devnet.state.network_file).read_text())
            phala_times = _phala_leg(net, RUNS)
            eth_times = _ethereum_leg(net, RUNS)
        finally:
            devnet.stop()
    note = f"p50 of {RUNS} runs; min {min(phala_times):.2f} s, max {max(phala_times):.2f} s"
    record("xcm.phala_submission_to_peer_delivery_s", statistics.median(phala_times), "s", note=note)
    note = f"p50 of {RUNS} runs; min {min(eth_times):.2f} s, max {max(eth_times):.2f} s; anvil 1 s blocks, 2 conf."
    record("xcm.ethereum_deposit_to_peer_delivery_s", statistics.median(eth_times), "s", note=note)


if __name__ == "__main__":
    main()
