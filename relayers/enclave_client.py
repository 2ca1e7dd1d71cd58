"""The relayer's (and the operator CLI's) client for the local enclave's Unix-socket API, and the `BatchSigner` the
pipeline uses: it asks the local enclave to lead a signing session.

    async with EnclaveClient("/run/phala-bridge/enclave-1.sock") as client:
        status = await client.status()
        signer = EnclaveBatchSigner(client, keys={1: "secp256k1", 2: "ed25519"})
        signature = await signer.sign(request, messages)   # SigningRefused / SigningUnavailable on failure

One connection carries many requests (answers are matched by id); a lost connection fails the requests in flight
with `EnclaveUnreachableError` and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from bridge.confidential import ExecutedCall, decode_output
from bridge.enclave_api import (
    MAX_LINE_BYTES,
    ApiResponse,
    ApprovalResult,
    ApproveReshareParams,
    AttestParams,
    AttestResult,
    CeremonyResult,
    ConfidentialRunParams,
    ConfidentialRunResult,
    DecryptionShareParams,
    DecryptionSharesResult,
    DkgParams,
    ErrorCode,
    KeyName,
    MetricsResult,
    QueryParams,
    QueryResult,
    ReshareParams,
    SigningRequestModel,
    SignParams,
    SignResult,
    StatusParams,
    StatusResult,
)
from bridge.messages import BridgeMessage
from bridge.ports import SigningRefused, SigningRequest, SigningUnavailable

__all__ = ["EnclaveApiError", "EnclaveBatchSigner", "EnclaveClient", "EnclaveClientError", "EnclaveUnreachableError"]

_log = structlog.get_logger(__name__)
_MARGIN = 5.0  # seconds the client waits beyond the enclave's own session timeout


class EnclaveClientError(Exception):
    """Base of the client's errors."""


class EnclaveUnreachableError(EnclaveClientError):
    """No enclave process answers on the socket (not started, crashed, or the connection broke)."""


class EnclaveApiError(EnclaveClientError):
    """The enclave answered with an error: `code` (see bridge.enclave_api.ErrorCode) and per-member `reasons`."""

    def __init__(self, code: ErrorCode, message: str, reasons: Mapping[str, str]) -> None:
        detail = "; ".join(f"member {k}: {v}" for k, v in sorted(reasons.items()))
        super().__init__(f"{message}" + (f" [{detail}]" if detail else ""))
        self.code = code
        self.reasons = dict(reasons)


class EnclaveClient:
    def __init__(self, socket_path: str | Path, *, connect_timeout: float = 5.0, timeout: float = 60.0) -> None:
        self.socket_path = Path(socket_path)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ApiResponse]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> EnclaveClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
            self._reader_task = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        self._fail_pending("client closed")

    # ---- transport ------------------------------------------------------------------------------------------------

    async def _connect(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_unix_connection(str(self.socket_path), limit=MAX_LINE_BYTES + 1)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise EnclaveUnreachableError(f"cannot reach the enclave at {self.socket_path}: {reason}") from None
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader), name="enclave-client-reader")
        return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                try:
                    response = ApiResponse.model_validate_json(line)
                except ValidationError:
                    _log.warning("enclave_response_malformed", size=len(line))
                    continue
                fut = self._pending.pop(response.id, None) if response.id is not None else None
                if fut is not None and not fut.done():
                    fut.set_result(response)
                elif response.id is None and response.error is not None:
                    _log.warning("enclave_connection_error", code=response.error.code, error=response.error.message)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            self._writer = None
            self._fail_pending("the enclave closed the connection")

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(EnclaveUnreachableError(why))

    async def call(self, method: str, params: BaseModel | None = None, *, wait_s: float | None = None) -> Any:
        """Send one request; return its `result` dict or raise `EnclaveApiError` / `EnclaveUnreachableError`."""
        request_id = next(self._ids)
        body: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            body["params"] = params.model_dump(mode="json", exclude_none=True)
        data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        fut: asyncio.Future[ApiResponse] = asyncio.get_running_loop().create_future()
        async with self._lock:
            writer = await self._connect()
            self._pending[request_id] = fut
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                self._pending.pop(request_id, None)
                raise EnclaveUnreachableError(f"the enclave connection broke: {exc}") from None
        try:
            async with asyncio.timeout(wait_s or self.timeout):
                response = await fut
        except TimeoutError:
            self._pending.pop(request_id, None)
            raise EnclaveUnreachableError(f"the enclave did not answer {method} in time") from None
        if not response.ok or response.error is not None:
            err = response.error
            if err is None:  # pragma: no cover - the server always fills it
                raise EnclaveApiError("internal", "error without details", {})
            raise EnclaveApiError(err.code, err.message, err.reasons)
        return response.result or {}

    # ---- methods --------------------------------------------------------------------------------------------------

    async def status(self, *, relayer: bool = False) -> StatusResult:
        """`relayer=True` only from this member's relayer daemon: it marks the relayer attached (it may lead)."""
        params = StatusParams(relayer=True) if relayer else None
        return StatusResult.model_validate(await self.call("status", params))

    async def attest(self, nonce: bytes) -> AttestResult:
        return AttestResult.model_validate(await self.call("attest", AttestParams(nonce=nonce)))

    async def metrics(self) -> str:
        return MetricsResult.model_validate(await self.call("metrics")).text

    async def dkg(
        self, participants: Sequence[int] | None = None, threshold: int | None = None, *, timeout_s: float = 60.0
    ) -> CeremonyResult:
        params = DkgParams(
            participants=None if participants is None else tuple(participants), threshold=threshold, timeout_s=timeout_s
        )
        return CeremonyResult.model_validate(await self.call("dkg", params, wait_s=timeout_s + _MARGIN))

    async def reshare(
        self,
        new_members: Sequence[int],
        new_threshold: int,
        *,
        old_signers: Sequence[int] | None = None,
        timeout_s: float = 60.0,
    ) -> CeremonyResult:
        params = ReshareParams(
            new_members=tuple(new_members),
            new_threshold=new_threshold,
            timeout_s=timeout_s,
            old_signers=None if old_signers is None else tuple(old_signers),
        )
        return CeremonyResult.model_validate(await self.call("reshare", params, wait_s=timeout_s + _MARGIN))

    async def approve_reshare(
        self, new_members: Sequence[int], new_threshold: int, *, ttl_s: float = 3600.0
    ) -> ApprovalResult:
        params = ApproveReshareParams(new_members=tuple(new_members), new_threshold=new_threshold, ttl_s=ttl_s)
        return ApprovalResult.model_validate(await self.call("approve_reshare", params))

    async def sign(
        self,
        key: KeyName,
        request: SigningRequest,
        messages: Sequence[BridgeMessage],
        *,
        timeout_s: float | None = None,
    ) -> SignResult:
        params = SignParams(
            key=key, request=SigningRequestModel.of(request), messages=tuple(messages), timeout_s=timeout_s
        )
        wait = (timeout_s or self.timeout) + _MARGIN
        return SignResult.model_validate(await self.call("sign", params, wait_s=wait))

    async def decryption_share(
        self, ciphertext: bytes, requester_public_key: bytes, *, timeout_s: float | None = None
    ) -> DecryptionSharesResult:
        params = DecryptionShareParams(
            ciphertext=ciphertext, requester_public_key=requester_public_key, timeout_s=timeout_s
        )
        wait = (timeout_s or self.timeout) + _MARGIN
        return DecryptionSharesResult.model_validate(await self.call("decryption_share", params, wait_s=wait))

    async def confidential_run(
        self, messages: Sequence[BridgeMessage], *, timeout_s: float | None = None
    ) -> tuple[list[ExecutedCall], dict[int, bytes]]:
        """Run confidential calls in the enclave: their public results (records, outputs, digests), and the
        decryption shares it used sealed to each other member's enclave (for them to skip their own sessions)."""
        params = ConfidentialRunParams(messages=tuple(messages))
        wait = (timeout_s or self.timeout) + _MARGIN
        result = ConfidentialRunResult.model_validate(await self.call("confidential_run", params, wait_s=wait))
        calls = [
            ExecutedCall(
                c.source_domain,
                c.source_nonce,
                c.record,
                tuple(decode_output(o) for o in c.outputs),
                c.digest,
                c.first_reply,
            )
            for c in result.calls
        ]
        return calls, dict(result.forward)

    async def query(self, signed_query: bytes) -> bytes:
        """An authorized query's answer, sealed to the querier (bridge.client.confidential.decrypt_answer)."""
        return QueryResult.model_validate(await self.call("query", QueryParams(signed_query=signed_query))).answer


class EnclaveBatchSigner:
    """`bridge.ports.BatchSigner` through the local enclave: the key is chosen by destination domain."""

    def __init__(self, client: EnclaveClient, keys: Mapping[int, KeyName], *, timeout_s: float | None = None) -> None:
        self.client = client
        self.keys = dict(keys)
        self.timeout_s = timeout_s

    async def sign(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> bytes:
        key = self.keys.get(request.destination)
        if key is None:
            raise SigningRefused(f"no committee key is configured for destination {request.destination}")
        try:
            result = await self.client.sign(key, request, messages, timeout_s=self.timeout_s)
        except EnclaveUnreachableError as exc:
            raise SigningUnavailable(str(exc)) from None
        except EnclaveApiError as exc:
            if exc.code == "refused":
                raise SigningRefused(str(exc)) from None
            if exc.code in ("unavailable", "not_ready", "busy"):
                raise SigningUnavailable(str(exc)) from None
            raise
        return result.signature
