"""`phala-bridge demo`: the main job. Brings up the devnet and the bridge (5 enclaves, 3-of-5, 5 relayers), bridges
PHA Ethereum -> Phala and back, prints the balances before and after, runs a short sealed-bid auction (encrypted bids
from Ethereum, run inside the enclaves, the winner settled on Ethereum), and takes everything down."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bridge.amounts import convert_amount, parse_units
from bridge.cli.devnet_cmd import print_status
from bridge.cli.errors import UsageError, handle_errors
from bridge.cli.loading import load_config
from bridge.config import DevnetConfig
from bridge.devnet.manager import Devnet, DevnetError
from bridge.errors import InputError
from bridge.network import NetworkInfo

console = Console()
ETH, PHA = 10**18, 10**12


@handle_errors
def demo(
    config: Path = typer.Option(Path("config/devnet.toml"), "--config", "-c", help="devnet TOML file"),
    amount: str = typer.Option("12.5", help="PHA to send Ethereum -> Phala (half comes back)"),
    auction: bool = typer.Option(True, help="also run a short sealed-bid auction (confidential contract calls)"),
) -> None:
    """Devnet + bridge up, PHA Ethereum -> Phala and back, balances before and after, everything down."""
    there, back = _amounts(amount)  # before anything starts
    cfg = load_config(config, DevnetConfig)
    with console.status("starting the devnet and the bridge (5 enclaves, DKG, 5 relayers)..."):
        devnet = Devnet(cfg.devnet, work_dir=Path(cfg.devnet.work_dir) / "demo", committee=True)
        state = devnet.start()
    try:
        console.rule("devnet and bridge up")
        print_status(state)
        assert state.network_file is not None
        net = NetworkInfo.model_validate_json(Path(state.network_file).read_text())
        console.print(f"phala bridge account (FROST Ed25519 group key): {net.phala.bridge_account}")
        _round_trip(net, there, back)
        if auction:
            _auction(net)
    finally:
        with console.status("stopping every process..."):
            devnet.stop()
    console.rule("devnet down: every process stopped")


def _amounts(amount: str) -> tuple[int, int]:
    """`--amount` (PHA, 18 decimals on Ethereum) and the half that comes back, both exact in Phala's 12 decimals."""
    try:
        there = parse_units(amount, 18)
        convert_amount(there, 18, 12)
    except InputError as exc:
        raise UsageError(f"--amount: {exc}") from None
    back = there // 2 // 10**6 * 10**6
    if back == 0:
        raise UsageError(f"--amount: {amount!r} is too small: half of it comes back, at least 0.000001 PHA")
    return there, back


def _round_trip(net: NetworkInfo, there: int, back: int) -> None:
    from substrateinterface import Keypair

    from bridge.client import EthereumClient, PhalaClient
    from bridge.devnet.accounts import ethereum_dev_accounts

    rid = bytes.fromhex(net.pha_resource_id[2:])
    user = ethereum_dev_accounts(3)[2]
    dave = Keypair.create_from_uri("//Dave")
    eth = EthereumClient(net.ethereum, user.private_key)
    phala = PhalaClient(net.phala, rid)
    try:
        before = (eth.pha_balance(user.address), phala.free_balance(dave.public_key))
        console.rule(f"Ethereum -> Phala: {there / ETH} PHA from {user.address} to //Dave")
        start = phala.finalized_block()
        t0 = time.monotonic()
        phala.check_recipient(dave.public_key, there // 10**6)  # what Phala would refuse for good is never sent
        dep = eth.deposit_pha(2, dave.public_key, there, rid)
        console.print(f"deposit {dep.tx_hash} (nonce {dep.nonce}); message {dep.message_id}")
        tx = _wait(lambda: phala.find_execution(dep.message_id, start), "Phala execution")
        console.print(f"[green]executed on Phala[/] in {tx} after {time.monotonic() - t0:.1f}s")

        console.rule(f"Phala -> Ethereum: {back / ETH} PHA from //Dave back to {user.address}")
        from_block = eth.block_number()
        t0 = time.monotonic()
        pdep = phala.deposit(dave, 1, bytes.fromhex(user.address[2:]), back // 10**6)
        console.print(f"deposit extrinsic {pdep.extrinsic_hash} (block {pdep.block_number})")
        mid = phala.message_of(pdep)
        console.print(f"message {mid}")
        nonce = _wait(lambda: _nonce(net, mid or ""), "the relayers to see the deposit")
        assert isinstance(nonce, int)
        _wait(lambda: eth.is_executed(2, nonce), "Ethereum execution")
        etx = eth.find_execution(2, nonce, from_block)
        console.print(f"[green]executed on Ethereum[/] in {etx} after {time.monotonic() - t0:.1f}s")
        after = (eth.pha_balance(user.address), phala.free_balance(dave.public_key))
    finally:
        phala.close()
    table = Table(title="balances")
    for col in ("account", "before", "after", "change"):
        table.add_column(col, justify="right" if col != "account" else "left")
    table.add_row(f"{user.address} (Ethereum PHA)", f"{before[0] / ETH:,.6f}", f"{after[0] / ETH:,.6f}",
                  f"{(after[0] - before[0]) / ETH:+,.6f}")  # fmt: skip
    table.add_row("//Dave (Phala PHA)", f"{before[1] / PHA:,.6f}", f"{after[1] / PHA:,.6f}",
                  f"{(after[1] - before[1]) / PHA:+,.6f}")  # fmt: skip
    console.print(table)
    console.print("(Dave pays the Phala transaction fee of the return deposit.)")


def _auction(net: NetworkInfo) -> None:
    """Open, three sealed bids and close through `Bridge.sendMessage`; only the winner and its price come out."""
    from eth_account import Account
    from eth_account.signers.local import LocalAccount

    from bridge.client import EthereumClient
    from bridge.client.confidential import encrypt_call, send_call
    from bridge.devnet.accounts import ethereum_dev_accounts
    from bridge.ids import message_id
    from enclave_signer.contracts import SealedBidAuction
    from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, encode_input
    from relayers.ethereum.contracts import contract_at

    conf = net.confidential
    if conf is None or conf.auction_settlement is None:
        console.print("(no auction deployed on this devnet)")
        return
    eth = EthereumClient(net.ethereum)
    key = bytes.fromhex(conf.encryption_key[2:])
    contract = SealedBidAuction(bytes.fromhex(conf.auction_settlement[2:]))
    accounts = [Account.from_key(a.private_key) for a in ethereum_dev_accounts(5)]
    seller, bids = accounts[0], {accounts[2]: 300, accounts[3]: 900, accounts[4]: 500}

    def send(sender: LocalAccount, data: bytes) -> int:
        payload = encrypt_call(key, contract.contract_id, sender.address, data)
        return send_call(eth.w3, net.ethereum.bridge, sender, payload).nonce

    close_block = eth.block_number() + 20
    console.rule("sealed-bid auction: encrypted bids from Ethereum, run inside the enclaves")
    auction_id = int.from_bytes(message_id(1, send(seller, encode_input(Open(close_block)))), "big")
    console.print(f"auction {auction_id:#x} open until Ethereum block {close_block}")
    for bidder, amount in bids.items():
        send(bidder, encode_input(PlaceBid(auction_id, amount)))
        console.print(f"  sealed bid from {bidder.address} (only the enclaves can read it: {amount})")
    _wait(lambda: eth.block_number() >= close_block, "the auction's close block", timeout=180)
    send(seller, encode_input(Close(auction_id)))
    settlement = contract_at(eth.w3, "SealedBidAuction", conf.auction_settlement)
    t0 = time.monotonic()
    outcome = _wait(lambda: (o := settlement.functions.outcome(auction_id).call())[0] and o, "settle", timeout=180)
    assert isinstance(outcome, list | tuple)
    console.print(
        f"[green]settled on Ethereum[/] after {time.monotonic() - t0:.1f}s: winner {outcome[1]}, price {outcome[2]} "
        "(first price; the losing bids were never published anywhere)"
    )


def _nonce(net: NetworkInfo, message_id: str) -> int | None:
    for url in net.relayer_status_urls:
        try:
            with urllib.request.urlopen(f"{url}/message/{message_id}", timeout=2) as r:  # noqa: S310 - loopback
                return int(json.loads(r.read())["nonce"])
        except (OSError, ValueError, KeyError):
            continue
    return None


def _wait(check: object, what: str, timeout: float = 120.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.3)
    raise DevnetError(f"timed out waiting for {what}")
