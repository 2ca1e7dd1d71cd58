"""Build the chain adapters and the bridge policy from a node's TOML config (the application edge: the one place
that knows both the config schema and the adapters' own config types)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bridge.cli.engine_scan import EngineScanCheckpoints
from bridge.config.schema import EthereumChain, GatewaySection, NodeConfig, SubstrateChain
from bridge.errors import InputError
from bridge.gateway import GatewayConfig
from bridge.minimums import DepositMinimum, MinimumChange, MinimumSchedule
from bridge.policy import BridgePolicy, Resource
from relayers.ethereum import EthereumConfig
from relayers.ethereum.config import GWEI
from relayers.substrate import PhalaConfig
from relayers.substrate.deposit_checkpoint import DepositCheckpoints
from relayers.substrate.index_checkpoint import CheckpointPolicy, CheckpointStore, IndexCheckpoints

if TYPE_CHECKING:
    from enclave_signer.process.confidential import StateCheckpoints


class WiringError(InputError):
    """The node config cannot be turned into working adapters (e.g. a chain kind missing)."""


def _chain(cfg: NodeConfig, kind: str) -> tuple[str, EthereumChain | SubstrateChain]:
    found = [(name, c) for name, c in cfg.chains.items() if c.kind == kind]
    if len(found) != 1:
        raise WiringError(f"the node config needs exactly one [chains.*] of kind {kind!r}, found {len(found)}")
    return found[0]


def _decimals_by_domain(cfg: NodeConfig) -> dict[bytes, dict[int, int]]:
    out: dict[bytes, dict[int, int]] = {}
    for res in cfg.resources.values():
        out[bytes.fromhex(res.resource_id[2:])] = {cfg.chains[c].domain_id: d for c, d in res.decimals.items()}
    return out


def policy_of(cfg: NodeConfig) -> BridgePolicy:
    domains = frozenset(c.domain_id for c in cfg.chains.values())
    resources = [
        Resource(
            name=name,
            resource_id=bytes.fromhex(res.resource_id[2:]),
            decimals={cfg.chains[c].domain_id: d for c, d in res.decimals.items()},
            max_per_message=res.max_per_message,
        )
        for name, res in cfg.resources.items()
    ]
    settlement = cfg.confidential.auction_settlement
    reply_only = frozenset() if settlement is None else frozenset({bytes.fromhex(settlement[2:])})
    return BridgePolicy.of(resources, domains=domains, reply_only_targets=reply_only)


def ethereum_config(cfg: NodeConfig, *, group_public_key: bytes | None = None) -> EthereumConfig:
    name, chain = _chain(cfg, "ethereum")
    assert isinstance(chain, EthereumChain)
    return EthereumConfig(
        rpc_url=chain.rpc_url,
        chain_id=chain.chain_id,
        bridge_address=chain.bridge_address,
        resources=_decimals_by_domain(cfg),
        name=name,
        domain=chain.domain_id,
        finality=chain.finality,
        confirmations=chain.confirmations,
        start_block=chain.start_block,
        max_block_range=chain.max_block_range,
        group_public_key=group_public_key,
        submitter_key_file=Path(chain.submitter_key_file) if chain.submitter_key_file else None,
        use_access_lists=chain.use_access_lists,
        stuck_timeout=chain.stuck_timeout_s,
        max_fee_per_gas=_wei(chain.max_fee_per_gas_gwei),
        max_priority_fee_per_gas=_wei(chain.max_priority_fee_per_gas_gwei),
        base_fee_multiplier=chain.base_fee_multiplier,
        fee_bump_bps=chain.fee_bump_bps,
        gas_headroom_bps=chain.gas_headroom_bps,
        max_batch_bytes=chain.max_batch_bytes,
        rewind_depth=chain.rewind_depth,
        rpc_timeout=chain.rpc_timeout_s,
        # call_gas_limit and max_batch_items stay the adapter's: every member's rebuild uses them (docs/operations.md)
    )


def _wei(gwei: Decimal) -> int:
    return int(gwei * GWEI)  # exact: the schema allows at most 9 decimal places


def phala_config(cfg: NodeConfig, bridge_account: bytes) -> PhalaConfig:
    name, chain = _chain(cfg, "substrate")
    assert isinstance(chain, SubstrateChain)
    native = [r for r in cfg.resources.values() if name in r.decimals]
    if len(native) != 1:
        raise WiringError(f"exactly one resource must name chain {name!r} (its native token), found {len(native)}")
    res = native[0]
    dest_decimals = {cfg.chains[c].domain_id: d for c, d in res.decimals.items() if c != name}
    return PhalaConfig(
        url=chain.ws_url,
        bridge_account=bridge_account,
        resource_id=bytes.fromhex(res.resource_id[2:]),
        name=name,
        domain=chain.domain_id,
        native_decimals=res.decimals[name],
        dest_decimals=dest_decimals,
        min_deposit=minimums_of(cfg, chain),
        start_block=chain.start_block,
        index_start_block=chain.start_block if chain.index_start_block is None else chain.index_start_block,
        gateway=gateway_config(chain.gateway, bytes.fromhex(res.resource_id[2:])) if chain.gateway else None,
        para_id=chain.para_id,
        max_blocks_per_poll=chain.max_blocks_per_poll,
        rewind_depth=chain.rewind_depth,
        rpc_timeout=chain.rpc_timeout_s,
        pending_timeout=chain.pending_timeout_s,
        fee_reserve=chain.fee_reserve,
        liquidity_hold_after=chain.liquidity_hold_after_s,
    )


def minimums_of(cfg: NodeConfig, chain: SubstrateChain) -> dict[int, MinimumSchedule]:
    """`[chains.phala.min_deposit]` by destination domain: the minimum from the start and its `changes`, each from
    its block (a `call` not given is the same entry's `transfer` minimum)."""

    def minimum(transfer: int, call: int | None) -> DepositMinimum:
        return DepositMinimum(transfer, transfer if call is None else call)

    return {
        cfg.chains[dest].domain_id: MinimumSchedule(
            minimum(m.transfer, m.call),
            tuple(MinimumChange(c.from_block, minimum(c.transfer, c.call)) for c in m.changes),
        )
        for dest, m in chain.min_deposit.items()
    }


def index_checkpoints(cfg: NodeConfig, store: CheckpointStore | None, role: str) -> IndexCheckpoints | None:
    """Checkpoints of the Phala executed index kept by `role` (one snapshot per role), when enabled."""
    return _checkpoints(IndexCheckpoints, cfg, store, "substrate", f"executed-index/{role}")


def deposit_checkpoints(cfg: NodeConfig, store: CheckpointStore | None) -> DepositCheckpoints | None:
    """Checkpoints of an enclave's Phala deposit view, when enabled."""
    return _checkpoints(DepositCheckpoints, cfg, store, "substrate", "deposits/verifier")


def engine_scan_checkpoints(cfg: NodeConfig, store: CheckpointStore | None) -> EngineScanCheckpoints | None:
    """Checkpoints of the confidential engine's Ethereum scan (an enclave's `MemberChainView`), when enabled."""
    return _checkpoints(EngineScanCheckpoints, cfg, store, "ethereum", "engine-scan/confidential-calls")


def state_checkpoints(cfg: NodeConfig, store: CheckpointStore | None) -> StateCheckpoints | None:
    """Where the engine seals its state snapshots (`<phala chain>/confidential-state/<bridge account prefix>`, every
    `[checkpoints] state_every_records` records and on a clean stop), when checkpoints are on."""
    from enclave_signer.process.confidential import StateCheckpoints  # the enclave's only: not on a relayer's path

    if store is None or not cfg.checkpoints.enabled:
        return None
    name, _ = _chain(cfg, "substrate")
    return StateCheckpoints(store, f"{name}/confidential-state", cfg.checkpoints.state_every_records)


_C = TypeVar("_C", IndexCheckpoints, DepositCheckpoints, EngineScanCheckpoints)


def _checkpoints(
    kind: type[_C], cfg: NodeConfig, store: CheckpointStore | None, chain_kind: str, snapshot: str
) -> _C | None:
    """One view's checkpoints, named `<chain>/<snapshot>` after the chain it reads, when enabled."""
    if store is None or not cfg.checkpoints.enabled:
        return None
    name, _ = _chain(cfg, chain_kind)
    return kind(
        store, f"{name}/{snapshot}", CheckpointPolicy(cfg.checkpoints.every_blocks, cfg.checkpoints.every_seconds)
    )


def gateway_config(section: GatewaySection, resource_id: bytes | None = None) -> GatewayConfig:
    return GatewayConfig.of(bytes.fromhex(section.reserve_account[2:]), section.parachains, resource_id)
