"""`phala-bridge transfer` and `phala-bridge status`: what a user runs to bridge PHA and to follow a transfer.

Every input is checked before anything moves: the chains, the recipient's format for the destination chain, and
the amount (its decimals on the source chain, an exact conversion to the destination's: 18 on Ethereum, 12 on
Phala, and from Phala the destination's minimum, `phala.min_deposit` in the network file). `--to <parachain>` (a
name the network's XCM gateway serves, or `para:<id>`) sends an Ethereum deposit on through Phala: the parachain,
the beneficiary's form, the asset, the XCM version and the fee are checked against the gateway's routes first, and
`status` follows it on all three chains (bridge/client/gateway.py)."""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape

from bridge.addresses import parse_eth_address, parse_substrate_account
from bridge.amounts import convert_amount, format_units, parse_units
from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import NetworkOpt, ethereum_key, key_source, load_network, substrate_keypair
from bridge.domains import Domain, domain_by_name
from bridge.errors import InputError, one_line, validation_problems
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
from bridge.ids import message_id
from bridge.lifecycle import MessageState
from bridge.messages import MessageKind
from bridge.minimums import check_minimum, schedule_for
from bridge.network import NetworkInfo
from bridge.refunds import REFUNDED_PREFIX, refund_nonce, refunded_deposit

if TYPE_CHECKING:
    from substrateinterface import Keypair

console = Console(emoji=False)  # `:name:` in text from outside stays as written
DECIMALS = {Domain.ETHEREUM: 18, Domain.PHALA: 12}
NO_SENDER_KEY = "give the sender's key: --key-file, or --dev-account on the devnet"
MAX_REPLY = 4 * 1024 * 1024  # bytes of a relayer's reply read at most
T = TypeVar("T")


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


Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


class RelayerRecord(BaseModel):
    """A relayer's record of one message, as its status server sends it (`/message/<id>`, `/source-tx/<hash>`:
    relayers/daemon/node.py). Checked before any of it is used or printed: a reply is input like any other."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Hex32
    state: MessageState
    reason: Annotated[str, Field(max_length=10_000)] | None = None
    source_domain: Domain
    dest_domain: Domain
    nonce: Annotated[int, Field(ge=0, lt=2**64)]
    kind: MessageKind | None = None
    confidential: bool = False
    recipient: Annotated[str, Field(pattern=r"^0x(?:[0-9a-fA-F]{2})*$", max_length=2 + 2 * 4096)] = "0x"
    source_tx: Hex32
    source_block: Annotated[int, Field(ge=0, lt=2**64)]
    dest_tx: Hex32 | None = None
    archived_at: Annotated[float, Field(ge=0, lt=1e11, allow_inf_nan=False)] | None = None  # a Unix time


_RECORD = TypeAdapter(RelayerRecord)
_RECORDS = TypeAdapter(list[RelayerRecord])


def printable(text: object, limit: int = 500, *, markup: bool = True) -> str:
    """Text from outside (a relayer's reply, a chain's record) fit for the terminal: control and format characters
    (escape sequences, bidi overrides, newlines) become spaces, at most `limit` characters, and for a Rich console
    its markup escaped (printed as written, never interpreted)."""
    clean = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    if len(clean) > limit:
        clean = clean[: limit - 3] + "..."
    return escape(clean) if markup else clean


def _relayer_get(
    net: NetworkInfo,
    path: str,
    adapter: TypeAdapter[T],
    problems: list[str] | None = None,
    check: Callable[[T], str | None] | None = None,
) -> T | None:
    """The first relayer's valid answer. What went wrong with each one that gave none (no answer, an error, a reply
    that is not a relayer's or `check` refuses) is added to `problems`, naming the relayer."""
    for url in net.relayer_status_urls:
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=3) as r:  # noqa: S310 - operator-configured URLs
                body = r.read(MAX_REPLY + 1)
        except urllib.error.HTTPError as exc:
            if problems is not None and exc.code != 404:  # 404: this relayer does not know it
                problems.append(f"{url}: {_error_of(exc)}")
            continue
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if problems is not None:
                problems.append(f"{url}: no answer ({getattr(exc, 'reason', None) or exc.__class__.__name__})")
            continue
        if len(body) > MAX_REPLY:
            why: str | None = f"over {MAX_REPLY} bytes"
        else:
            try:
                value = adapter.validate_json(body)
            except ValidationError as exc:
                why = validation_problems(exc)  # where and what, never the value
            else:
                why = check(value) if check is not None else None
                if why is None:
                    return value
        if problems is not None:
            problems.append(f"{url} sent a bad reply ({why})")
    return None


def _is_message(message_id: str) -> Callable[[RelayerRecord], str | None]:
    return lambda rec: None if rec.id.lower() == message_id.lower() else "the record of another message"


def live_record(net: NetworkInfo, message_id: str, problems: list[str] | None = None) -> RelayerRecord | None:
    """A relayer's live record of a message, for following one just sent: a copy a `store rebind` moved aside
    (`archived_at`) is an older deployment's message with the same id (nonces start again), not this one."""
    rec = _relayer_get(net, f"/message/{message_id}", _RECORD, problems, _is_message(message_id))
    return rec if rec is not None and rec.archived_at is None else None


def live_message(net: NetworkInfo, message_id: str) -> dict[str, Any] | None:
    """`live_record` as the relayer's JSON (checked)."""
    rec = live_record(net, message_id)
    return None if rec is None else rec.model_dump(mode="json")


def _error_of(exc: Any) -> str:
    """The `error` a relayer's JSON reply names (its store failing, say), else the HTTP status."""
    try:
        error = json.loads(exc.read(MAX_REPLY)).get("error")
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        error = None
    return one_line(str(error)) if error else f"HTTP {exc.code}"


def _print_state(record: RelayerRecord) -> None:
    console.print(f"  {record.state}" + (f": {printable(record.reason)}" if record.reason else ""))


def _no_record_within(timeout: float, message_id: str, what: str, problems: dict[str, None]) -> None:
    console.print(f"[red]{what} within {timeout:.0f}s[/]; follow it with: phala-bridge status {message_id}")
    if problems:  # the relayers that gave no usable answer, the last few
        console.print("  relayers: " + printable("; ".join(list(problems)[-3:])))


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + " UTC"


@handle_errors
def transfer(
    source: str = typer.Option(..., "--from", help="ethereum or phala"),
    dest: str = typer.Option(..., "--to", help="ethereum, phala, or a parachain (its name, or para:<id>)"),
    amount: str = typer.Option(..., help="in PHA, e.g. 12.5"),
    recipient: str = typer.Option(..., help="0x address on Ethereum, SS58 or 0x account id on Phala/a parachain"),
    key_file: Path | None = typer.Option(None, help="sender key: hex private key (Ethereum) or secret URI (Phala)"),
    dev_account: str | None = typer.Option(None, help="devnet only: anvil account 0..9, or //Alice etc. on Phala"),
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
        _transfer_via_gateway(net, gplan, ethereum_key(key_file, dev_account, NO_SENDER_KEY), timeout)
        return
    try:
        plan = plan_transfer(source, dest, amount, recipient)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    # The key is checked before the network is read: an Ethereum private key, or a secret URI on Phala.
    if plan.source == Domain.ETHEREUM:
        key, keypair = ethereum_key(key_file, dev_account, NO_SENDER_KEY), None
    else:
        key, keypair = "", substrate_keypair(*key_source(key_file, dev_account, NO_SENDER_KEY))
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
    if keypair is None:
        message_id, started = _deposit_on_ethereum(net, plan, key)
    else:
        message_id, started = _deposit_on_phala(net, plan, keypair)
    console.print(f"message id {message_id}")
    dest_tx = _follow(net, message_id, plan, started, timeout)
    console.print(f"[green]executed on {plan.dest.name.lower()}[/] in {dest_tx}")


def _transfer_via_gateway(net: NetworkInfo, gplan: GatewayPlan, key: str, timeout: float) -> None:
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
    message_id, started = _deposit_on_ethereum(net, plan, key)
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
        record = printable(describe_record(leg.record), 2000)  # the chain's text: printed, never interpreted
        console.print(f"  phala: extrinsic {tx.hash} (block {tx.block_number}): {record}")
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
        console.print(f"  [red]{name}: failed[/] in {where}: {printable(outcome.failure, 2000)}")
    for trap in outcome.trapped:
        console.print(f"  {name}: {printable(trap.describe(), 4000)}")
    if not outcome.succeeded and not outcome.trapped:
        console.print(
            f"  nothing was credited on {name}; the amount is held in the gateway reserve "
            f"{net.gateway.reserve_account} on phala"
        )
    return bool(outcome.succeeded)


def _deposit_on_ethereum(net: NetworkInfo, plan: TransferPlan, key: str) -> tuple[str, int]:
    """Deposit with `key`, an Ethereum private key already checked (bridge.cli.loading.ethereum_key)."""
    from bridge.client import EthereumClient, PhalaClient
    from bridge.client.gateway import gateway_config

    eth = EthereumClient(net.ethereum, key)
    phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
    try:
        start = phala.finalized_block()
        # Nothing refunds a deposit Phala refuses for good (a recipient without an account below the existential
        # deposit, the bridge account, a malformed XCM destination): it would stay locked, so it is never sent.
        phala.check_recipient(plan.recipient, plan.dest_amount, gateway_config(net))
    except InputError as exc:
        raise UsageError(str(exc)) from None
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


def _deposit_on_phala(net: NetworkInfo, plan: TransferPlan, keypair: Keypair) -> tuple[str, int]:
    from bridge.client import EthereumClient, PhalaClient

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
    trouble: dict[str, None] = {}
    record = None
    while time.monotonic() < deadline:
        problems: list[str] = []
        record = live_record(net, message_id, problems)
        trouble.update(dict.fromkeys(problems))
        state = record.state if record else None
        if record is not None and state != last:
            _print_state(record)
            last = state
        if state is MessageState.FAILED:
            raise typer.Exit(EXIT_FAILURE)
        if state is MessageState.EXECUTED:
            break
        time.sleep(0.5)
    else:
        _no_record_within(timeout, message_id, "not executed", trouble)
        raise typer.Exit(EXIT_FAILURE)
    # The destination chain is the final word: find the transaction there.
    if plan.dest == Domain.PHALA:
        phala = PhalaClient(net.phala, bytes.fromhex(net.pha_resource_id[2:]))
        try:
            tx = phala.find_execution(message_id, started)
        finally:
            phala.close()
    else:
        nonce = record.nonce if record is not None else 0
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
    problems: list[str] = []
    many = None
    one = _relayer_get(net, f"/message/{text}", _RECORD, problems, _is_message(text))
    if one is not None:
        records = [one]
    else:
        many = _relayer_get(net, f"/source-tx/{text}", _RECORDS, problems, _from_tx(text))
        records = many or []
    known = list(dict.fromkeys(printable(p, 300, markup=False) for p in problems))
    if not records:
        if known and many is None:  # no relayer could say: not the same as "unknown"
            print(f"error: no relayer could answer for {text}: " + "; ".join(known), file=sys.stderr)
            raise typer.Exit(EXIT_FAILURE)
        also = f"; relayers that gave no answer: {escape('; '.join(known))}" if known else ""
        console.print(f"no bridge message known for {text} (not final on its source chain yet, or not a deposit){also}")
        raise typer.Exit(EXIT_FAILURE)
    from bridge.client import EthereumClient

    for rec in records:
        dest = rec.dest_domain
        console.print(f"message {rec.id}")
        console.print(f"  {rec.source_domain.name.lower()} -> {dest.name.lower()}, nonce {rec.nonce}")
        console.print(f"  source tx {rec.source_tx} (block {rec.source_block})")
        deposit = refunded_deposit(int(rec.source_domain), rec.nonce)
        if deposit is not None:
            deposit_id = "0x" + message_id(int(Domain.ETHEREUM), deposit).hex()
            console.print(f"  refund of ethereum deposit {deposit} (message {deposit_id}), refused for good on phala")
        reason = f" ({printable(rec.reason)})" if rec.reason else ""
        if rec.archived_at is not None:
            # Moved aside by `store rebind --force`: the relayers no longer carry it; the chains below still say
            # whether it was executed.
            console.print(
                f"  archived {_when(rec.archived_at)} by a store rebind; its state when moved aside was "
                f"{rec.state}{reason}"
            )
        else:
            console.print(f"  state {rec.state}{reason}")
        if rec.dest_tx:
            console.print(f"  destination tx {rec.dest_tx}")
        if dest == Domain.ETHEREUM:
            eth = EthereumClient(net.ethereum)
            done = eth.is_executed(int(rec.source_domain), rec.nonce)
            console.print(f"  ethereum bridge: nonce {'used (executed)' if done else 'not used yet'}")
            if rec.kind is MessageKind.CALL and rec.dest_tx:
                origin = eth.call_origin(rec.dest_tx, int(rec.source_domain), rec.nonce)
                if origin is not None:
                    console.print(
                        f"  origin seen by the target (messageOrigin): domain {origin.source_domain}, "
                        f"sender 0x{origin.sender.hex()}, nonce {origin.nonce}"
                    )
        if dest == Domain.PHALA and rec.state is MessageState.FAILED and (rec.reason or "").startswith(REFUNDED_PREFIX):
            # Settled by Phala with a refund (bridge/refunds.py): the tokens go back as a message of their own.
            back = EthereumClient(net.ethereum).is_executed(int(Domain.PHALA), refund_nonce(rec.nonce))
            console.print(f"  refund on ethereum: {'paid back (executed)' if back else 'not delivered yet'}")
        recipient = bytes.fromhex(rec.recipient[2:])
        if dest == Domain.PHALA and is_destination(recipient):
            _status_gateway(net, rec, recipient)
        if rec.confidential:
            _confidential_status(net, int(rec.source_domain), rec.nonce)


def _from_tx(tx_hash: str) -> Callable[[list[RelayerRecord]], str | None]:
    def check(records: list[RelayerRecord]) -> str | None:
        if any(rec.source_tx.lower() != tx_hash.lower() for rec in records):
            return "a record of another source transaction"
        return None

    return check


def _status_gateway(net: NetworkInfo, rec: RelayerRecord, recipient: bytes) -> None:
    beneficiary = b""
    try:
        d = decode_destination(recipient)
        beneficiary = d.beneficiary
        console.print(
            f"  xcm destination: para {d.para_id}, {d.beneficiary_kind.label} 0x{d.beneficiary.hex()}, "
            f"XCM V{d.xcm_version}, max fee {d.max_fee}, fallback 0x{d.fallback.hex()}"
        )
    except InputError as exc:
        console.print(f"  xcm destination: malformed ({printable(exc)})")
    if rec.state is not MessageState.EXECUTED:
        return
    _gateway_legs(net, rec.id, net.phala.start_block, None, 5.0, beneficiary)


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


__all__ = ["RelayerRecord", "live_message", "live_record", "plan_transfer", "printable", "status", "transfer"]
