"""What a user's client needs to know about one bridge deployment: endpoints, contract addresses, the Phala bridge
account. The devnet writes one (`.devnet/network.json`); production publishes one per network."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bridge.config.types import EthAddress, EthRpcUrl, SubstrateUrl

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


class PhalaSide(_Model):
    ws_url: SubstrateUrl
    para_id: Annotated[int, Field(ge=0)]
    bridge_account: Hex32  # the committee's FROST Ed25519 group key
    start_block: Annotated[int, Field(ge=0)] = 0  # deposits are numbered from here (a deployment constant)
    ss58_format: Annotated[int, Field(ge=0, lt=16384)] = 42


class ConfidentialSide(_Model):
    """What a caller of confidential contracts needs: the committee's threshold encryption key (edwards25519, from
    the committee record) and the deployed contracts' parameters."""

    encryption_key: Hex32
    auction_settlement: EthAddress | None = None  # SealedBidAuction.sol, allow-listed on the bridge


class NetworkInfo(_Model):
    name: str
    ethereum: EthereumSide
    phala: PhalaSide
    pha_resource_id: Hex32
    relayer_status_urls: list[str] = []  # nodes' /health servers, for `phala-bridge status`
    confidential: ConfidentialSide | None = None
