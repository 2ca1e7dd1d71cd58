"""One chain connection used from asyncio: blocking substrate-interface calls run on a worker thread, one at a time.

substrate-interface is synchronous and a client is not thread-safe, so every use holds the session's lock. After a
timeout or a broken connection the client is dropped (its socket is unusable) and the next use reconnects; the
error still reaches the caller, whose own loop decides when to retry.

With `para_id`, each new connection first checks the node's `ParachainInfo.ParachainId`: a member pointed at another
parachain (a sibling's endpoint, a testnet) gets `ParaIdMismatch`, permanent, instead of reading the wrong chain.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

import structlog

from bridge.config.redact import redact_url, redact_urls
from relayers.substrate.chain import ChainReader
from relayers.substrate.client import SubstrateClient
from relayers.substrate.errors import ParaIdMismatch, SubstrateConnectionError, SubstrateTimeout

T = TypeVar("T")
log = structlog.get_logger("substrate")


class ClientSession:
    def __init__(self, url: str, *, timeout: float = 10.0, para_id: int | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.para_id = para_id
        self._lock = threading.Lock()
        self._reader: ChainReader | None = None
        self._checked = False  # the current connection's para id was checked

    def run_sync(self, fn: Callable[[ChainReader], T]) -> T:
        with self._lock:
            if self._reader is None:
                self._reader = ChainReader(SubstrateClient(self.url, timeout=self.timeout))
            try:
                if self.para_id is not None and not self._checked:
                    check_para_id(self._reader, self.para_id, self.url)
                    self._checked = True
                return fn(self._reader)
            except (SubstrateConnectionError, SubstrateTimeout) as exc:
                # the URL's path or user info may be the endpoint's API key: logged as scheme, host and port
                log.warning("substrate_connection_dropped", url=redact_url(self.url), error=redact_urls(str(exc)))
                self._drop()
                raise

    async def run(self, fn: Callable[[ChainReader], T]) -> T:
        return await asyncio.to_thread(self.run_sync, fn)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        reader, self._reader = self._reader, None
        self._checked = False
        if reader is not None:
            try:
                reader.client.close()
            except Exception as exc:  # closing a broken socket may fail any way; the client is gone either way
                log.debug("substrate_close_failed", error=redact_urls(str(exc)))


def check_para_id(reader: ChainReader, expected: int, url: str) -> None:
    actual = reader.para_id()
    if actual != expected:
        raise ParaIdMismatch(expected, actual, redact_url(url))  # said at start and logged: no API key in it


__all__ = ["ClientSession", "check_para_id"]
