"""Errors of the Substrate adapter, mapped from substrate-interface and websocket-client at this boundary.

SubstrateError                       `retryable` says whether the same call may succeed later (never match text)
├── SubstrateConnectionError   could not connect, or the connection broke      (retry with a new client)
├── SubstrateTimeout           no answer in time; the connection is closed     (retry with a new client)
├── RpcError                   the node answered a request with an error
│   └── ExtrinsicRejected      the pool refused the extrinsic: it never reached a block
├── DispatchFailed             included in a block, but its call failed        (permanent: fees were paid)
├── ChainInconsistent          a block's parent is not the block read before it (retry: re-read)
├── IndexBehind                the executed-ids index has not reached the finalized head yet (retry)
├── InsufficientLiquidity      the bridge account cannot pay these transfers now (retry once topped up)
├── UnsupportedRuntime         the runtime's calls or extensions are not what this adapter encodes (operator)
├── ParaIdMismatch             the endpoint serves another parachain than `para_id` (operator: fix the URL)
├── InvalidSignature           a signature that does not verify for the bridge account over the payload
├── RebuildMismatch            a signing request is not exactly the batch for its messages: do not sign
│   └── StaleRequest           ... because it is behind this member's finalized view (code `executed`)
└── NothingToExecute           every message of a batch was refused, already executed or deferred
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.ports import BatchNotExecutable, VerificationRefused
from relayers.substrate.events import DispatchFailure


class SubstrateError(Exception):
    retryable: bool = False


class SubstrateConnectionError(SubstrateError, ConnectionError):
    retryable = True


class SubstrateTimeout(SubstrateError, TimeoutError):
    retryable = True


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


class ChainInconsistent(SubstrateError):
    retryable = True


class IndexBehind(SubstrateError):
    retryable = True


class InsufficientLiquidity(SubstrateError):
    retryable = True


class UnsupportedRuntime(SubstrateError):
    pass


class ParaIdMismatch(SubstrateError):
    """The endpoint's `ParachainInfo.ParachainId` is not the configured `para_id` (None: it has no such storage)."""

    def __init__(self, expected: int, actual: int | None, url: str) -> None:
        serves = "no parachain id (not a parachain)" if actual is None else f"parachain {actual}"
        super().__init__(f"the node at {url} serves {serves}, but the configuration says para_id {expected}")
        self.expected = expected
        self.actual = actual


class InvalidSignature(SubstrateError):
    pass


class RebuildMismatch(SubstrateError, VerificationRefused):
    """The request is not the extrinsic this member rebuilds from the messages: the port's refusal, code `mismatch`."""

    code_name = "mismatch"

    def __init__(self, reason: str) -> None:
        VerificationRefused.__init__(self, self.code_name, reason)


class StaleRequest(RebuildMismatch):
    """The request is behind this member's finalized view (its nonce already used, or its messages already executed):
    it can never be included. Code `executed`: the leader's view lags (a race around the previous batch or a
    handover), which enclave_signer/committee/distrust.py does not count against it, unlike `mismatch`."""

    code_name = "executed"


class NothingToExecute(SubstrateError, BatchNotExecutable):
    """Carries why each message was left out: `refused` (id -> reason, permanent) and `executed` (already done)."""

    def __init__(self, refused: Mapping[str, str], executed: frozenset[str], deferred: frozenset[str]) -> None:
        BatchNotExecutable.__init__(self, dict(refused), executed, deferred)
