"""The user's side of the bridge (an SDK the CLI uses): deposit on either chain, follow a message to its
destination. Part of the application edge: it does I/O and may use the chain adapters in `relayers`."""

from bridge.client.ethereum import EthereumClient, EthereumDeposit
from bridge.client.phala import PhalaClient, PhalaDeposit, RecipientRefused

__all__ = ["EthereumClient", "EthereumDeposit", "PhalaClient", "PhalaDeposit", "RecipientRefused"]
