"""The enclave's narrow local API: a Unix socket (mode 0600), newline-delimited JSON validated by the models of
`bridge.enclave_api`. Several requests may be in flight on one connection (answers carry the request id). Bounded:
lines (`MAX_LINE_BYTES`), connections, requests in flight per connection. A malformed request gets an error reply
naming the bad fields (never echoing the input) and the server keeps serving; an overlong line closes that
connection (the stream cannot be resynchronised). No method returns a key share or a private key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
from pathlib import Path

import structlog
from pydantic import ValidationError

from bridge.confidential import encode_output
from bridge.enclave_api import (
    MAX_LINE_BYTES,
    ApiRequest,
    ApiResponse,
    ApprovalResult,
    ApproveReshareCall,
    AttestCall,
    AttestResult,
    CeremonyResult,
    ConfidentialRunCall,
    ConfidentialRunResult,
    DecryptionShareCall,
    DecryptionSharesResult,
    DkgCall,
    EncryptedDecryptionShare,
    ExecutedCallModel,
    MetricsCall,
    MetricsResult,
    QueryCall,
    QueryResult,
    QuoteInfo,
    ReshareCall,
    SignCall,
    SignResult,
    StatusCall,
    parse_request,
)
from enclave_signer.committee.node import CommitteeNode
from enclave_signer.committee.sessions.common import NotReadyError, ServiceError, SessionRefusedError
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts import QueryError
from enclave_signer.process.confidential import ConfidentialEngine

__all__ = ["ApiServer", "SocketInUseError"]

_log = structlog.get_logger(__name__)
_MAX_IN_FLIGHT = 64


class SocketInUseError(RuntimeError):
    """Another process serves the socket path (or the path is not a socket)."""


class ApiServer:
    def __init__(
        self,
        node: CommitteeNode,
        path: Path,
        *,
        max_connections: int = 16,
        confidential: ConfidentialEngine | None = None,
    ) -> None:
        self.node = node
        self.confidential = confidential
        self.path = path
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections = 0
        self.requests = 0
        self.errors = 0

    async def start(self) -> None:
        self._claim_path()
        old = os.umask(0o177)  # the socket file is created 0600 (no window where others could connect)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE_BYTES + 1)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        _log.info("api_listening", socket=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                self.path.unlink()

    def _claim_path(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise SocketInUseError(f"{self.path} exists and is not a socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(0.5)
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink()  # a stale socket from a process that died
            return
        finally:
            probe.close()
        raise SocketInUseError(f"another enclave process serves {self.path}")

    # ---- connections ----------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lock = asyncio.Lock()
        tasks: set[asyncio.Task[None]] = set()
        if self._connections >= self.max_connections:
            await self._write(writer, lock, ApiResponse.failure(None, "busy", "too many connections"))
            writer.close()
            return
        self._connections += 1
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._write(
                        writer, lock, ApiResponse.failure(None, "too_large", f"request over {MAX_LINE_BYTES} bytes")
                    )
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                if len(tasks) >= _MAX_IN_FLIGHT:
                    await self._write(
                        writer, lock, ApiResponse.failure(_guess_id(line), "busy", "too many requests in flight")
                    )
                    continue
                task = asyncio.create_task(self._answer(line, writer, lock))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (ConnectionError, OSError):
            pass
        finally:
            self._connections -= 1
            for task in tasks:
                task.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        response = await self.dispatch(line)
        with contextlib.suppress(ConnectionError, OSError):
            await self._write(writer, lock, response)

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, lock: asyncio.Lock, response: ApiResponse) -> None:
        data = response.model_dump_json().encode() + b"\n"
        async with lock:
            writer.write(data)
            await writer.drain()

    # ---- requests -------------------------------------------------------------------------------------------------

    async def dispatch(self, line: bytes) -> ApiResponse:
        self.requests += 1
        try:
            request = parse_request(line)
        except ValidationError as exc:
            self.errors += 1
            return ApiResponse.failure(_guess_id(line), "bad_request", _describe(exc))
        try:
            return await self._call(request)
        except ServiceError as exc:
            self.errors += 1
            return ApiResponse.failure(request.id, exc.code, str(exc), exc.reasons)
        except Exception:
            self.errors += 1
            _log.exception("api_internal_error", method=request.method)
            return ApiResponse.failure(request.id, "internal", "internal error (logged by the enclave)")

    async def _call(self, request: ApiRequest) -> ApiResponse:
        node = self.node
        if isinstance(request, StatusCall):
            return ApiResponse.success(request.id, node.status(relayer=request.params.relayer))
        if isinstance(request, AttestCall):
            q = node.attest(request.params.nonce)
            info = QuoteInfo(**q.model_dump(), digest=q.digest())
            return ApiResponse.success(request.id, AttestResult(quote=info))
        if isinstance(request, DkgCall):
            p = request.params
            record, sid = await node.dkg(p.participants, p.threshold, timeout_s=p.timeout_s)
            return ApiResponse.success(request.id, CeremonyResult(record=record, session_id=sid))
        if isinstance(request, ReshareCall):
            r = request.params
            record, sid = await node.reshare(
                r.new_members, r.new_threshold, old_signers=r.old_signers, timeout_s=r.timeout_s
            )
            return ApiResponse.success(request.id, CeremonyResult(record=record, session_id=sid))
        if isinstance(request, ApproveReshareCall):
            a = request.params
            node.approve_reshare(a.new_members, a.new_threshold, ttl_s=a.ttl_s)
            members = tuple(sorted(set(a.new_members)))
            return ApiResponse.success(
                request.id, ApprovalResult(new_members=members, new_threshold=a.new_threshold, ttl_s=a.ttl_s)
            )
        if isinstance(request, SignCall):
            s = request.params
            out = await node.sign(s.key, s.request, s.messages, timeout_s=s.timeout_s)
            result = SignResult(
                key=s.key, signature=out.signature.to_bytes(), session_id=out.session_id, signers=out.signers
            )
            return ApiResponse.success(request.id, result)
        if isinstance(request, DecryptionShareCall):
            d = request.params
            got = await node.decryption_shares(d.ciphertext, d.requester_public_key, timeout_s=d.timeout_s)
            shares = tuple(EncryptedDecryptionShare(member_id=m, sealed=b) for m, b in sorted(got.shares.items()))
            return ApiResponse.success(request.id, DecryptionSharesResult(session_id=got.session_id, shares=shares))
        if isinstance(request, MetricsCall):
            return ApiResponse.success(request.id, MetricsResult(text=node.metrics.render()))
        if isinstance(request, ConfidentialRunCall | QueryCall):
            return await self._confidential(request)
        raise AssertionError(f"unhandled method {request.method}")  # pragma: no cover - the union is closed

    async def _confidential(self, request: ConfidentialRunCall | QueryCall) -> ApiResponse:
        engine = self.confidential
        if engine is None:
            raise NotReadyError("this enclave runs no confidential contracts ([confidential] is not configured)")
        try:
            if isinstance(request, QueryCall):
                answer = await engine.query(request.params.signed_query)
                return ApiResponse.success(request.id, QueryResult(answer=answer))
            calls = await engine.run(request.params.messages, forwarded=request.params.forwarded)
        except QueryError as exc:
            return ApiResponse.failure(request.id, "bad_request", str(exc))
        except SigningRefusal as exc:
            if exc.code == "not_ready":
                raise NotReadyError(exc.reason) from None
            raise SessionRefusedError(
                f"{exc.code}: {exc.reason}", {node_id: exc.reason for node_id in [self.node.member_id]}
            ) from None
        models = tuple(
            ExecutedCallModel(
                source_domain=c.source_domain,
                source_nonce=c.source_nonce,
                record=c.record,
                outputs=tuple(encode_output(o) for o in c.outputs),
                digest=c.digest,
                first_reply=c.first_reply,
            )
            for c in calls
        )
        forward = engine.forward(request.params.messages)
        return ApiResponse.success(request.id, ConfidentialRunResult(calls=models, forward=forward))


def _guess_id(line: bytes) -> int | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) and 0 <= ident < 2**53 else None


def _describe(exc: ValidationError) -> str:
    """Which fields are wrong and how, never the values (the input is untrusted and may be large)."""
    problems = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<request>"
        problems.append(f"{loc}: {err['type']}")
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "invalid request: " + "; ".join(problems) + more
