"""What a user's client needs to know about one bridge deployment: endpoints, contract addresses, the Phala bridge
account. The devnet writes one (`.devnet/network.json`); production publishes one per network."""

from __future__ import annotations

from typing import Annotated, Literal

from nacl.bindings import crypto_core_ed25519_is_valid_point
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.config.types import EthAddress, EthRpcUrl, SubstrateUrl
from bridge.domains import Domain, domain_by_name
from bridge.errors import InputError
from bridge.gateway import DEFAULT_WEIGHT_LIMIT_BASE
from bridge.minimums import DepositMinimum, MinimumChange, MinimumSchedule

Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EthereumSide(_Model):
    rpc_url: EthRpcUrl
    chain_id: Annotated[int, Field(gt=0)]
    bridge: EthAddress
    pha_token: EthAddress
    confirmations: Annotated[int, Field(ge=0)] = 0
    start_block: Annotated[int, Field(ge=0)] = 0


class MinimumChangeSide(_Model):
    """The minimum in force from Phala block `from_block` on, as in the nodes' config."""

    from_block: Annotated[int, Field(ge=1, lt=2**64)]
    transfer: Annotated[int, Field(ge=0, lt=2**128)] = 0
    call: Annotated[int, Field(ge=0, lt=2**128)] | None = None  # default: this change's `transfer`


class DepositMinimumSide(_Model):
    """Planck the smallest deposit to one destination must carry (bridge/minimums.py); 0: no minimum. `transfer`
    and `call` hold from the start, each of `changes` from its block on (strictly increasing)."""

    transfer: Annotated[int, Field(ge=0, lt=2**128)] = 0
    call: Annotated[int, Field(ge=0, lt=2**128)] | None = None  # default: `transfer`, as in the nodes' config
    changes: list[MinimumChangeSide] = []

    @model_validator(mode="after")
    def _valid_schedule(self) -> DepositMinimumSide:
        try:
            self.schedule()
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return self

    def schedule(self) -> MinimumSchedule:
        return MinimumSchedule(
            DepositMinimum(self.transfer, self.transfer if self.call is None else self.call),
            tuple(
                MinimumChange(c.from_block, DepositMinimum(c.transfer, c.transfer if c.call is None else c.call))
                for c in self.changes
            ),
        )


class PhalaSide(_Model):
    ws_url: SubstrateUrl
    para_id: Annotated[int, Field(ge=0)]
    bridge_account: Hex32  # the committee's FROST Ed25519 group key
    start_block: Annotated[int, Field(ge=0)] = 0  # deposits are numbered from here (a deployment constant)
    ss58_format: Annotated[int, Field(ge=0, lt=16384)] = 42
    # Destination chain name (bridge.domains: "ethereum") -> its minimum schedule. It decides which transfers are
    # numbered deposits, so the client counts with the nodes' schedule.
    min_deposit: dict[str, DepositMinimumSide] = {}

    @field_validator("min_deposit")
    @classmethod
    def _known_destinations(cls, value: dict[str, DepositMinimumSide]) -> dict[str, DepositMinimumSide]:
        for name in value:
            if domain_by_name(name) == Domain.PHALA:
                raise ValueError("min_deposit names phala itself")
        return value

    def minimums(self) -> dict[int, MinimumSchedule]:
        """Each destination's schedule by domain id, as `PhalaConfig.min_deposit`."""
        return {int(domain_by_name(name)): m.schedule() for name, m in self.min_deposit.items()}


class GatewayParachainSide(_Model):
    """A parachain the XCM gateway serves, as a client sees it: what the route accepts, and where to watch it."""

    para_id: Annotated[int, Field(ge=0, lt=2**32)]
    xcm_versions: Annotated[list[Annotated[int, Field(ge=2, le=5)]], Field(min_length=1)]
    beneficiaries: Annotated[list[Literal["account_id32", "account_key20"]], Field(min_length=1)]
    min_fee: Annotated[int, Field(gt=0, lt=2**128)]  # planck
    min_deposit: Annotated[int, Field(ge=0, lt=2**128)]  # planck: amount - max fee must reach it
    weight_limit_base: Annotated[int, Field(gt=0, lt=2**63)] = DEFAULT_WEIGHT_LIMIT_BASE  # as the nodes' config
    ws_url: SubstrateUrl | None = None  # for `status` to follow the outcome there
    start_block: Annotated[int, Field(ge=0)] = 0  # outcomes are looked for from here


class GatewaySide(_Model):
    reserve_account: Hex32
    parachains: dict[str, GatewayParachainSide]


class ConfidentialSide(_Model):
    """What a caller of confidential contracts needs: the committee's threshold encryption key (edwards25519, from
    the committee record) and the deployed contracts' parameters."""

    encryption_key: Hex32
    auction_settlement: EthAddress | None = None  # SealedBidAuction.sol, allow-listed on the bridge

    @field_validator("encryption_key")
    @classmethod
    def _a_group_point(cls, value: str) -> str:
        # What a caller encrypts to (enclave_signer/tdec/ecies.py takes only such keys): refused here, when the
        # network file is read, and not as a crypto library's error in the middle of a call.
        if not crypto_core_ed25519_is_valid_point(bytes.fromhex(value[2:])):
            raise ValueError("not a valid edwards25519 point (on the curve, in its prime-order subgroup)")
        return value


class NetworkInfo(_Model):
    name: str
    ethereum: EthereumSide
    phala: PhalaSide
    pha_resource_id: Hex32
    relayer_status_urls: list[str] = []  # nodes' /health servers, for `phala-bridge status`
    gateway: GatewaySide | None = None  # the XCM gateway from Phala on to other parachains
    confidential: ConfidentialSide | None = None
