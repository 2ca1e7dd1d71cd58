"""`phala-bridge committee dkg | reshare | approve-reshare | status | publish | records`: operator commands. The
status run through the local enclave's socket; `publish` writes the committee record on the Phala chain from the
operator's account and `records` reads the records back (docs/committee.md, "The committee record on chain")."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from bridge.addresses import format_substrate_account, parse_substrate_account
from bridge.cli.errors import EXIT_FAILURE, UsageError, at_least, handle_errors
from bridge.cli.loading import NetworkOpt, key_source, load_config, load_network, substrate_keypair
from bridge.committee_record import encode_record, parse_record_json
from bridge.config import NodeConfig
from bridge.config.types import SubstrateUrl
from bridge.enclave_api import CeremonyResult, CommitteeRecord, StatusResult
from relayers.enclave_client import EnclaveApiError, EnclaveClient, EnclaveClientError

if TYPE_CHECKING:
    from relayers.substrate.committee_records import RecordOnChain

app = typer.Typer(help="Committee ceremonies and status (through this node's enclave); its record on Phala.")
console = Console()
T = TypeVar("T")

ConfigOpt = typer.Option(..., "--config", "-c", help="node TOML file ([enclave] socket)")
JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")
PhalaOpt = typer.Option(None, "--phala", help="a Phala node's websocket URL (default: the network file's)")
MAX_RECORDS_RANGE = 10_000  # blocks read one by one: a wider scan is a job for an indexer, not this command


def _ids(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated member ids, got {text!r}") from None
    if not ids or any(not 0 < i < 65536 for i in ids) or len(set(ids)) != len(ids):
        raise UsageError(f"{what}: expected distinct member ids in 1..65535, got {text!r}")
    return ids


def _call(config: Path, action: Callable[[EnclaveClient], Awaitable[T]]) -> T:
    cfg = load_config(config, NodeConfig)

    async def go() -> T:
        async with EnclaveClient(cfg.enclave.socket) as client:
            return await action(client)

    try:
        return asyncio.run(go())
    except EnclaveApiError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None
    except EnclaveClientError as exc:
        print(f"error: {exc} (is `phala-bridge enclave run --config {config}` running?)", file=sys.stderr)
        raise typer.Exit(EXIT_FAILURE) from None


def _print_json(model: BaseModel) -> None:
    typer.echo(json.dumps(model.model_dump(mode="json"), indent=2))


def _print_record(record: CommitteeRecord) -> None:
    table = Table(title=f"committee {record.committee_id}, epoch {record.epoch}, threshold {record.threshold}")
    for col in ("member", "identity public key", "quote digest", "platform"):
        table.add_column(col)
    for m in record.members:
        table.add_row(str(m.member_id), m.identity_public_key.hex(), m.quote_digest.hex()[:32] + "...", m.platform_id)
    console.print(table)
    keys = record.group_keys
    console.print(f"group key secp256k1 (Ethereum):   0x{keys.secp256k1.hex()}")
    console.print(f"group key ed25519 (Phala account): 0x{keys.ed25519.hex()}")
    console.print(f"group key encryption (ECIES):      0x{keys.encryption.hex()}")
    if record.excluded:
        console.print(f"[yellow]excluded: {list(record.excluded)}[/]")
    console.print(f"record digest: 0x{record.digest().hex()} (`--json` prints the record to `committee publish`)")


def _print_ceremony(result: CeremonyResult, as_json: bool) -> None:
    if as_json:
        _print_json(result)
    else:
        _print_record(result.record)


@app.command()
@handle_errors
def dkg(
    config: Path = ConfigOpt,
    participants: str | None = typer.Option(None, help="member ids, e.g. 1,2,3,4,5 (default: committee.members)"),
    threshold: int | None = typer.Option(None, help="default: committee.threshold"),
    timeout: float = typer.Option(60.0, help="seconds for the whole ceremony"),
    as_json: bool = JsonOpt,
) -> None:
    """Run the DKG ceremony (this node's enclave coordinates) and print the group keys and the committee record."""
    if threshold is not None:
        at_least(threshold, 1, "--threshold")
    at_least(timeout, 1, "--timeout", " s")
    ids = _ids(participants, "--participants")
    result = _call(config, lambda c: c.dkg(ids, threshold, timeout_s=timeout))
    _print_ceremony(result, as_json)


@app.command()
@handle_errors
def reshare(
    config: Path = ConfigOpt,
    new_members: str = typer.Option(..., help="the new committee's member ids, e.g. 2,3,4,5,6"),
    new_threshold: int = typer.Option(...),
    old_signers: str | None = typer.Option(None, help="old members that deal (default: t members up)"),
    timeout: float = typer.Option(60.0, help="seconds for the whole ceremony"),
    as_json: bool = JsonOpt,
) -> None:
    """Move the same group keys to a new committee (new epoch); members joining must run at the new epoch. Every
    other member involved must first run `committee approve-reshare` with the same members and threshold."""
    at_least(new_threshold, 1, "--new-threshold")
    at_least(timeout, 1, "--timeout", " s")
    members = _ids(new_members, "--new-members") or []
    signers = _ids(old_signers, "--old-signers")
    if new_threshold > len(members):
        raise UsageError(f"--new-threshold {new_threshold} exceeds the {len(members)} new members")
    result = _call(config, lambda c: c.reshare(members, new_threshold, old_signers=signers, timeout_s=timeout))
    _print_ceremony(result, as_json)


@app.command("approve-reshare")
@handle_errors
def approve_reshare(
    config: Path = ConfigOpt,
    new_members: str = typer.Option(..., help="the new committee's member ids, e.g. 2,3,4,5,6"),
    new_threshold: int = typer.Option(..., help="at least a majority of the new members"),
    ttl: float = typer.Option(3600.0, help="seconds the approval stays valid (at most 7 days)"),
    as_json: bool = JsonOpt,
) -> None:
    """Let this member take part in a resharing to exactly this committee. Every member involved (old signers, new
    members, members leaving) needs its own operator's approval before the coordinator's `committee reshare`; a
    member without it deals nothing, takes no share and erases nothing. Approvals live in the enclave's memory."""
    at_least(new_threshold, 1, "--new-threshold")
    if not 0 < ttl <= 7 * 86_400:
        raise UsageError(f"--ttl {ttl:g}: between 0 and 604800 seconds")
    members = _ids(new_members, "--new-members") or []
    if new_threshold > len(members):
        raise UsageError(f"--new-threshold {new_threshold} exceeds the {len(members)} new members")
    if new_threshold < len(members) // 2 + 1:
        raise UsageError(
            f"--new-threshold {new_threshold}: at least a majority of {len(members)} ({len(members) // 2 + 1})"
        )
    result = _call(config, lambda c: c.approve_reshare(members, new_threshold, ttl_s=ttl))
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        typer.echo(
            f"approved: resharing to members {','.join(map(str, result.new_members))} "
            f"with threshold {result.new_threshold}, for {result.ttl_s:g} s"
        )


@app.command()
@handle_errors
def status(config: Path = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Who this enclave is, its epoch and keys, who is up and who leads."""
    result: StatusResult = _call(config, lambda c: c.status())
    if as_json:
        _print_json(result)
        return
    console.print(
        f"member {result.member_id} of committee {result.committee_id}, epoch {result.epoch}, "
        f"threshold {result.threshold}, keys: {'yes' if result.has_keys else 'no'}"
    )
    console.print(f"members {list(result.members)}; up {list(result.members_up)}; leader {result.leader}")
    console.print(f"attested {list(result.attested)}; broker {'connected' if result.broker_connected else 'down'}")
    console.print(f"measurement 0x{result.measurement.hex()}; platform {result.platform_id}")
    if result.group_keys is not None:
        console.print(f"secp256k1 0x{result.group_keys.secp256k1.hex()}")
        console.print(f"ed25519   0x{result.group_keys.ed25519.hex()}")
    if result.quote_rejections:
        console.print(f"[yellow]quotes refused: {result.quote_rejections}[/]")


def _read_record_file(path: Path) -> CommitteeRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text: expected the output of `committee dkg --json`") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the record file ({exc.strerror})") from None
    try:
        return parse_record_json(text)
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _check_against_enclave(record: CommitteeRecord, status: StatusResult) -> None:
    """Refuse a record that is not this node's committee as its enclave holds it now (a stale file, another
    committee's, one edited by hand): the first difference, by name."""
    if not status.has_keys:
        raise UsageError(f"this node's enclave (member {status.member_id}) holds no committee keys yet")
    theirs = {"committee id": status.committee_id, "epoch": status.epoch, "threshold": status.threshold}
    ours = {"committee id": record.committee_id, "epoch": record.epoch, "threshold": record.threshold}
    for what, value in theirs.items():
        if ours[what] != value:
            raise UsageError(f"the record's {what} is {ours[what]}, this node's enclave has {value}")
    if record.group_keys != status.group_keys:
        raise UsageError("the record's group keys differ from this node's enclave's")
    member = record.member(status.member_id)
    if member is None:
        raise UsageError(f"this node's enclave is member {status.member_id}, which the record does not list")
    if member.identity_public_key != status.identity_public_key:
        raise UsageError(f"the record's identity key for member {status.member_id} differs from its enclave's")


def _phala_url(phala: str | None, network: Path, config: Path | None = None) -> str:
    """The Phala endpoint: `--phala`, else the node config's (`[chains.*]` of kind substrate: this member's own
    node), else the network file's (the devnet's)."""
    if phala is not None:
        try:
            return str(TypeAdapter(SubstrateUrl).validate_python(phala))
        except ValidationError as exc:
            raise UsageError(f"--phala: {exc.errors()[0]['msg']}") from None
    if config is not None:
        chains = [c for c in load_config(config, NodeConfig).chains.values() if c.kind == "substrate"]
        if len(chains) != 1:
            raise UsageError(f"{config}: expected one [chains.*] of kind substrate (Phala), found {len(chains)}")
        return str(chains[0].ws_url)
    return str(load_network(network).phala.ws_url)


def _ss58(account: bytes | None, ss58_format: int) -> str | None:
    return None if account is None else format_substrate_account(account, ss58_format)


def _record_json(found: RecordOnChain, ss58_format: int) -> dict[str, object]:
    return {
        "block": found.block_number,
        "extrinsic": found.extrinsic_hash,
        "signer": _ss58(found.signer, ss58_format),
        "digest": "0x" + found.record.digest().hex(),
        "keys_digest": "0x" + found.record.keys_digest().hex(),
        "record": found.record.model_dump(mode="json"),
    }


@app.command()
@handle_errors
def publish(
    record_file: Path = typer.Option(..., "--record", help="the ceremony's output (`committee dkg --json`) in a file"),
    phala: str | None = PhalaOpt,
    network: Path = NetworkOpt,
    key_file: Path | None = typer.Option(None, "--key-file", help="the operator account's secret URI, in a file"),
    dev_account: str | None = typer.Option(None, "--dev-account", help="devnet only: //Alice etc."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="check the record against this node's enclave; its Phala node by default"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Write the committee record on the Phala chain (`system.remark_with_event`, signed by the operator's account)
    and print where it landed. Readers trust records by their signer: publish from the account they know."""
    record = _read_record_file(record_file)
    encode_record(record)  # its size on chain, checked before anything else
    # The secret is never shown: a refusal names the key file (or --dev-account) and what is wrong.
    keypair = substrate_keypair(
        *key_source(
            key_file,
            dev_account,
            "give the operator's key: --key-file (a secret URI in a file), or --dev-account on the devnet",
        )
    )
    if config is not None:
        _check_against_enclave(record, _call(config, lambda c: c.status()))
    url = _phala_url(phala, network, config)

    from relayers.substrate import SubstrateClient
    from relayers.substrate.committee_records import write_record

    with SubstrateClient(url) as client:
        written = write_record(client, keypair, record)
        ss58_format = client.ss58_format
    if as_json:
        typer.echo(json.dumps(_record_json(written, ss58_format), indent=2))
        return
    console.print(
        f"committee {record.committee_id} epoch {record.epoch} recorded in block {written.block_number} "
        f"(extrinsic {written.extrinsic_hash}) by {_ss58(written.signer, ss58_format)}"
    )
    console.print(f"record digest: 0x{record.digest().hex()}")


@app.command()
@handle_errors
def records(
    phala: str | None = PhalaOpt,
    network: Path = NetworkOpt,
    from_block: int | None = typer.Option(None, "--from-block", help="default: 1,000 blocks before --to-block"),
    to_block: int | None = typer.Option(None, "--to-block", help="default: the finalized head"),
    signer: str | None = typer.Option(None, "--signer", help="only records written by this account (SS58 or 0x)"),
    config: Path | None = typer.Option(None, "--config", "-c", help="read through this node config's Phala node"),
    as_json: bool = JsonOpt,
) -> None:
    """The committee records written on the Phala chain in a range of finalized blocks, oldest first."""
    if from_block is not None:
        at_least(from_block, 0, "--from-block")
    if to_block is not None:
        at_least(to_block, 0, "--to-block")
    wanted = parse_substrate_account(signer) if signer is not None else None
    url = _phala_url(phala, network, config)

    from relayers.substrate import SubstrateClient
    from relayers.substrate.chain import ChainReader
    from relayers.substrate.committee_records import read_records

    with SubstrateClient(url) as client:
        head = ChainReader(client).finalized_head().block_number
        last = head if to_block is None else to_block
        if last > head:
            raise UsageError(f"--to-block {last} is not final yet (the finalized head is {head})")
        first = max(0, last - 999) if from_block is None else from_block
        if first > last:
            raise UsageError(f"--from-block {first} is after --to-block {last}")
        if last - first + 1 > MAX_RECORDS_RANGE:
            raise UsageError(f"{last - first + 1} blocks asked, at most {MAX_RECORDS_RANGE} at a time")
        found = [r for r in read_records(client, first, last) if wanted is None or r.signer == wanted]
        ss58_format = client.ss58_format
    if as_json:
        typer.echo(json.dumps([_record_json(r, ss58_format) for r in found], indent=2))
        return
    if not found:
        console.print(f"no committee record in blocks {first}..{last}")
        return
    table = Table(title=f"committee records in blocks {first}..{last}")
    for col in ("block", "committee", "epoch", "t of n", "signer", "record digest"):
        table.add_column(col)
    for r in found:
        rec = r.record
        table.add_row(
            str(r.block_number),
            rec.committee_id,
            str(rec.epoch),
            f"{rec.threshold} of {len(rec.members)}",
            _ss58(r.signer, ss58_format) or "?",
            "0x" + rec.digest().hex(),
        )
    console.print(table)
