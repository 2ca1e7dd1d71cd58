"""The contracts shipped with this enclave build, configured for one deployment."""

from __future__ import annotations

from enclave_signer.contracts.auction import SealedBidAuction
from enclave_signer.contracts.registry import AnyContract, Registry

__all__ = ["shipped_registry"]


def shipped_registry(*, auction_settlement: bytes | None = None) -> Registry:
    """The registry an enclave runs: the sealed-bid auction when its settlement contract (20-byte address of
    SealedBidAuction.sol, allow-listed on the bridge) is configured."""
    contracts: list[AnyContract] = []
    if auction_settlement is not None:
        contracts.append(SealedBidAuction(auction_settlement))
    return Registry(contracts)
