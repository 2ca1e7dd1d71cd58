"""Substrate chain adapter: a small client (connect, submit, events, errors), the devnet's dev RPCs, and the Phala
side of the bridge: the deposit watcher, the executed-ids index, the batch destination and its verifier check."""

from relayers.substrate.client import ExtrinsicOutcome, SubstrateClient
from relayers.substrate.config import PhalaConfig
from relayers.substrate.deposits import RejectedDeposit
from relayers.substrate.devnet import DownwardMessage, new_block, relay_parent_number, set_free_balance, set_storage
from relayers.substrate.dispatcher import PhalaDestination, refusal_reason
from relayers.substrate.errors import (
    ChainInconsistent,
    DispatchFailed,
    ExtrinsicRejected,
    IndexBehind,
    InsufficientLiquidity,
    InvalidSignature,
    NothingToExecute,
    RebuildMismatch,
    RpcError,
    SubstrateConnectionError,
    SubstrateError,
    SubstrateTimeout,
    UnsupportedRuntime,
)
from relayers.substrate.events import ChainEvent, DispatchFailure, decode_dispatch_error, parse_events
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex
from relayers.substrate.keys import keypair_from_ed25519_seed, keypair_from_uri
from relayers.substrate.rebuild import ChainFacts, rebuild_and_check
from relayers.substrate.session import ClientSession
from relayers.substrate.verifier import PhalaVerifier
from relayers.substrate.watcher import PhalaWatcher, PhalaWatchResult

__all__ = [
    "BridgeExtrinsic",
    "ChainEvent",
    "ChainFacts",
    "ChainInconsistent",
    "ClientSession",
    "DispatchFailed",
    "DispatchFailure",
    "DownwardMessage",
    "ExecutedIndex",
    "ExtrinsicOutcome",
    "ExtrinsicRejected",
    "IndexBehind",
    "InsufficientLiquidity",
    "InvalidSignature",
    "NothingToExecute",
    "PhalaConfig",
    "PhalaDestination",
    "PhalaVerifier",
    "PhalaWatchResult",
    "PhalaWatcher",
    "RebuildMismatch",
    "RejectedDeposit",
    "RpcError",
    "SubstrateClient",
    "SubstrateConnectionError",
    "SubstrateError",
    "SubstrateTimeout",
    "UnsupportedRuntime",
    "decode_dispatch_error",
    "keypair_from_ed25519_seed",
    "keypair_from_uri",
    "new_block",
    "parse_events",
    "rebuild_and_check",
    "refusal_reason",
    "relay_parent_number",
    "set_free_balance",
    "set_storage",
]
