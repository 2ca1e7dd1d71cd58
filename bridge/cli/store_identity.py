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
  with their decimals, the deposit minimums.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

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


def phala_identity(phala: PhalaConfig, genesis_hash: str) -> ChainIdentity:
    minimums = ",".join(
        f"{d}:transfer={m.transfer}/call={m.call}" for d, m in sorted(phala.min_deposit.items()) if m.transfer or m.call
    )
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
            "min_deposit": minimums or "none",
        },
        (phala.name, f"{phala.name}-replies"),  # the deposit watcher and the replies watcher
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
    "phala_genesis",
    "phala_identity",
]
