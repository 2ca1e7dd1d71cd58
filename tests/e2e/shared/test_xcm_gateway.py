"""Ethereum -> Phala -> parachain through the real bridge: an Ethereum deposit whose recipient is an XCM destination,
executed by the committee on Phala (transfer to the gateway reserve + gateway record, FROST-signed), sent on by the
devnet's XCM origin (the relay stand-in) as root over the real XCMP channel, and followed on all three chains by
`phala-bridge status`. Then what fails: a destination that cannot pay (phala's sovereign account on the peer is
short), deposits the gateway cannot route (refunded to their fallback on Phala, with the reason on chain), and
CLI refusals before anything moves."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from substrateinterface import Keypair

from bridge.amounts import format_units
from bridge.client import EthereumClient, PhalaClient
from bridge.client.gateway import gateway_leg
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.gateway import (
    BeneficiaryKind,
    GatewayStatus,
    RefundReason,
    XcmDestination,
    encode_destination,
)
from bridge.network import NetworkInfo
from bridge.xcm import sibling_sovereign_account
from relayers.ethereum.errors import InvalidRecipient
from relayers.substrate import SubstrateClient, set_free_balance
from tests.e2e.conftest import run_cli, wait_for

pytestmark = pytest.mark.devnet

UNIT_ETH = 10**18
UNIT_PHA = 10**12
PHALA = 2
USER = 4  # anvil account 4: a PHA holder no other e2e test in this session uses


def _network(devnet: Devnet) -> tuple[str, NetworkInfo]:
    assert devnet.state is not None and devnet.state.network_file
    path = devnet.state.network_file
    return path, NetworkInfo.model_validate_json(Path(path).read_text())


def _peer_url(net: NetworkInfo) -> str:
    assert net.gateway is not None
    url = net.gateway.parachains["peer"].ws_url
    assert url is not None
    return url


def _fresh_account() -> bytes:
    return bytes(Keypair.create_from_seed(os.urandom(32).hex()).public_key)


def test_an_ethereum_deposit_is_delivered_on_the_parachain_and_followed_on_three_chains(
    bridge_devnet: Devnet,
) -> None:
    network, net = _network(bridge_devnet)
    beneficiary = _fresh_account()
    sovereign = sibling_sovereign_account(net.phala.para_id)
    with SubstrateClient(_peer_url(net)) as peer:
        sovereign_before = peer.free_balance(sovereign)
        out = run_cli(
            "transfer", "--from", "ethereum", "--to", "peer", "--amount", "2.5",
            "--recipient", "0x" + beneficiary.hex(), "--dev-account", str(USER), "--network", network,
            "--max-fee", "0.001",
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert "executed on phala" in out.stdout and "peer: delivered" in out.stdout, out.stdout
        # The peer is the final word: the beneficiary holds the amount less the execution fee, paid out of phala's
        # sovereign account there.
        received = peer.free_balance(beneficiary)
        paid = sovereign_before - peer.free_balance(sovereign)
        assert paid == 2_500_000_000_000
        assert 2_500_000_000_000 - 10**9 <= received < 2_500_000_000_000

    deposit_tx = re.search(r"deposited on ethereum in (0x[0-9a-f]{64})", out.stdout)
    assert deposit_tx is not None
    status = run_cli("status", deposit_tx.group(1), "--network", network)
    assert status.returncode == 0, status.stdout + status.stderr
    text = status.stdout
    assert "ethereum -> phala" in text and "state executed" in text  # leg 1: the Ethereum deposit, executed
    assert "sent on to para 1000" in text  # leg 2: the bridge account's extrinsic and its gateway record
    assert re.search(r"xcmp: message 0x[0-9a-f]{64} sent by phala in block \d+", text)  # leg 3: the XCMP message
    assert "peer: delivered in peer block" in text and f"{format_units(received, 12)} to the beneficiary" in text


def _deposit(net: NetworkInfo, recipient: bytes, amount_pha: str) -> tuple[str, int]:
    """A raw Ethereum deposit (no CLI checks): what a hand-made or another client's deposit looks like."""
    user = ethereum_dev_accounts(USER + 1)[USER]
    eth = EthereumClient(net.ethereum, user.private_key)
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        start = phala.finalized_block()
    finally:
        phala.close()
    amount = int(float(amount_pha) * 10) * UNIT_ETH // 10
    dep = eth.deposit_pha(PHALA, recipient, amount, bytes.fromhex(net.pha_resource_id[2:]))
    return dep.message_id, start


def _executed_leg(net: NetworkInfo, message_id: str, start: int) -> tuple[PhalaClient, object]:
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    tx = wait_for(f"{message_id} executed on phala", lambda: phala.execution_of(message_id, start), timeout=120)
    leg = gateway_leg(phala.client, tx.hash, tx.block_number, message_id)
    assert leg is not None, "the bridge extrinsic carries no gateway record for the message"
    return phala, leg


def test_a_destination_that_cannot_pay_is_reported_with_its_reason_and_nothing_is_lost(bridge_devnet: Devnet) -> None:
    network, net = _network(bridge_devnet)
    assert net.gateway is not None
    beneficiary = _fresh_account()
    sovereign = sibling_sovereign_account(net.phala.para_id)
    reserve = bytes.fromhex(net.gateway.reserve_account[2:])
    dest = XcmDestination(_fresh_account(), 2, 1000, BeneficiaryKind.ACCOUNT_ID32, beneficiary, 20_000_000)
    with SubstrateClient(_peer_url(net)) as peer:
        original = peer.free_balance(sovereign)
        set_free_balance(peer, sovereign, UNIT_PHA)  # phala's sovereign account on the peer holds 1 unit only
        try:
            phala_client = SubstrateClient(net.phala.ws_url)
            reserve_before = phala_client.free_balance(reserve)
            message_id, _ = _deposit(net, encode_destination(dest), "3")
            status = run_cli("status", message_id, "--network", network)
            deadline = time.monotonic() + 120
            while "peer: failed" not in status.stdout and time.monotonic() < deadline:
                time.sleep(1)
                status = run_cli("status", message_id, "--network", network)
            text = status.stdout
            assert "sent on to para 1000" in text, text
            assert "peer: failed" in text and "FailedToTransactAsset" in text, text
            assert f"held in the gateway reserve {net.gateway.reserve_account}" in text
            # Nothing lost: nothing was withdrawn on the peer, nothing credited there, and the amount is in the
            # gateway reserve on Phala, as status says.
            assert peer.free_balance(sovereign) == UNIT_PHA
            assert peer.free_balance(beneficiary) == 0
            assert phala_client.free_balance(reserve) == reserve_before + 3 * UNIT_PHA
            phala_client.close()
        finally:
            set_free_balance(peer, sovereign, original)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"para_id": 3000}, RefundReason.UNKNOWN_PARACHAIN),
        ({"max_fee": 19_999_999}, RefundReason.FEE_TOO_LOW),
        ({"xcm_version": 4}, RefundReason.UNSUPPORTED_VERSION),
        ({"tail": True}, RefundReason.MALFORMED),
    ],
)
def test_a_deposit_the_gateway_cannot_route_is_refunded_to_its_fallback_with_the_reason(
    bridge_devnet: Devnet, change: dict[str, object], reason: RefundReason
) -> None:
    network, net = _network(bridge_devnet)
    fallback = _fresh_account()
    fields: dict[str, object] = {
        "fallback": fallback,
        "xcm_version": 2,
        "para_id": 1000,
        "beneficiary_kind": BeneficiaryKind.ACCOUNT_ID32,
        "beneficiary": _fresh_account(),
        "max_fee": 20_000_000,
    }
    fields.update({k: v for k, v in change.items() if k != "tail"})
    recipient = encode_destination(XcmDestination(**fields))  # type: ignore[arg-type]
    if change.get("tail"):
        recipient = recipient[:60]  # cut in the beneficiary: only the head (with the fallback) is readable
    message_id, start = _deposit(net, recipient, "1.5")
    phala, leg = _executed_leg(net, message_id, start)
    try:
        record = leg.record  # type: ignore[attr-defined]
        assert record.status is GatewayStatus.REFUNDED and record.reason is reason and record.account == fallback
        assert phala.free_balance(fallback) == 15 * UNIT_PHA // 10
    finally:
        phala.close()
    status = run_cli("status", message_id, "--network", network)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"refunded ({reason.name.lower().replace('_', ' ')})" in status.stdout
    assert "0x" + fallback.hex() in status.stdout


def test_a_deposit_without_a_readable_fallback_is_refused_by_the_bridge_contract(bridge_devnet: Devnet) -> None:
    """Phala would refuse it for good and nothing would refund it: the Ethereum bridge refuses it before the tokens
    move (its recipient rule for Phala). How Phala treats one that got through anyway is unit-tested
    (tests/unit/substrate/test_plan_and_rebuild.py, static refusals)."""
    _, net = _network(bridge_devnet)
    eth = EthereumClient(net.ethereum)
    locked_before = eth.pha_balance(net.ethereum.bridge)
    with pytest.raises(InvalidRecipient, match="the destination would refuse it for good"):
        _deposit(net, b"PHXD\x01" + bytes(10), "1")
    assert eth.pha_balance(net.ethereum.bridge) == locked_before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "para:3000"], "unknown parachain 'para:3000'"),
        (["--to", "nowhere"], "unknown parachain 'nowhere'"),
        (["--recipient", "0x1234"], "not an SS58 address"),
        (["--recipient", "0x" + "11" * 20], "peer takes account_id32 beneficiaries"),
        (["--asset", "DOT"], "unsupported asset 'DOT'"),
        (["--max-fee", "0.00001"], "fee too low"),
        (["--xcm-version", "3"], "unsupported version"),
        (["--amount", "0.00002"], "amount too low"),
        (["--from", "phala"], "starts on Ethereum"),
    ],
)
def test_the_cli_refuses_bad_input_before_anything_moves(bridge_devnet: Devnet, args: list[str], says: str) -> None:
    network, net = _network(bridge_devnet)
    user = ethereum_dev_accounts(USER + 1)[USER]
    eth = EthereumClient(net.ethereum)
    before = eth.pha_balance(user.address)
    base = {
        "--from": "ethereum", "--to": "peer", "--amount": "1", "--recipient": "0x" + "22" * 32, "--asset": "PHA",
    }  # fmt: skip
    opts = dict(base)
    opts.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for kv in opts.items() for x in kv]
    out = run_cli("transfer", *flat, "--dev-account", str(USER), "--network", network)
    assert out.returncode != 0
    assert says in (out.stdout + out.stderr).replace("\n", " "), out.stdout + out.stderr
    assert eth.pha_balance(user.address) == before  # nothing deposited
