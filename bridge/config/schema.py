"""The TOML configuration files, as pydantic models. Unknown keys are errors: a typo must not be ignored. Types are
strict: `confirmations = true` or `enabled = "no"` is refused, not read as 1 or False (TOML has real integers,
booleans and floats; an integer is accepted for a float, and a string or a number for a decimal amount)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bridge.config.types import (
    ConfigPath,
    EthAddress,
    EthRpcUrl,
    HostPort,
    MqttUrl,
    PositiveInt,
    StoreUrl,
    SubstrateWsUrl,
)
from bridge.gateway import DEFAULT_WEIGHT_LIMIT_BASE, PROGRAM_VERSIONS
from bridge.minimums import MAX_CHANGES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# A decimal amount: a TOML integer, float or string ("0.1", exact); never a boolean (strict=False lets the decimal
# validator convert the numbers and strings; it refuses booleans itself).
_Gwei = Annotated[Decimal, Field(strict=False, le=100_000, decimal_places=9, allow_inf_nan=False)]


# ---- devnet.toml -------------------------------------------------------------------------------------------------


class DevnetEthereum(_Section):
    chain_id: PositiveInt = 31337
    block_time: Annotated[float, Field(gt=0, le=60)] | None = 1.0  # seconds; None = mine only on transactions
    # The anvil state dump (contracts deployed) made by anvil-fixtures/make_fixtures.py; empty = a bare anvil.
    fixture: str = "anvil-fixtures/devnet-state.json"  # "" too


class DevnetParachain(_Section):
    para_id: Annotated[int, Field(ge=1000, lt=2**32)]


class DevnetBroker(_Section):
    kind: Literal["auto", "mosquitto", "embedded"] = "auto"


class DevnetCommittee(_Section):
    enabled: bool = True  # start the enclaves and relayers (the bridge) on top of the chains
    members: Annotated[int, Field(ge=1, le=32)] = 5
    threshold: Annotated[int, Field(ge=1, le=32)] = 3

    @model_validator(mode="after")
    def _threshold_fits(self) -> DevnetCommittee:
        if self.threshold > self.members:
            raise ValueError(f"threshold {self.threshold} exceeds members {self.members}")
        if self.threshold < self.members // 2 + 1:  # the enclaves refuse a DKG below it
            raise ValueError(f"threshold {self.threshold} of {self.members} members: at least {self.members // 2 + 1}")
        return self


class DevnetSection(_Section):
    work_dir: ConfigPath = ".devnet"
    ethereum: DevnetEthereum = DevnetEthereum()
    phala: DevnetParachain = DevnetParachain(para_id=2035)
    peer: DevnetParachain = DevnetParachain(para_id=1000)
    broker: DevnetBroker = DevnetBroker()
    committee: DevnetCommittee = DevnetCommittee()

    @model_validator(mode="after")
    def _distinct_paras(self) -> DevnetSection:
        if self.phala.para_id == self.peer.para_id:
            raise ValueError("phala.para_id and peer.para_id must differ")
        return self


class DevnetConfig(_Section):
    devnet: DevnetSection = DevnetSection()


# ---- node.toml (one committee member: relayer + enclave) ---------------------------------------------------------


class NodeSection(_Section):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    member_index: Annotated[int, Field(ge=1, le=255)]
    log_format: Literal["console", "json"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class StoreSection(_Section):
    url: StoreUrl = "sqlite:///phala-bridge.db"


class BrokerSection(_Section):
    url: MqttUrl = "mqtt://127.0.0.1:1883"
    topic_prefix: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_/-]+$")] = "phala-bridge"


class EnclaveSection(_Section):
    socket: ConfigPath
    sealed_dir: ConfigPath


class MetricsSection(_Section):
    listen: HostPort = "127.0.0.1:9101"


class EthereumChain(_Section):
    kind: Literal["ethereum"]
    domain_id: Annotated[int, Field(ge=1, le=255)]
    rpc_url: EthRpcUrl
    chain_id: PositiveInt
    bridge_address: EthAddress
    confirmations: Annotated[int, Field(ge=0, le=1000)] = 12
    start_block: Annotated[int, Field(ge=0)] = 0
    submitter_key_file: ConfigPath | None = None  # the relayer's gas-paying key; not a bridge key
    finality: Literal["confirmations", "finalized"] = "confirmations"
    max_block_range: Annotated[int, Field(ge=1, le=10_000)] = 500
    use_access_lists: bool = True
    stuck_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Relayer-local: what this member's submitter pays and how long it waits (docs/operations.md, "Per-node chain
    # settings"). What every member must agree on (call_gas_limit, max_batch_items) is not here: it is a constant
    # of the adapter, the same in every build.
    max_fee_per_gas_gwei: Annotated[_Gwei, Field(gt=0)] = Decimal(300)
    max_priority_fee_per_gas_gwei: Annotated[_Gwei, Field(ge=0)] = Decimal(5)
    base_fee_multiplier: Annotated[int, Field(ge=1, le=10)] = 2
    # replacement bump; at least 12.5%: nodes refuse a replacement bumped less than 10%
    fee_bump_bps: Annotated[int, Field(ge=1_250, le=10_000)] = 1_250
    gas_headroom_bps: Annotated[int, Field(ge=0, le=10_000)] = 2_000
    max_batch_bytes: Annotated[int, Field(ge=16 * 1024, le=128 * 1024)] = 112 * 1024
    rewind_depth: Annotated[int, Field(ge=1, le=10_000)] = 128
    rpc_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    @model_validator(mode="after")
    def _tip_under_cap(self) -> EthereumChain:
        if self.max_priority_fee_per_gas_gwei > self.max_fee_per_gas_gwei:
            raise ValueError(
                f"max_priority_fee_per_gas_gwei {self.max_priority_fee_per_gas_gwei} exceeds "
                f"max_fee_per_gas_gwei {self.max_fee_per_gas_gwei}"
            )
        return self


class GatewayParachain(_Section):
    """A parachain the XCM gateway delivers to (bridge/gateway.py, docs/xcm.md)."""

    para_id: Annotated[int, Field(ge=0, lt=2**32)]
    xcm_versions: Annotated[list[Annotated[int, Field(ge=2, le=5)]], Field(min_length=1)] = [2]
    beneficiaries: Annotated[list[Literal["account_id32", "account_key20"]], Field(min_length=1)] = ["account_id32"]
    min_fee: Annotated[int, Field(gt=0, lt=2**128)]  # planck the program's execution needs there
    min_deposit: Annotated[int, Field(ge=0, lt=2**128)]  # what must arrive: the destination's existential deposit
    weight_limit_base: Annotated[int, Field(gt=0, lt=2**63)] = DEFAULT_WEIGHT_LIMIT_BASE

    @model_validator(mode="after")
    def _a_version_the_gateway_writes(self) -> GatewayParachain:
        # The gateway sends the XCM program in a version both the route and this build support; with none in common
        # every deposit on the route would be refunded (bridge/gateway.py, `unsupported version`).
        if not set(self.xcm_versions) & PROGRAM_VERSIONS:
            supported = ", ".join(map(str, sorted(PROGRAM_VERSIONS)))
            raise ValueError(
                f"xcm_versions {self.xcm_versions} lists no XCM version the gateway can write (it writes {supported}):"
                " every deposit on this route would be refunded"
            )
        return self


class GatewaySection(_Section):
    reserve_account: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]  # on Phala, see docs/xcm.md
    parachains: Annotated[dict[str, GatewayParachain], Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct_paras(self) -> GatewaySection:
        ids = [p.para_id for p in self.parachains.values()]
        if len(set(ids)) != len(ids):
            raise ValueError("gateway parachains must have distinct para_id")
        return self


class MinimumChangeSection(_Section):
    """`[[chains.phala.min_deposit.<chain>.changes]]`: the minimum in force from Phala block `from_block` on."""

    from_block: Annotated[int, Field(ge=1, lt=2**64)]
    transfer: Annotated[int, Field(ge=0, lt=2**128)] = 0
    call: Annotated[int, Field(ge=0, lt=2**128)] | None = None  # default: this change's `transfer`


class DepositMinimumSection(_Section):
    """Planck the smallest Phala deposit to one destination must carry (bridge/minimums.py); 0: no minimum.
    `transfer`/`call` hold from the start; each of `changes` from its `from_block` on (strictly increasing)."""

    transfer: Annotated[int, Field(ge=0, lt=2**128)] = 0
    call: Annotated[int, Field(ge=0, lt=2**128)] | None = None  # a call intent's amount; default: `transfer`
    changes: Annotated[list[MinimumChangeSection], Field(max_length=MAX_CHANGES)] = []

    @model_validator(mode="after")
    def _increasing(self) -> DepositMinimumSection:
        blocks = [c.from_block for c in self.changes]
        if any(b <= a for a, b in pairwise(blocks)):
            raise ValueError(f"min_deposit changes must have strictly increasing from_block, got {blocks}")
        return self


class SubstrateChain(_Section):
    kind: Literal["substrate"]
    domain_id: Annotated[int, Field(ge=1, le=255)]
    ws_url: SubstrateWsUrl
    # Checked against the chain's `ParachainInfo.ParachainId` on every connection: another parachain is refused.
    para_id: Annotated[int, Field(ge=0, lt=2**32)]
    # Deposits are numbered from here: a deployment constant, the same for every member.
    start_block: Annotated[int, Field(ge=0)] = 0
    # The bridge account's first block (where the executed-ids scan starts); default: start_block.
    index_start_block: Annotated[int, Field(ge=0)] | None = None
    # The smallest deposit to each destination (a key of [chains]); smaller ones are refused and held
    # (`below_minimum`). It decides the deposit numbering too: the same schedule on every member; a change is an
    # entry from a block ahead (`changes`), never one already counted (docs/operations.md).
    min_deposit: dict[str, DepositMinimumSection] = {}
    gateway: GatewaySection | None = None  # the XCM gateway on to other parachains; none: such deposits fail
    # Relayer-local (docs/operations.md, "Per-node chain settings"); the weights behind `gas_of` are measured
    # runtime constants of the adapter, not settings.
    max_blocks_per_poll: Annotated[int, Field(ge=1, le=1_000)] = 50
    rewind_depth: Annotated[int, Field(ge=1, le=10_000)] = 64
    rpc_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    pending_timeout_s: Annotated[float, Field(gt=0, le=3_600)] = 120.0
    fee_reserve: Annotated[int, Field(ge=0, lt=2**128)] = 10**11  # planck kept for fees (0.1 PHA)
    # A transfer unpaid for lack of funds this long has inflows held for it (docs/phala-side.md, "Liquidity").
    liquidity_hold_after_s: Annotated[float, Field(ge=0, le=7 * 86_400)] = 600.0


ChainSection = Annotated[EthereumChain | SubstrateChain, Field(discriminator="kind")]


_Hex32 = Annotated[str, Field(pattern=r"^(0x)?[0-9a-fA-F]{64}$")]


class CommitteeSection(_Section):
    """The enclave's committee membership and attestation trust (read by `phala-bridge enclave run`)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = "devnet"
    members: Annotated[list[Annotated[int, Field(ge=1, le=255)]], Field(min_length=1, max_length=64)]
    threshold: Annotated[int, Field(ge=1, le=64)]
    epoch: Annotated[int, Field(ge=1)] = 1  # the epoch to start in without sealed keys (joiners: the new epoch)
    platform: Literal["simulated"] = "simulated"  # the devnet's simulated TEE; SGX/TDX plug in here
    platform_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None  # default node-{index}
    platform_seed_file: ConfigPath  # simulated platform: its root and sealing secret
    trusted_roots: Annotated[dict[str, _Hex32], Field(min_length=1)]  # platform id -> root public key
    allowed_measurements: Annotated[list[_Hex32], Field(min_length=1)]
    # chain: re-read every message through this member's own endpoints ([chains]); policy: checks without a chain
    # (tests); static: a devnet stand-in chain (static_chain_file)
    verifier: Literal["chain", "policy", "static"] = "chain"
    static_chain_file: ConfigPath | None = None
    allow_decryption: bool = False
    session_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 10_000
    retransmit_ms: Annotated[int, Field(ge=10, le=60_000)] = 500
    round_timeout_ms: Annotated[int, Field(ge=50, le=600_000)] = 2_000
    heartbeat_interval_ms: Annotated[int, Field(ge=50, le=60_000)] = 1_000
    heartbeat_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 3_500
    # A relayer silent this long hands its member's lead over (docs/committee.md, "Who leads").
    relayer_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 10_000
    # A leader whose proposals t members refused this many times in a row (for their content) loses the lead for
    # distrust_ttl_ms (docs/committee.md, "Who leads").
    distrust_strikes: Annotated[int, Field(ge=1, le=100)] = 3
    distrust_ttl_ms: Annotated[int, Field(ge=1_000, le=86_400_000)] = 300_000
    # A leader that passes over a message this member's own view says it should deliver (a later message of the same
    # lane proposed, that one never) is struck `skipped` once per this period (docs/committee.md, "Who leads").
    omission_grace_ms: Annotated[int, Field(ge=10_000, le=3_600_000)] = 60_000
    # A leader that proposes NOTHING in a lane while a message of it waits in this member's view is struck `stalled`
    # once per this period (docs/decisions.md, "A leader that proposes nothing").
    stall_grace_ms: Annotated[int, Field(ge=10_000, le=3_600_000)] = 120_000
    # How often a member compares the leader's proposals with its own view (both rules above).
    omission_check_interval_ms: Annotated[int, Field(ge=100, le=60_000)] = 5_000
    api_max_connections: Annotated[int, Field(ge=1, le=1024)] = 16

    @model_validator(mode="after")
    def _consistent(self) -> CommitteeSection:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members must be distinct")
        if self.threshold > len(self.members):
            raise ValueError(f"threshold {self.threshold} exceeds members {len(self.members)}")
        if self.threshold < len(self.members) // 2 + 1:  # the enclaves refuse a DKG or resharing below it
            raise ValueError(
                f"threshold {self.threshold} of {len(self.members)} members: at least a majority "
                f"({len(self.members) // 2 + 1})"
            )
        if self.verifier == "static" and not self.static_chain_file:
            raise ValueError("verifier 'static' needs static_chain_file")
        if self.omission_grace_ms * (self.distrust_strikes - 1) >= self.distrust_ttl_ms:
            raise ValueError(
                f"omission_grace_ms x (distrust_strikes - 1) must be below distrust_ttl_ms ({self.distrust_ttl_ms}):"
                " otherwise a leader passing a message over is never struck often enough within the window"
            )
        if self.stall_grace_ms * (self.distrust_strikes - 1) >= self.distrust_ttl_ms:
            raise ValueError(
                f"stall_grace_ms x (distrust_strikes - 1) must be below distrust_ttl_ms ({self.distrust_ttl_ms}):"
                " otherwise a leader that proposes nothing is never struck often enough within the window"
            )
        if self.omission_check_interval_ms > min(self.omission_grace_ms, self.stall_grace_ms) // 2:
            raise ValueError(
                "omission_check_interval_ms must be at most half of omission_grace_ms and stall_grace_ms:"
                " a check every grace period or less often would delay each strike by up to a whole period"
            )
        return self


class ConfidentialSection(_Section):
    """The confidential contracts this member's enclave runs (docs/confidential-contracts.md). Every member must
    list the same values: they are part of each contract's id, and members compare results."""

    # SealedBidAuction.sol (allow-listed on the bridge); unset = the auction is not run
    auction_settlement: EthAddress | None = None


class ResourceSection(_Section):
    resource_id: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    decimals: dict[str, Annotated[int, Field(ge=0, le=36)]]  # chain name (a key of [chains]) -> decimals
    max_per_message: Annotated[int, Field(gt=0)] | None = None  # in the largest-decimals unit


class BatchingSection(_Section):
    max_messages: Annotated[int, Field(ge=1, le=1000)] = 100
    max_wait_ms: Annotated[int, Field(ge=0, le=60_000)] = 0  # see bridge.batching.BatchPolicy.max_wait
    max_gas: Annotated[int, Field(ge=100_000, le=30_000_000)] = 8_000_000


class CheckpointsSection(_Section):
    """Snapshots of the Phala executed index (and, in the enclave, of its deposit view and the confidential
    engine's Ethereum scan), so a restart reads only the blocks since the last one (relayer: in the store; enclave:
    sealed files in `[enclave] sealed_dir`). docs/operations.md, "Restarts and failures"."""

    enabled: bool = True
    every_blocks: Annotated[int, Field(ge=1, le=10_000_000)] = 1_000  # save after this many blocks scanned...
    every_seconds: Annotated[float, Field(gt=0, le=86_400)] = 600.0  # ...or this long, whichever comes first
    # the confidential engine's sealed state snapshot: after this many execution records applied (and on a clean stop)
    state_every_records: Annotated[int, Field(ge=1, le=10_000_000)] = 1_000
    # how long the engine waits for its Phala node's log to reach the states it holds (a restart: the snapshot's
    # position) before a full replay; meanwhile its calls and queries answer `not_ready`. docs/enclave.md
    state_wait_ms: Annotated[int, Field(ge=0, le=86_400_000)] = 300_000


class NodeConfig(_Section):
    node: NodeSection
    store: StoreSection = StoreSection()
    broker: BrokerSection = BrokerSection()
    enclave: EnclaveSection
    metrics: MetricsSection = MetricsSection()
    chains: dict[str, ChainSection]
    batching: BatchingSection = BatchingSection()
    # Required: every member runs its enclave from this file (`enclave run`, `enclave info`).
    committee: CommitteeSection
    resources: dict[str, ResourceSection] = {}
    confidential: ConfidentialSection = ConfidentialSection()
    checkpoints: CheckpointsSection = CheckpointsSection()

    @model_validator(mode="after")
    def _resources_name_chains(self) -> NodeConfig:
        for name, res in self.resources.items():
            unknown = sorted(set(res.decimals) - set(self.chains))
            if unknown:
                raise ValueError(f"resources.{name}.decimals names unknown chain(s): {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _minimums_name_chains(self) -> NodeConfig:
        for name, chain in self.chains.items():
            if isinstance(chain, SubstrateChain):
                wrong = sorted(d for d in chain.min_deposit if d not in self.chains or d == name)
                if wrong:
                    raise ValueError(f"chains.{name}.min_deposit names no other chain: {', '.join(wrong)}")
        return self

    @model_validator(mode="after")
    def _member_in_committee(self) -> NodeConfig:
        if self.committee is not None and self.node.member_index not in self.committee.members:
            raise ValueError(f"node.member_index {self.node.member_index} is not in committee.members")
        return self

    @model_validator(mode="after")
    def _runnable(self) -> NodeConfig:
        """What `relayer run` and an enclave verifying on the chains build from this file (bridge/cli/wiring.py),
        checked at load: a config `config check` passes is one they can run. An enclave-only file (no [chains],
        `verifier = "static"` or `"policy"`: tests and benchmarks) builds neither."""
        if not self.chains and self.committee.verifier != "chain":
            return self
        by_kind: dict[str, list[str]] = {"ethereum": [], "substrate": []}
        for name, chain in self.chains.items():
            by_kind[chain.kind].append(name)
        for kind, names in by_kind.items():
            if len(names) != 1:
                listed = f" ({', '.join(names)})" if names else ""
                raise ValueError(f"[chains] needs exactly one chain of kind {kind!r}, found {len(names)}{listed}")
        (ethereum,), (phala,) = by_kind["ethereum"], by_kind["substrate"]
        native = [name for name, res in self.resources.items() if phala in res.decimals]
        if len(native) != 1:
            listed = f" ({', '.join(native)})" if native else ""
            raise ValueError(
                f"exactly one [resources.*] must list chain {phala!r} in its decimals (Phala's native token), "
                f"found {len(native)}{listed}"
            )
        for name, res in self.resources.items():
            if ethereum not in res.decimals:
                raise ValueError(
                    f"resources.{name}.decimals has no entry for chain {ethereum!r}: every resource needs one"
                )
        return self

    @model_validator(mode="after")
    def _unique_domains(self) -> NodeConfig:
        seen: dict[int, str] = {}
        for name, chain in self.chains.items():
            if chain.domain_id in seen:
                raise ValueError(f"chains.{name} and chains.{seen[chain.domain_id]} share domain_id {chain.domain_id}")
            seen[chain.domain_id] = name
        return self


# ---- chains.toml (the chain and resource registry) ---------------------------------------------------------------


class RegistryChain(_Section):
    domain_id: Annotated[int, Field(ge=1, le=255)]
    kind: Literal["ethereum", "substrate"]
    display_name: str


class RegistryResource(_Section):
    resource_id: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    symbol: str
    # decimals per chain name, e.g. {ethereum = 18, phala = 12}
    decimals: dict[str, Annotated[int, Field(ge=0, le=36)]]


class ChainRegistry(_Section):
    chains: dict[str, RegistryChain]
    resources: dict[str, RegistryResource] = {}

    @model_validator(mode="after")
    def _resources_name_known_chains(self) -> ChainRegistry:
        for rname, res in self.resources.items():
            for chain in res.decimals:
                if chain not in self.chains:
                    raise ValueError(f"resources.{rname}.decimals names unknown chain {chain!r}")
        return self
