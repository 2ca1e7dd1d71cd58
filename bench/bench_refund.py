"""How long a deposit Phala refuses for good takes to come back (docs/phala-side.md, section 5, "Refused for good is
refunded"), on the whole devnet bridge (anvil, Chopsticks, broker, 5 enclaves at 3-of-5, 5 relayers).

From the deposit's Ethereum receipt to the refund's release executed on Ethereum: Ethereum finality, the Phala refund
batch (signed, included, finalized), the refund note read back, then a Phala -> Ethereum release. Beside it, in the
same run, a deposit Phala pays (receipt to the recipient credited on Phala), the first half of the same path. No
target: the issue sets none; the figure tells an operator what a refunded user waits.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.results import record
from bridge.client import EthereumClient, PhalaClient
from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.domains import Domain
from bridge.network import NetworkInfo
from bridge.refunds import refund_nonce

RUNS = 5
UNIT_ETH = 10**18


def _until(what: str, check: Callable[[], bool], timeout: float = 180.0) -> float:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return time.perf_counter()


def _refund_executed(eth: EthereumClient, deposit_nonce: int) -> Callable[[], bool]:
    return lambda: eth.is_executed(int(Domain.PHALA), refund_nonce(deposit_nonce))


def _credited(phala: PhalaClient, account: bytes) -> Callable[[], bool]:
    return lambda: phala.free_balance(account) > 0


def _runs(net: NetworkInfo) -> tuple[list[float], list[float]]:
    rid = bytes.fromhex(net.pha_resource_id[2:])
    user = ethereum_dev_accounts(3)[2]
    eth = EthereumClient(net.ethereum, user.private_key)
    phala = PhalaClient(net.phala, rid)
    bridge_account = bytes.fromhex(net.phala.bridge_account[2:])
    refunded, paid = [], []
    try:
        for _ in range(RUNS):
            before = eth.pha_balance(user.address)
            deposit = eth.deposit_pha(2, bridge_account, UNIT_ETH, rid)  # returns at its receipt
            t0 = time.perf_counter()
            done = _until("a refund", _refund_executed(eth, deposit.nonce))
            if eth.pha_balance(user.address) != before:
                raise RuntimeError("the refund did not restore the depositor's balance")
            refunded.append(done - t0)

            recipient = os.urandom(32)
            eth.deposit_pha(2, recipient, UNIT_ETH, rid)
            t0 = time.perf_counter()
            paid.append(_until("a payment on Phala", _credited(phala, recipient)) - t0)
    finally:
        phala.close()
    return refunded, paid


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-refund-") as work:
        devnet = Devnet(DevnetSection(), work_dir=Path(work), committee=True)
        devnet.start()
        try:
            assert devnet.state is not None and devnet.state.network_file
            net = NetworkInfo.model_validate_json(Path(devnet.state.network_file).read_text())
            refunded, paid = _runs(net)
        finally:
            devnet.stop()
    note = f"p50 of {RUNS}; min {min(refunded):.2f} s, max {max(refunded):.2f} s; anvil 1 s blocks, 2 conf."
    record("refund.ethereum_deposit_to_refund_executed_s", statistics.median(refunded), "s", note=note)
    note = f"p50 of {RUNS}, same run; min {min(paid):.2f} s, max {max(paid):.2f} s: the refund's first half"
    record("refund.ethereum_deposit_to_phala_payment_s", statistics.median(paid), "s", note=note)


if __name__ == "__main__":
    main()
