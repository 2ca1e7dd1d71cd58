"""`phala-bridge transfer` and `phala-bridge status`: what a user runs to bridge PHA and to follow a transfer.

Every input is checked before anything moves: the chains, the recipient's format for the destination chain, and
the amount (its decimals on the source chain, an exact conversion to the destination's: 18 on Ethereum, 12 on
Phala, and from Phala the destination's minimum, `phala.min_deposit` in the network file). `--to <parachain>` (a
name the network's XCM gateway serves, or `para:<id>`) sends an Ethereum deposit on through Phala: the parachain,
the beneficiary's form, the asset, the XCM version and the fee are checked against the gateway's routes first, and
`status` follows it on all three chains (bridge/client/gateway.py)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bridge.addresses import parse_eth_address, parse_substrate_account
from bridge.amounts import convert_amount, format_units, parse_units
from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import NetworkOpt, load_network, read_key_file
from bridge.domains import Domain, domain_by_name
from bridge.errors import InputError, one_line
from bridge.gateway import (
    PROGRAM_VERSIONS,
    BeneficiaryKind,
    GatewayConfig,
    GatewayRoute,
    GatewayStatus,
    XcmDestination,
    decode_destination,
    encode_destination,
    is_destination,
)
from bridge.minimums import check_minimum, schedule_for
from bridge.network import NetworkInfo

console = Console()
DECIMALS = {Domain.ETHEREUM: 18, Domain.PHALA: 12}


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


@dataclass(frozen=True)
class GatewayPlan:
    route: GatewayRoute
    dest: XcmDestination
    source_amount: int  # 18 decimals, deposited on Ethereum
    amount: int  # 12 decimals, what reaches Phala and is sent on (the destination's fee comes out of it)

    @property
    def recipient(self) -> bytes:
        return encode_destination(self.dest)


def plan_gateway_transfer(
    config: GatewayConfig | None,
    source: str,
    to: str,
    amount: str,
    beneficiary: str,
    *,
    fallback: str | None = None,
    max_fee: str | None = None,
    xcm_version: int | None = None,
    asset: str = "PHA",
) -> GatewayPlan:
    """Validate a transfer on to a parachain completely, without touching any chain; every refusal the committee
    would make (and refund) is made here instead."""
    from bridge.client.gateway import refusal

    if asset.strip().upper() != "PHA":
        raise UsageError(f"unsupported asset {asset!r}: the XCM gateway carries PHA only")
    if domain_by_name(source) != Domain.ETHEREUM:
        raise UsageError("a transfer on to a parachain starts on Ethereum (the gateway carries Ethereum deposits)")
    if config is None:
        raise UsageError("this network runs no XCM gateway (no `gateway` in its network file)")
    route = config.route_named(to)
    text = beneficiary.strip()
    if len(text) == 42 and text.lower().startswith("0x"):
        kind, who = BeneficiaryKind.ACCOUNT_KEY20, parse_eth_address(text)
    else:
        kind, who = BeneficiaryKind.ACCOUNT_ID32, parse_substrate_account(text)
    if kind not in route.beneficiaries:
        ok = ", ".join(sorted(k.label for k in route.beneficiaries))
        raise UsageError(f"{route.name} takes {ok} beneficiaries; {text!r} is an {kind.label}")
    if fallback is not None:
        back = parse_substrate_account(fallback)
    elif kind is BeneficiaryKind.ACCOUNT_ID32:
        back = who  # the same key is an account on Phala too
    else:
        raise UsageError("give --fallback: a Phala account credited if the gateway cannot send the transfer on")
    versions = sorted(route.xcm_versions & PROGRAM_VERSIONS)
    version = xcm_version if xcm_version is not None else (versions[-1] if versions else 0)
    fee = parse_units(max_fee, DECIMALS[Domain.PHALA]) if max_fee is not None else route.min_fee
    source_amount = parse_units(amount, DECIMALS[Domain.ETHEREUM])
    dest_amount = convert_amount(source_amount, DECIMALS[Domain.ETHEREUM], DECIMALS[Domain.PHALA])
    dest = XcmDestination(back, version, route.para_id, kind, who, fee)
    why = refusal(dest, dest_amount, config)
    if why is not None:
        raise UsageError(why)
    return GatewayPlan(route, dest, source_amount, dest_amount)


def _relayer_get(net: NetworkInfo, path: str, problems: list[str] | None = None) -> Any | None:
    """The first relayer's answer; what went wrong with each one that gave none is added to `problems`."""
    for url in net.relayer_status_urls:
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=3) as r:  # noqa: S310 - operator-configured URLs
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if problems is not None and exc.code != 404:  # 404: this relayer does not know it
                problems.append(f"{url}: {_error_of(exc)}")
        except (OSError, ValueError) as exc:
            if problems is not None:
                problems.append(f"{url}: no answer ({getattr(exc, 'reason', None) or exc.__class__.__name__})")
    return None


def live_message(net: NetworkInfo, message_id: str) -> dict[str, Any] | None:
    """A relayer's live record of a message, for following one just sent: a copy a `store rebind` moved aside
    (`archived_at`) is an older deployment's message with the same id (nonces start again), not this one."""
    rec = _relayer_get(net, f"/message/{message_id}")
    return rec if isinstance(rec, dict) and rec.get("archived_at") is None else None


def _error_of(exc: Any) -> str:
    """The `error` a relayer's JSON reply names (its store failing, say), else the HTTP status."""
    try:
        error = json.loads(exc.read()).get("error")
    except (OSError, ValueError, AttributeError):
        error = None
    return one_line(str(error)) if error else f"HTTP {exc.code}"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + " UTC"


@handle_errors
def transfer(
    source: str = typer.Option(..., "--from", help="ethereum or phala"),
    dest: str = typer.Option(..., "--to", help="ethereum, phala, or a parachain (its name, or para:<id>)"),
    amount: str = typer.Option(..., help="in PHA, e.g. 12.5"),
    recipient: str = typer.Option(..., help="0x address on Ethereum, SS58 or 0x account id on Phala/a parachain"),
    key_file: Path | None = typer.Option(None, help="sender key: hex private key (Ethereum) or secret URI (Phala)"),
    dev_account: str | None = typer.Option(None, help="devnet only: an anvil account index, or //Alice etc."),
    network: Path = NetworkOpt,
    timeout: float = typer.Option(180.0, help="seconds to wait for the destination"),
    fallback: str | None = typer.Option(None, help="parachain transfers: Phala account refunded if not sent on"),
    max_fee: str | None = typer.Option(None, help="parachain transfers: most PHA the parachain may charge"),
    xcm_version: int | None = typer.Option(None, help="parachain transfers: XCM version (default: the route's)"),
    asset: str = typer.Option("PHA", help="the asset to send (the gateway carries PHA)"),
) -> None:
    """Bridge PHA between Ethereum and Phala, or from Ethereum on to a parachain; shows progress until the
    destination (for a parachain: Phala's execution, the XCM message, and the parachain's outcome)."""
    at_least(timeout, 1, "--timeout", " s")
    if dest.strip().lower() not in ("ethereum", "phala"):
        net = load_network(network)
        from bridge.client.gateway import gateway_config

        try:
            gplan = plan_gateway_transfer(
                gateway_config(net), source, dest, amount, recipient,
                fallback=fallback, max_fee=max_fee, xcm_version=xcm_version, asset=asset,
            )  # fmt: skip
        except InputError as exc:
            raise UsageError(str(exc)) from None
        secret = read_key_file(key_file) or dev_account
        if secret is None:
            raise UsageError("give the sender's key: --key-file, or --dev-account on the devnet")
        _transfer_via_gateway(net, gplan, secret, timeout)
        return
    try:
        plan = plan_transfer(source, dest, amount, recipient)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    secret = read_key_file(key_file) or dev_account
    if secret is None:
        raise UsageError("give the sender's key: --key-file, or --dev-account on the devnet")
    net = load_network(network)
    if plan.source == Domain.PHALA:  # below the minimum the bridge holds the funds: refuse before signing
        try:
            _check_phala_minimum(net, int(plan.dest), plan.source_amount)
        except InputError as exc:
            raise UsageError(str(exc)) from None
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


def _transfer_via_gateway(net: NetworkInfo, gplan: GatewayPlan, secret: str, timeout: float) -> None:
    from relayers.substrate import SubstrateClient
    from relayers.substrate.chain import ChainReader

    route = gplan.route
    console.print(
        f"{format_units(gplan.source_amount, 18)} PHA ethereum -> phala -> {route.name} (para {route.para_id}), "
        f"beneficiary 0x{gplan.dest.beneficiary.hex()}, at most {format_units(gplan.dest.max_fee, 12)} PHA in fees"
    )
    peer_url = _peer_url(net, route.name)
    peer_from = None
    if peer_url is not None:
        with SubstrateClient(peer_url) as peer:
            peer_from = ChainReader(peer).finalized_head().block_number
    plan = TransferPlan(Domain.ETHEREUM, Domain.PHALA, gplan.source_amount, gplan.amount, gplan.recipient)
    message_id, started = _deposit_on_ethereum(net, plan, secret)
    console.print(f"message id {message_id}")
    dest_tx = _follow(net, message_id, plan, started, timeout)
    console.print(f"[green]executed on phala[/] in {dest_tx}")
    if not _gateway_legs(net, message_id, started, peer_from, timeout, gplan.dest.beneficiary):
        raise typer.Exit(EXIT_FAILURE)


def _peer_url(net: NetworkInfo, name: str) -> str | None:
    side = net.gateway.parachains.get(name) if net.gateway else None
    return side.ws_url if side else None


def _gateway_legs(
    net: NetworkInfo, message_id: str, phala_from: int, peer_from: int | None, timeout: float, beneficiary: bytes
) -> bool:
    """Print the Phala gateway record, the XCMP message and the destination's outcome; True when delivered."""
    from bridge.client import PhalaClient
    from bridge.client.gateway import describe_record, find_outcome, gateway_leg, wait_sent
    from relayers.substrate import SubstrateClient

    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        tx = phala.execution_of(message_id, phala_from)
        leg = None if tx is None else gateway_leg(phala.client, tx.hash, tx.block_number, message_id)
        if tx is None or leg is None:
            console.print("  phala: no gateway record for this message yet")
            return False
        console.print(f"  phala: extrinsic {tx.hash} (block {tx.block_number}): {describe_record(leg.record)}")
        if leg.record.status is GatewayStatus.REFUNDED:
            return False
        sent_in = wait_sent(phala.client, leg.message_hash, leg.block_number, timeout)
    finally:
        phala.close()
    if sent_in is None:
        console.print(f"  xcmp: message 0x{leg.message_hash.hex()} not sent by phala yet")
        return False
    console.print(f"  xcmp: message 0x{leg.message_hash.hex()} sent by phala in block {sent_in}")
    names = {p.para_id: n for n, p in (net.gateway.parachains.items() if net.gateway else [])}
    name = names.get(leg.record.para_id)
    url = _peer_url(net, name) if name else None
    if url is None:
        console.print(f"  para {leg.record.para_id}: no endpoint known to follow the outcome")
        return False
    assert net.gateway is not None and name is not None
    start = peer_from if peer_from is not None else net.gateway.parachains[name].start_block
    with SubstrateClient(url) as peer:
        outcome = find_outcome(peer, leg.message_hash, start, timeout)
    if outcome is None:
        console.print(f"  {name}: no outcome yet (looked after block {start})")
        return False
    where = f"{name} block {outcome.block_number}"
    if outcome.succeeded:
        got = outcome.deposited_to(beneficiary)
        console.print(f"  [green]{name}: delivered[/] in {where}: {format_units(got, 12)} to the beneficiary")
    else:
        console.print(f"  [red]{name}: failed[/] in {where}: {outcome.failure}")
    for trap in outcome.trapped:
        console.print(f"  {name}: {trap.describe()}")
    if not outcome.succeeded and not outcome.trapped:
        console.print(
            f"  nothing was credited on {name}; the amount is held in the gateway reserve "
            f"{net.gateway.reserve_account} on phala"
        )
    return bool(outcome.succeeded)


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


def _check_phala_minimum(net: NetworkInfo, dest: int, amount: int) -> None:
    """The SDK's rule (`PhalaClient.check_amount`), before connecting when the minimum never changes: by the minimum
    at Phala's finalized head, or a higher one scheduled within the next CLIENT_MARGIN_BLOCKS blocks."""
    minimums = net.phala.minimums()
    if schedule_for(minimums, dest).is_constant:
        check_minimum(minimums, dest, amount, call=False, head=0)
        return
    from bridge.client import PhalaClient

    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        phala.check_amount(dest, amount)
    finally:
        phala.close()


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
        record = live_message(net, message_id)
        state = record.get("state") if record else None
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
    if len(text) != 66 or not text.startswith("0x") or any(c not in "0123456789abcdef" for c in text[2:]):
        raise UsageError(f"expected a 0x + 64 hex message id or transaction hash, got {ref!r}")
    net = load_network(network)
    records = []
    problems: list[str] = []
    one = _relayer_get(net, f"/message/{text}", problems)
    if isinstance(one, dict) and "id" in one:
        records = [one]
    else:
        many = _relayer_get(net, f"/source-tx/{text}", problems)
        records = many if isinstance(many, list) else []
    if not records:
        if problems and (one is None and many is None):  # no relayer could say: not the same as "unknown"
            print(f"error: no relayer could answer for {text}: " + "; ".join(dict.fromkeys(problems)), file=sys.stderr)
            raise typer.Exit(EXIT_FAILURE)
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
        reason = f" ({rec['reason']})" if rec.get("reason") else ""
        if rec.get("archived_at") is not None:
            # Moved aside by `store rebind --force`: the relayers no longer carry it; the chains below still say
            # whether it was executed.
            console.print(
                f"  archived {_when(float(rec['archived_at']))} by a store rebind; its state when moved aside was "
                f"{rec['state']}{reason}"
            )
        else:
            console.print(f"  state {rec['state']}{reason}")
        if rec.get("dest_tx"):
            console.print(f"  destination tx {rec['dest_tx']}")
        if dest == Domain.ETHEREUM:
            eth = EthereumClient(net.ethereum)
            done = eth.is_executed(int(rec["source_domain"]), int(rec["nonce"]))
            console.print(f"  ethereum bridge: nonce {'used (executed)' if done else 'not used yet'}")
            if rec.get("kind") == "call" and rec.get("dest_tx"):
                origin = eth.call_origin(str(rec["dest_tx"]), int(rec["source_domain"]), int(rec["nonce"]))
                if origin is not None:
                    console.print(
                        f"  origin seen by the target (messageOrigin): domain {origin.source_domain}, "
                        f"sender 0x{origin.sender.hex()}, nonce {origin.nonce}"
                    )
        recipient = bytes.fromhex(str(rec.get("recipient", "0x"))[2:])
        if dest == Domain.PHALA and is_destination(recipient):
            _status_gateway(net, rec, recipient)
        if rec.get("confidential"):
            _confidential_status(net, int(rec["source_domain"]), int(rec["nonce"]))


def _status_gateway(net: NetworkInfo, rec: dict[str, Any], recipient: bytes) -> None:
    beneficiary = b""
    try:
        d = decode_destination(recipient)
        beneficiary = d.beneficiary
        console.print(
            f"  xcm destination: para {d.para_id}, {d.beneficiary_kind.label} 0x{d.beneficiary.hex()}, "
            f"XCM V{d.xcm_version}, max fee {d.max_fee}, fallback 0x{d.fallback.hex()}"
        )
    except InputError as exc:
        console.print(f"  xcm destination: malformed ({exc})")
    if rec["state"] != "executed":
        return
    _gateway_legs(net, str(rec["id"]), net.phala.start_block, None, 5.0, beneficiary)


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
