"""Deploy the Ethereum side (PHA test token, bridge, wrapped token, example targets) and configure it.

    deployment = deploy_all(w3, deployer)              # deployer: an unlocked node account or a LocalAccount
    deployment.bridge, deployment.pha_token, ...        # checksummed addresses

Deployment order is fixed (PhaToken, Bridge, WrappedToken, CallRecorder, RevertingTarget, then configuration), so
a fresh chain and a fixed deployer give the same addresses every time. The committee key is NOT set here: the
committee runs its DKG later and the admin calls `initializeKey` once (see `initialize_key`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3 import Web3

from bridge.evm.digest import resource_id
from relayers.ethereum.contracts import Sender, contract_at, contract_factory, decoded_reverts, send

__all__ = [
    "KIND_LOCK",
    "KIND_MINT",
    "DeployConfig",
    "Deployment",
    "TokenLimits",
    "deploy_all",
    "deploy_contract",
    "initialize_key",
]

KIND_LOCK = 1
KIND_MINT = 2
RECIPIENT_SUBSTRATE = 1  # Bridge.setRecipientRule: a 32-byte account or an XCM destination with its fallback
PHA = 10**18
DAY = 86_400


@dataclass(frozen=True)
class TokenLimits:
    """A token's rate limit: `capacity` base units per `window` seconds; releases above `large_threshold` (or over
    what is available) wait `delay` seconds. The contract counts in units of 10**unit_decimals base units."""

    unit_decimals: int
    window: int
    capacity: int
    large_threshold: int
    delay: int


@dataclass(frozen=True)
class DeployConfig:
    admin: str | None = None  # default: the deployer (production: a governance multisig, which must acceptAdmin)
    guardian: str | None = None  # may pause; None = nobody until the admin sets one
    message_fee: int = 10**15  # wei per sendMessage
    pha_supply: int = 1_000_000_000 * PHA
    bridge_liquidity: int = 10_000_000 * PHA  # PHA moved into the bridge, as if locked by earlier deposits
    pha_limits: TokenLimits = TokenLimits(12, DAY, 1_000_000 * PHA, 100_000 * PHA, DAY)
    wrapped_name: str = "Wrapped Phala Test Asset"
    wrapped_symbol: str = "wPTA"
    wrapped_decimals: int = 12
    wrapped_limits: TokenLimits = TokenLimits(6, DAY, 1_000_000 * 10**12, 100_000 * 10**12, DAY)
    pha_granularity_decimals: int = 6  # PHA: 18 decimals here, 12 on Phala
    wrapped_granularity_decimals: int = 0
    destinations: tuple[int, ...] = (2,)  # Phala
    # Destinations whose deposits must name a 32-byte account or an XCM destination (Bridge.RECIPIENT_SUBSTRATE)
    substrate_recipients: tuple[int, ...] = (2,)
    funded_accounts: tuple[str, ...] = ()  # each receives `funding` PHA from the deployer
    funding: int = 1_000_000 * PHA
    bridge_contract: str = "Bridge"  # "BridgeGasProbe" for the gas benchmark (a Bridge plus probe functions)


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    deployer: str
    admin: str
    guardian: str
    bridge: str
    pha_token: str
    wrapped_token: str
    call_recorder: str
    reverting_target: str
    pha_resource_id: str
    wrapped_resource_id: str
    block_number: int
    contracts: dict[str, str] = field(default_factory=dict)  # artifact name -> address

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        return cls(**data)


def _address(sender: Sender) -> str:
    return str(to_checksum_address(sender if isinstance(sender, str) else sender.address))


def deploy_contract(w3: Web3, sender: Sender, name: str, *args: Any) -> str:
    """Deploy artifact `name` with constructor `args`; returns its checksummed address."""
    ctor = contract_factory(w3, name).constructor(*args)
    with decoded_reverts():
        if isinstance(sender, str):
            tx_hash = ctor.transact({"from": to_checksum_address(sender)})
        else:
            tx = ctor.build_transaction(
                {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending")}
            )
            tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(cast(Any, tx)).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise RuntimeError(f"deploying {name} failed (transaction {tx_hash.hex()})")
    return str(address)


def deploy_all(w3: Web3, deployer: Sender, config: DeployConfig | None = None) -> Deployment:
    """Deploy and configure the whole set; returns the addresses. Deterministic for a fixed deployer and nonce."""
    cfg = config or DeployConfig()
    me = _address(deployer)
    admin = _address(cfg.admin) if cfg.admin else me
    guardian = _address(cfg.guardian) if cfg.guardian else "0x" + "00" * 20

    pha = deploy_contract(w3, deployer, "PhaToken", me, cfg.pha_supply)
    bridge_address = deploy_contract(w3, deployer, cfg.bridge_contract, me, guardian, cfg.message_fee)
    wrapped = deploy_contract(
        w3, deployer, "WrappedToken", cfg.wrapped_name, cfg.wrapped_symbol, cfg.wrapped_decimals, bridge_address, admin
    )
    recorder = deploy_contract(w3, deployer, "CallRecorder")
    reverter = deploy_contract(w3, deployer, "RevertingTarget")

    bridge = contract_at(w3, "Bridge", bridge_address)
    pha_id = resource_id("PHA")
    wrapped_id = resource_id(cfg.wrapped_symbol)
    for token, kind, lim in ((pha, KIND_LOCK, cfg.pha_limits), (wrapped, KIND_MINT, cfg.wrapped_limits)):
        fn = bridge.functions.configureToken(
            token, kind, lim.unit_decimals, lim.window, lim.capacity, lim.large_threshold, lim.delay
        )
        send(w3, fn, deployer)
    send(w3, bridge.functions.setResource(pha_id, pha, cfg.pha_granularity_decimals), deployer)
    send(w3, bridge.functions.setResource(wrapped_id, wrapped, cfg.wrapped_granularity_decimals), deployer)
    for domain in cfg.destinations:
        send(w3, bridge.functions.setDestination(domain, True), deployer)
    for domain in cfg.substrate_recipients:
        send(w3, bridge.functions.setRecipientRule(domain, RECIPIENT_SUBSTRATE), deployer)
    for target in (recorder, reverter):
        send(w3, bridge.functions.setAllowedTarget(target, True), deployer)

    pha_contract = contract_at(w3, "PhaToken", pha)
    if cfg.bridge_liquidity:
        send(w3, pha_contract.functions.transfer(bridge_address, cfg.bridge_liquidity), deployer)
    for account in cfg.funded_accounts:
        send(w3, pha_contract.functions.transfer(to_checksum_address(account), cfg.funding), deployer)
    if admin != me:
        send(w3, bridge.functions.transferAdmin(admin), deployer)

    return Deployment(
        chain_id=w3.eth.chain_id,
        deployer=me,
        admin=admin,
        guardian=guardian,
        bridge=bridge_address,
        pha_token=pha,
        wrapped_token=wrapped,
        call_recorder=recorder,
        reverting_target=reverter,
        pha_resource_id="0x" + pha_id.hex(),
        wrapped_resource_id="0x" + wrapped_id.hex(),
        block_number=w3.eth.block_number,
        contracts={
            "PhaToken": pha,
            cfg.bridge_contract: bridge_address,
            "WrappedToken": wrapped,
            "CallRecorder": recorder,
            "RevertingTarget": reverter,
        },
    )


def initialize_key(w3: Web3, admin: Sender, bridge: str, pk_x: int, pk_y: int) -> None:
    """Register the committee's first group key (epoch 1); the bridge accepts this exactly once."""
    send(w3, contract_at(w3, "Bridge", bridge).functions.initializeKey(pk_x, pk_y), admin)
