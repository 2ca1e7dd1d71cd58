"""Substrate chain adapter: a small client (connect, submit, events, errors) and the devnet's dev RPCs."""

from relayers.substrate.client import ExtrinsicOutcome, SubstrateClient
from relayers.substrate.devnet import DownwardMessage, new_block, relay_parent_number, set_free_balance, set_storage
from relayers.substrate.errors import (
    DispatchFailed,
    ExtrinsicRejected,
    RpcError,
    SubstrateConnectionError,
    SubstrateError,
    SubstrateTimeout,
)
from relayers.substrate.events import ChainEvent, DispatchFailure, decode_dispatch_error, parse_events
from relayers.substrate.keys import keypair_from_ed25519_seed, keypair_from_uri

__all__ = [
    "ChainEvent",
    "DispatchFailed",
    "DispatchFailure",
    "DownwardMessage",
    "ExtrinsicOutcome",
    "ExtrinsicRejected",
    "RpcError",
    "SubstrateClient",
    "SubstrateConnectionError",
    "SubstrateError",
    "SubstrateTimeout",
    "decode_dispatch_error",
    "keypair_from_ed25519_seed",
    "keypair_from_uri",
    "new_block",
    "parse_events",
    "relay_parent_number",
    "set_free_balance",
    "set_storage",
]
