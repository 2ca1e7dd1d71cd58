"""`phala-bridge call ...`: confidential contract calls from Ethereum. The input is encrypted on this machine to the
committee's threshold encryption key (from the network file), sent with `Bridge.sendMessage(2, payload)`, run
inside the enclaves; the command follows the call to its record on Phala and its replies on Ethereum.

    phala-bridge call auction-open --close-in 30 --dev-account 2
    phala-bridge call auction-bid --auction 0x... --amount 900 --dev-account 3
    phala-bridge call auction-close --auction 0x... --dev-account 2
    phala-bridge call raw --contract-id 0x... --input 0x... --dev-account 2
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import NetworkOpt, check_ethereum_key, ethereum_key, load_network
from bridge.cli.transfer_cmd import live_record, printable
from bridge.confidential import CallStatus
from bridge.domains import Domain
from bridge.lifecycle import MessageState
from bridge.network import NetworkInfo

app = typer.Typer(help="Confidential contract calls: encrypted here, run inside the committee's enclaves.")
console = Console(emoji=False)  # `:name:` in text from outside stays as written

KeyFileOpt = typer.Option(None, "--key-file", help="the caller's Ethereum private key (hex) in a file")
DevAccountOpt = typer.Option(None, "--dev-account", help="devnet only: an anvil account index, 0..9")
TimeoutOpt = typer.Option(180.0, "--timeout", help="seconds to wait for the record on Phala (and the reply)")


def _key(key_file: Path | None, dev_account: str | None) -> str:
    """The caller's Ethereum private key, checked: from --key-file, or anvil's account --dev-account N."""
    return ethereum_key(key_file, dev_account, "give the caller's key: --key-file, or --dev-account on the devnet")


def _settlement(net: NetworkInfo) -> bytes:
    conf = net.confidential
    if conf is None or conf.auction_settlement is None:
        raise UsageError("the network file names no auction settlement contract (confidential.auction_settlement)")
    return bytes.fromhex(conf.auction_settlement[2:])


def _auction_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"an auction id is a number (0x... or decimal), got {text!r}") from None
    if not 0 < value < 2**256:
        raise UsageError("an auction id is a positive uint256")
    return value


def send_and_follow(net: NetworkInfo, contract_id: bytes, data: bytes, key: str, timeout: float) -> int:
    """Encrypt, send, follow; returns the call's source nonce. Exits 1 when the call is refused or times out."""
    from eth_account import Account

    from bridge.client.confidential import call_result, encrypt_call, send_call
    from bridge.client.ethereum import EthereumClient

    conf = net.confidential
    if conf is None:
        raise UsageError("the network file has no confidential section (the committee's encryption key)")
    account = Account.from_key(check_ethereum_key(key, "the caller's key"))
    payload = encrypt_call(bytes.fromhex(conf.encryption_key[2:]), contract_id, account.address, data)
    eth = EthereumClient(net.ethereum)
    sent = send_call(eth.w3, net.ethereum.bridge, account, payload)
    mid = "0x" + sent.message_id.hex()
    console.print(f"sent in {sent.tx_hash} (block {sent.block_number}); call {mid}")
    deadline = time.monotonic() + timeout
    last = None
    bridge_account = bytes.fromhex(net.phala.bridge_account[2:])
    result = None
    trouble: dict[str, None] = {}
    while time.monotonic() < deadline:
        problems: list[str] = []
        rec = live_record(net, mid, problems)
        trouble.update(dict.fromkeys(problems))
        state = rec.state if rec else None
        if rec is not None and state != last:
            console.print(f"  {state}" + (f": {printable(rec.reason)}" if rec.reason else ""))
            last = state
        if state is MessageState.FAILED:
            raise typer.Exit(EXIT_FAILURE)
        if state is MessageState.EXECUTED:
            result = call_result(
                net.phala.ws_url, bridge_account, net.phala.start_block, int(Domain.ETHEREUM), sent.nonce
            )
            if result is not None:
                break
        time.sleep(0.5)
    if result is None:
        console.print(f"[red]no record on Phala within {timeout:.0f}s[/]; follow it with: phala-bridge status {mid}")
        if trouble:  # the relayers that gave no usable answer, the last few
            console.print("  relayers: " + printable("; ".join(list(trouble)[-3:])))
        raise typer.Exit(EXIT_FAILURE)
    print_result(result)
    if result.record.status is not CallStatus.EXECUTED:
        raise typer.Exit(EXIT_FAILURE)
    for nonce in result.reply_nonces():
        while not eth.is_executed(int(Domain.PHALA), nonce):
            if time.monotonic() > deadline:
                console.print(f"[red]reply {nonce:#x} not delivered on Ethereum within {timeout:.0f}s[/]")
                raise typer.Exit(EXIT_FAILURE)
            time.sleep(0.5)
        console.print(f"  reply {nonce:#x} executed on ethereum")
    return sent.nonce


def print_result(result: object) -> None:
    from bridge.client.confidential import CallResult

    assert isinstance(result, CallResult)
    r = result.record
    if r.status is CallStatus.EXECUTED:
        console.print(
            f"[green]executed[/] on phala in {printable(result.extrinsic)} (block {result.block_number}): log position "
            f"{r.position}, {len(r.events)} sealed event(s), {len(result.outputs)} output(s)"
        )
    else:
        console.print(
            f"[red]refused[/] ({printable(r.code)}: {printable(r.reason)}), recorded on phala in "
            f"{printable(result.extrinsic)} "
            f"(block {result.block_number}); nothing changed"
        )


@app.command("auction-open")
@handle_errors
def auction_open(
    close_in: int = typer.Option(30, "--close-in", help="Ethereum blocks from now until bids close"),
    key_file: Path | None = KeyFileOpt,
    dev_account: str | None = DevAccountOpt,
    network: Path = NetworkOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Open a sealed-bid auction; prints its id (the opening call's message id)."""
    from bridge.client.ethereum import EthereumClient
    from bridge.ids import message_id
    from enclave_signer.contracts import SealedBidAuction
    from enclave_signer.contracts.auction_codec import Open, encode_input

    if close_in < 1:
        raise UsageError("--close-in must be at least 1 block")
    at_least(timeout, 1, "--timeout", " s")
    key = _key(key_file, dev_account)  # every argument is checked before the network file is read
    net = load_network(network)
    contract = SealedBidAuction(_settlement(net))
    close_block = EthereumClient(net.ethereum).block_number() + close_in
    nonce = send_and_follow(net, contract.contract_id, encode_input(Open(close_block)), key, timeout)
    auction = int.from_bytes(message_id(int(Domain.ETHEREUM), nonce), "big")
    console.print(f"auction {auction:#066x} open until ethereum block {close_block}")


@app.command("auction-bid")
@handle_errors
def auction_bid(
    auction: str = typer.Option(..., "--auction", help="the auction id (printed by auction-open)"),
    amount: int = typer.Option(..., "--amount", help="the bid (encrypted: only the enclaves see it)"),
    key_file: Path | None = KeyFileOpt,
    dev_account: str | None = DevAccountOpt,
    network: Path = NetworkOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Place a sealed bid (one per bidder)."""
    from enclave_signer.contracts import SealedBidAuction
    from enclave_signer.contracts.auction_codec import PlaceBid, encode_input

    at_least(amount, 1, "--amount")
    at_least(timeout, 1, "--timeout", " s")
    auction_id = _auction_id(auction)  # every argument is checked before the network file is read
    key = _key(key_file, dev_account)
    net = load_network(network)
    data = encode_input(PlaceBid(auction_id, amount))
    send_and_follow(net, SealedBidAuction(_settlement(net)).contract_id, data, key, timeout)


@app.command("auction-close")
@handle_errors
def auction_close(
    auction: str = typer.Option(..., "--auction", help="the auction id"),
    key_file: Path | None = KeyFileOpt,
    dev_account: str | None = DevAccountOpt,
    network: Path = NetworkOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Close an auction (once its close block has passed); the winner and price are settled on Ethereum."""
    from bridge.client.ethereum import EthereumClient
    from enclave_signer.contracts import SealedBidAuction
    from enclave_signer.contracts.auction_codec import Close, encode_input
    from relayers.ethereum.contracts import contract_at

    at_least(timeout, 1, "--timeout", " s")
    auction_id = _auction_id(auction)
    key = _key(key_file, dev_account)
    net = load_network(network)
    settlement = _settlement(net)
    data = encode_input(Close(auction_id))
    send_and_follow(net, SealedBidAuction(settlement).contract_id, data, key, timeout)
    eth = EthereumClient(net.ethereum)
    settled, winner, price = (
        contract_at(eth.w3, "SealedBidAuction", "0x" + settlement.hex()).functions.outcome(auction_id).call()
    )
    console.print(f"settled: {bool(settled)}, winner {winner}, price {int(price)}")


@app.command("raw")
@handle_errors
def raw(
    contract_id: str = typer.Option(..., "--contract-id", help="0x + 64 hex"),
    input_hex: str = typer.Option(..., "--input", help="the contract's input, 0x hex (encrypted before sending)"),
    key_file: Path | None = KeyFileOpt,
    dev_account: str | None = DevAccountOpt,
    network: Path = NetworkOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Call any confidential contract by id with raw input bytes."""
    try:
        cid = bytes.fromhex(contract_id.removeprefix("0x"))
        data = bytes.fromhex(input_hex.removeprefix("0x"))
    except ValueError:
        raise UsageError("--contract-id and --input are hex") from None
    if len(cid) != 32:
        raise UsageError("a contract id is 32 bytes")
    at_least(timeout, 1, "--timeout", " s")
    key = _key(key_file, dev_account)
    send_and_follow(load_network(network), cid, data, key, timeout)
