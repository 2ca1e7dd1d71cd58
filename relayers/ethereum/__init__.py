"""The Ethereum adapter: contract bindings and typed errors (contracts, errors), deployment (deploy); the source
watcher (watcher, logs), the executeBatch destination (destination, rebuild, submitter, fees, outcome, state) and the
independent verifiers an enclave runs before signing (verifier). docs/ethereum-side.md describes them."""

from relayers.ethereum.config import ConfigError, EthereumConfig, SubmitterKey, load_submitter_key
from relayers.ethereum.destination import EthereumDestination, FrostSignature
from relayers.ethereum.errors import (
    BridgeNotReady,
    ChainIdMismatch,
    ChainInconsistent,
    DigestMismatch,
    EthereumAdapterError,
    FeeCapExceeded,
    NothingToExecute,
    RequestMismatch,
    RpcError,
    RpcTimeout,
    RpcUnavailable,
    TransactionRejected,
    UnknownGroupKey,
    VerificationRefused,
)
from relayers.ethereum.rebuild import DestinationFacts, rebuild_and_check_batch
from relayers.ethereum.rpc import EthRpc
from relayers.ethereum.submitter import Submitter
from relayers.ethereum.verifier import EthereumBatchVerifier, EthereumSourceVerifier
from relayers.ethereum.watcher import EthereumWatcher

__all__ = [
    "BridgeNotReady",
    "ChainIdMismatch",
    "ChainInconsistent",
    "ConfigError",
    "DestinationFacts",
    "DigestMismatch",
    "EthRpc",
    "EthereumAdapterError",
    "EthereumBatchVerifier",
    "EthereumConfig",
    "EthereumDestination",
    "EthereumSourceVerifier",
    "EthereumWatcher",
    "FeeCapExceeded",
    "FrostSignature",
    "NothingToExecute",
    "RequestMismatch",
    "RpcError",
    "RpcTimeout",
    "RpcUnavailable",
    "Submitter",
    "SubmitterKey",
    "TransactionRejected",
    "UnknownGroupKey",
    "VerificationRefused",
    "load_submitter_key",
    "rebuild_and_check_batch",
]
