"""`phala-bridge transfer` and `phala-bridge status`: what a user runs to bridge PHA and to follow a transfer.

Every input is checked before anything moves: the chains, the recipient's format for the destination chain, and
the amount (its decimals on the source chain, and an exact conversion to the destination's: 18 on Ethereum, 12 on
Phala)."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bridge.addresses import parse_eth_address, parse_substrate_account
from bridge.amounts import convert_amount, format_units, parse_units
from bridge.cli.errors import EXIT_FAILURE, UsageError, handle_errors
from bridge.domains import Domain, domain_by_name
from bridge.errors import InputError
from bridge.network import NetworkInfo

console = Console()
DECIMALS = {Domain.ETHEREUM: 18, Domain.PHALA: 12}
DEFAULT_NETWORK = Path(".devnet/network.json")
NetworkOpt = typer.Option(DEFAULT_NETWORK, "--network", help="the bridge's network file (the devnet writes one)")


@dataclass(frozen=True)
class TransferPlan:
    source: Domain
    dest: Domain
    source_amount: int
    dest_amount: int
    recipient: bytes


def plan_transfer(source: str, dest: str, amount: str, recipient: str) -> TransferPlan:
    """Validate a transfer completely, without touching any chain."""
    src, dst = domain_by_name(source), domain_by_name(dest)
    if src == dst:
        raise UsageError(f"--from and --to are the same chain ({src.name.lower()})")
    source_amount = parse_units(amount, DECIMALS[src])
    dest_amount = convert_amount(source_amount, DECIMALS[src], DECIMALS[dst])
    to = parse_eth_address(recipient) if dst == Domain.ETHEREUM else parse_substrate_account(recipient)
    return TransferPlan(src, dst, source_amount, dest_amount, to)


def load_network(path: Path) -> NetworkInfo:
    try:
        return NetworkInfo.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no network file (start the devnet with `phala-bridge devnet up`)") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not a valid network file ({exc.__class__.__name__})") from None


def _relayer_get(net: NetworkInfo, path: str) -> Any | None:
    for url in net.relayer_status_urls:
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=3) as r:  # noqa: S310 - operator-configured URLs
                return json.loads(r.read())
        except (OSError, ValueError):
            continue
    return None


def _read_key(key_file: Path | None) -> str | None:
    if key_file is None:
        return None
    try:
        return key_file.read_text().strip()
    except OSError as exc:
        raise UsageError(f"{key_file}: cannot read the key file ({exc.strerror})") from None


@handle_errors
def transfer(
    source: str = typer.Option(..., "--from", help="ethereum or phala"),
    dest: str = typer.Option(..., "--to", help="ethereum or phala"),
    amount: str = typer.Option(..., help="in PHA, e.g. 12.5"),
    recipient: str = typer.Option(..., help="0x address on Ethereum, SS58 or 0x account id on Phala"),
    key_file: Path | None = typer.Option(None, help="sender key: hex private key (Ethereum) or secret URI (Phala)"),
    dev_account: str | None = typer.Option(None, help="devnet only: an anvil account index, or //Alice etc."),
    network: Path = NetworkOpt,
    timeout: float = typer.Option(180.0, help="seconds to wait for the destination"),
) -> None:
    """Bridge PHA between Ethereum and Phala; shows progress until the destination transaction."""
    try:
        plan = plan_transfer(source, dest, amount, recipient)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    secret = _read_key(key_file) or dev_account
    if secret is None:
        raise UsageError("give the sender's key: --key-file, or --dev-account on the devnet")
    net = load_network(network)
    console.print(
        f"{format_units(plan.source_amount, DECIMALS[plan.source])} PHA {plan.source.name.lower()} -> "
        f"{plan.dest.name.lower()} ({format_units(plan.dest_amount, DECIMALS[plan.dest])} PHA on arrival)"
    )
    if plan.source == Domain.ETHEREUM:
        message_id, started = _deposit_on_ethereum(net, plan, secret)
    else:
        message_id, started = _deposit_on_phala(net, plan, secret)
    console.print(f"message id {message_id}")
    dest_tx = _follow(net, message_id, plan, started, timeout)
    console.print(f"[green]executed on {plan.dest.name.lower()}[/] in {dest_tx}")


def _deposit_on_ethereum(net: NetworkInfo, plan: TransferPlan, secret: str) -> tuple[str, int]:
    from bridge.client import EthereumClient
    from bridge.devnet.accounts import ethereum_dev_accounts

    key = ethereum_dev_accounts(int(secret) + 1)[int(secret)].private_key if secret.isdigit() else secret
    eth = EthereumClient(net.ethereum, key)
    from bridge.client import PhalaClient

    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        start = phala.finalized_block()
    finally:
        phala.close()
    dep = eth.deposit_pha(int(plan.dest), plan.recipient, plan.source_amount, bytes.fromhex(net.pha_resource_id[2:]))
    console.print(f"deposited on ethereum in {dep.tx_hash} (block {dep.block_number}, nonce {dep.nonce})")
    return dep.message_id, start


def _deposit_on_phala(net: NetworkInfo, plan: TransferPlan, secret: str) -> tuple[str, int]:
    from substrateinterface import Keypair

    from bridge.client import EthereumClient, PhalaClient

    try:
        keypair = Keypair.create_from_uri(secret)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not a valid secret URI: {exc}") from None
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        start = EthereumClient(net.ethereum).block_number()
        dep = phala.deposit(keypair, int(plan.dest), plan.recipient, plan.source_amount)
        console.print(f"deposited on phala in {dep.extrinsic_hash} (block {dep.block_number})")
        message_id = phala.message_of(dep)
    finally:
        phala.close()
    if message_id is None:
        raise UsageError("the deposit was included but is not a valid bridge deposit (see the relayers' logs)")
    return message_id, start


def _follow(net: NetworkInfo, message_id: str, plan: TransferPlan, started: int, timeout: float) -> str:
    from bridge.client import EthereumClient, PhalaClient

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        record = _relayer_get(net, f"/message/{message_id}")
        state = record.get("state") if isinstance(record, dict) else None
        if state and state != last:
            console.print(f"  {state}" + (f": {record.get('reason')}" if record and record.get("reason") else ""))
            last = state
        if state == "failed":
            raise typer.Exit(EXIT_FAILURE)
        if state == "executed":
            break
        time.sleep(0.5)
    else:
        console.print(f"[red]not executed within {timeout:.0f}s[/]; follow it with: phala-bridge status {message_id}")
        raise typer.Exit(EXIT_FAILURE)
    # The destination chain is the final word: find the transaction there.
    if plan.dest == Domain.PHALA:
        phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
        try:
            tx = phala.find_execution(message_id, started)
        finally:
            phala.close()
    else:
        nonce = int(record["nonce"]) if isinstance(record, dict) else 0
        tx = EthereumClient(net.ethereum).find_execution(int(plan.source), nonce, started)
    if tx is None:
        console.print("[red]the relayers say executed but the destination chain shows no execution[/]")
        raise typer.Exit(EXIT_FAILURE)
    return tx


@handle_errors
def status(
    ref: str = typer.Argument(..., help="a message id, or the source transaction / extrinsic hash"),
    network: Path = NetworkOpt,
) -> None:
    """Where a transfer is: its state on the relayers, and the destination chain's word on it."""
    text = ref.strip().lower()
    if len(text) != 66 or not text.startswith("0x"):
        raise UsageError(f"expected a 0x + 64 hex message id or transaction hash, got {ref!r}")
    net = load_network(network)
    records = []
    one = _relayer_get(net, f"/message/{text}")
    if isinstance(one, dict) and "id" in one:
        records = [one]
    else:
        many = _relayer_get(net, f"/source-tx/{text}")
        records = many if isinstance(many, list) else []
    if not records:
        console.print(f"no bridge message known for {text} (not final on its source chain yet, or not a deposit)")
        raise typer.Exit(EXIT_FAILURE)
    from bridge.client import EthereumClient

    for rec in records:
        dest = Domain(int(rec["dest_domain"]))
        console.print(f"message {rec['id']}")
        console.print(
            f"  {Domain(int(rec['source_domain'])).name.lower()} -> {dest.name.lower()}, nonce {rec['nonce']}"
        )
        console.print(f"  source tx {rec['source_tx']} (block {rec['source_block']})")
        console.print(f"  state {rec['state']}" + (f" ({rec['reason']})" if rec.get("reason") else ""))
        if rec.get("dest_tx"):
            console.print(f"  destination tx {rec['dest_tx']}")
        if dest == Domain.ETHEREUM:
            done = EthereumClient(net.ethereum).is_executed(int(rec["source_domain"]), int(rec["nonce"]))
            console.print(f"  ethereum bridge: nonce {'used (executed)' if done else 'not used yet'}")
        if rec.get("confidential"):
            _confidential_status(net, int(rec["source_domain"]), int(rec["nonce"]))


def _confidential_status(net: NetworkInfo, source_domain: int, nonce: int) -> None:
    """A confidential call's result: its record on Phala (the final word) and its replies on Ethereum."""
    from bridge.cli.call_cmd import print_result
    from bridge.client import EthereumClient
    from bridge.client.confidential import call_result

    result = call_result(
        net.phala.ws_url, bytes.fromhex(net.phala.bridge_account[2:]), net.phala.start_block, source_domain, nonce
    )
    if result is None:
        console.print("  confidential call: no record on phala yet")
        return
    print_result(result)
    eth = EthereumClient(net.ethereum)
    for reply in result.reply_nonces():
        done = eth.is_executed(int(Domain.PHALA), reply)
        console.print(f"  reply {reply:#x}: {'executed on ethereum' if done else 'not delivered yet'}")


__all__ = ["plan_transfer", "status", "transfer"]
