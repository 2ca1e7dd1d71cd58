"""Errors of the Substrate adapter, mapped from substrate-interface and websocket-client at this boundary.

SubstrateError
├── SubstrateConnectionError   could not connect, or the connection broke      (retry with a new client)
├── SubstrateTimeout           no answer in time; the connection is closed     (retry with a new client)
├── RpcError                   the node answered a request with an error
│   └── ExtrinsicRejected      the pool refused the extrinsic: it never reached a block
└── DispatchFailed             included in a block, but its call failed        (permanent: fees were paid)
"""

from __future__ import annotations

from typing import Any

from relayers.substrate.events import DispatchFailure


class SubstrateError(Exception):
    pass


class SubstrateConnectionError(SubstrateError, ConnectionError):
    pass


class SubstrateTimeout(SubstrateError, TimeoutError):
    pass


class RpcError(SubstrateError):
    def __init__(self, method: str, detail: Any) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method
        self.detail = detail


class ExtrinsicRejected(RpcError):
    pass


class DispatchFailed(SubstrateError):
    def __init__(self, failure: DispatchFailure, block_hash: str, extrinsic_index: int) -> None:
        super().__init__(f"{failure} (extrinsic {extrinsic_index} of block {block_hash})")
        self.failure = failure
        self.block_hash = block_hash
        self.extrinsic_index = extrinsic_index
