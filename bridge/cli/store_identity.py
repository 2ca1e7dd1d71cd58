"""The identity of the deployment a relayer runs (relayers.store.identity), from its config, its enclave's Phala
bridge account and the chains' genesis hashes; shared by `relayer run` (checks the store before anything else) and
`store rebind`.

Bound per chain (text, compared as is):
- Ethereum: domain, chain id, genesis hash, bridge address, start block. Not the group key or its epoch (rotated on
  the bridge by the committee) nor `[resources]` (a token added later is not a new deployment: the contract
  refuses deposits of a token it does not know, so no event was skipped).
- Phala: domain, genesis hash, para id, bridge account (the Ed25519 group key: kept by resharing, new only after a
  new DKG), start block (deposits are numbered from it), index start block (the replies' cursor), and what decides
  which transfers are numbered deposits: the native token's resource id and decimals, the destinations it may name
  with their decimals, the deposit minimums. The minimums are a schedule by block (bridge/minimums.py): a schedule
  that differs from the recorded one only above the deposit cursor's block judged every counted deposit alike, so
  it replaces the record (`store_identity_updated`); one that differs at or below it is a mismatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from bridge.errors import InputError
from bridge.minimums import DepositMinimum, MinimumChange, Minimums, MinimumSchedule, as_schedules, first_difference
from relayers.ethereum import EthereumConfig
from relayers.store.identity import ChainIdentity
from relayers.substrate import PhalaConfig

log = structlog.get_logger("relayer.store")


def ethereum_identity(eth: EthereumConfig, genesis_hash: str) -> ChainIdentity:
    return ChainIdentity(
        eth.name,
        {
            "kind": "ethereum",
            "domain": str(eth.domain),
            "chain_id": str(eth.chain_id),
            "genesis_hash": genesis_hash.lower(),
            "bridge_address": eth.bridge_address.lower(),
            "start_block": str(eth.start_block),
        },
        (eth.name,),
    )


def minimums_text(minimums: Minimums, start_block: int) -> str:
    """One text per rule from `start_block` on: `<domain>:<transfer>/<call>[@<from block>:<transfer>/<call>]...`,
    destinations ascending and joined by `,`, those without any minimum left out; `none` when there is none."""
    parts = []
    for domain, schedule in as_schedules(minimums).items():
        s = schedule.from_start(start_block)
        if s == MinimumSchedule():
            continue
        text = f"{domain}:{s.initial.transfer}/{s.initial.call}"
        text += "".join(f"@{c.from_block}:{c.minimum.transfer}/{c.minimum.call}" for c in s.changes)
        parts.append(text)
    return ",".join(parts) or "none"


def parse_minimums_text(text: str) -> dict[int, MinimumSchedule]:
    """The schedules `minimums_text` wrote; ValueError for anything else."""
    if text == "none":
        return {}
    out: dict[int, MinimumSchedule] = {}
    try:
        for part in text.split(","):
            domain, _, rest = part.partition(":")
            values = rest.split("@")

            def pair(value: str) -> DepositMinimum:
                transfer, call = value.split("/")
                return DepositMinimum(int(transfer), int(call))

            changes = []
            for item in values[1:]:
                block, _, value = item.partition(":")
                changes.append(MinimumChange(int(block), pair(value)))
            out[int(domain)] = MinimumSchedule(pair(values[0]), tuple(changes))
    except (ValueError, InputError) as exc:
        raise ValueError(f"not a recorded minimum schedule: {text!r} ({exc})") from None
    return out


def minimums_successor(start_block: int) -> Callable[[str, str, int | None], bool]:
    """The recorded schedule may be replaced by one that judges every deposit up to the counted block alike (a
    change scheduled above it); before anything was counted, by any."""

    def may_follow(recorded: str, current: str, counted_to: int | None) -> bool:
        try:
            old: Mapping[int, MinimumSchedule] = parse_minimums_text(recorded)
            new: Mapping[int, MinimumSchedule] = parse_minimums_text(current)
        except ValueError:
            return False
        if counted_to is None:
            return True
        diff = first_difference(old, new, start_block)
        return diff is None or diff.block > counted_to

    return may_follow


def phala_identity(phala: PhalaConfig, genesis_hash: str) -> ChainIdentity:
    return ChainIdentity(
        phala.name,
        {
            "kind": "substrate",
            "domain": str(phala.domain),
            "genesis_hash": genesis_hash.lower(),
            "para_id": "unchecked" if phala.para_id is None else str(phala.para_id),
            "bridge_account": "0x" + phala.bridge_account.hex(),
            "start_block": str(phala.start_block),
            "index_start_block": str(phala.index_start_block),
            "resource_id": "0x" + phala.resource_id.hex(),
            "native_decimals": str(phala.native_decimals),
            "destinations": ",".join(f"{d}:{n}" for d, n in sorted(phala.dest_decimals.items())),
            "min_deposit": minimums_text(phala.min_deposit, phala.start_block),
        },
        (phala.name, f"{phala.name}-replies"),  # the deposit watcher and the replies watcher
        successors={"min_deposit": minimums_successor(phala.start_block)},
        counted_by=phala.name,  # deposits are counted (and judged by the minimum) up to the watcher's cursor
    )


class ChainUnreachable(RuntimeError):
    """A chain's genesis hash could not be read (the endpoint is down or timed out): retry."""


def ethereum_genesis(eth: EthereumConfig) -> str:
    """Block 0's hash (also checks the node's chain id: `ChainIdMismatch`, permanent)."""
    from relayers.ethereum.errors import RpcError, RpcTimeout, RpcUnavailable
    from relayers.ethereum.rpc import EthRpc

    rpc = EthRpc(eth.rpc_url, chain_id=eth.chain_id, bridge=eth.bridge_address, timeout=eth.rpc_timeout)
    try:
        header = rpc.run_sync(lambda r: r.header(0))
    except (RpcUnavailable, RpcTimeout, RpcError) as exc:
        raise ChainUnreachable(f"{eth.name} at {eth.rpc_url}: {exc}") from None
    if header is None:
        raise ChainUnreachable(f"{eth.name} at {eth.rpc_url} has no block 0")
    return header.hash


def phala_genesis(phala: PhalaConfig) -> str:
    """Block 0's hash (also checks the node's para id: `ParaIdMismatch`, permanent)."""
    from relayers.substrate.errors import ParaIdMismatch, SubstrateError
    from relayers.substrate.session import ClientSession

    session = ClientSession(phala.url, timeout=phala.rpc_timeout, para_id=phala.para_id)
    try:
        found = session.run_sync(lambda reader: reader.block_hash(0))
    except ParaIdMismatch:
        raise
    except SubstrateError as exc:
        raise ChainUnreachable(f"{phala.name} at {phala.url}: {exc}") from None
    finally:
        session.close()
    if found is None:
        raise ChainUnreachable(f"{phala.name} at {phala.url} has no block 0")
    return found


async def current_identity(
    eth: EthereumConfig,
    phala: PhalaConfig,
    *,
    stop: asyncio.Event | None = None,
    retry: float = 2.0,
    max_retry: float = 30.0,
    reads: tuple[Callable[[EthereumConfig], str], Callable[[PhalaConfig], str]] = (ethereum_genesis, phala_genesis),
) -> list[ChainIdentity] | None:
    """Both chains' identities, reading their genesis hashes; an unreachable endpoint is retried (logged
    `store_identity_waiting_for_chain`) until `stop` is set (then None), or raised once when there is no `stop`."""
    read_eth, read_phala = reads
    hashes: dict[str, str] = {}
    delay = retry
    while True:
        try:
            if "eth" not in hashes:
                hashes["eth"] = await asyncio.to_thread(read_eth, eth)
            if "phala" not in hashes:
                hashes["phala"] = await asyncio.to_thread(read_phala, phala)
            return [ethereum_identity(eth, hashes["eth"]), phala_identity(phala, hashes["phala"])]
        except ChainUnreachable as exc:
            if stop is None:
                raise
            log.warning("store_identity_waiting_for_chain", error=str(exc), retry_in=delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return None
            except TimeoutError:
                delay = min(delay * 2, max_retry)


__all__ = [
    "ChainUnreachable",
    "current_identity",
    "ethereum_genesis",
    "ethereum_identity",
    "minimums_successor",
    "minimums_text",
    "parse_minimums_text",
    "phala_genesis",
    "phala_identity",
]
