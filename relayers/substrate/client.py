"""A small synchronous Substrate client over substrate-interface: connect with a timeout, submit and wait for
inclusion, read the events of a block or an extrinsic, decode dispatch errors.

One client per thread: it owns one websocket and is not thread-safe. Construction is serialized process-wide
(`REGISTRY_LOCK`), because two `SubstrateInterface` objects building their type registries at once raced
(TOOLCHAIN.md). A process's connections to one runtime share its decoded metadata (metadata_memo.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from substrateinterface import Keypair, KeypairType, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketException, WebSocketTimeoutException

from relayers.substrate.errors import (
    DispatchFailed,
    ExtrinsicRejected,
    RpcError,
    SubstrateConnectionError,
    SubstrateTimeout,
)
from relayers.substrate.events import ChainEvent, DispatchFailure, decode_dispatch_error, parse_events
from relayers.substrate.metadata_memo import REGISTRY_LOCK, MetadataMemo


@dataclass(frozen=True)
class ExtrinsicOutcome:
    extrinsic_hash: str
    block_hash: str
    block_number: int
    extrinsic_index: int
    events: tuple[ChainEvent, ...]  # this extrinsic's events only, in order
    failure: DispatchFailure | None

    @property
    def succeeded(self) -> bool:
        return self.failure is None

    def find(self, pallet: str, name: str) -> list[ChainEvent]:
        return [e for e in self.events if e.is_(pallet, name)]

    def raise_for_failure(self) -> ExtrinsicOutcome:
        if self.failure is not None:
            raise DispatchFailed(self.failure, self.block_hash, self.extrinsic_index)
        return self


class SubstrateClient:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        """Connect and load the runtime metadata; `timeout` bounds the connect and every wait for an answer."""
        self.url = url
        self.timeout = timeout
        with REGISTRY_LOCK, self._mapped_errors("connect"):
            # No UTF-8 check of every frame in pure Python (a third of a connect's CPU, and of every answer's): the
            # JSON decoder refuses what is not UTF-8 anyway (UnicodeDecodeError, mapped below as any bad answer).
            options = {"timeout": timeout, "skip_utf8_validation": True}
            self._si = SubstrateInterface(url=url, ws_options=options, auto_reconnect=False)
            self._si.cache_region = self._metadata_memo()
            self._si.init_runtime()

    def _metadata_memo(self) -> MetadataMemo | None:
        """The process's decoded metadata for this chain's runtime (None: decode our own, as an odd node makes us)."""
        genesis = self._si.rpc_request("chain_getBlockHash", [0]).get("result")
        version = self._si.rpc_request("state_getRuntimeVersion", []).get("result")
        spec = version.get("specName") if isinstance(version, dict) else None
        if not (isinstance(genesis, str) and isinstance(spec, str)):
            return None
        return MetadataMemo(genesis, spec, self._loading_metadata)

    def _loading_metadata(self) -> str | None:
        """The hex metadata of the runtime `init_runtime` is loading: the one of the parent of the block it is at,
        as substrate-interface reads it."""
        header = self._si.rpc_request("chain_getHeader", [self._si.block_hash]).get("result")
        parent = header.get("parentHash") if isinstance(header, dict) else None
        if not isinstance(parent, str):
            return None
        at = self._si.block_hash if parent == "0x" + "00" * 32 else parent  # the genesis block has no parent
        raw = self._si.rpc_request("state_getMetadata", [at]).get("result")
        return raw if isinstance(raw, str) else None

    @property
    def interface(self) -> Any:
        """The underlying `SubstrateInterface`, for what this client does not wrap."""
        return self._si

    @property
    def ss58_format(self) -> int:
        return int(self._si.ss58_format)

    def close(self) -> None:
        self._si.close()

    def __enter__(self) -> SubstrateClient:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------------------------

    def rpc(self, method: str, params: list[Any]) -> Any:
        with self._mapped_errors(method):
            response = self._si.rpc_request(method, params)
        if "error" in response:
            raise RpcError(method, response["error"])
        return response.get("result")

    def block_number(self, block_hash: str | None = None) -> int:
        with self._mapped_errors("chain_getHeader"):
            return int(self._si.get_block_number(block_hash))

    def block_hash(self, number: int) -> str:
        with self._mapped_errors("chain_getBlockHash"):
            return str(self._si.get_block_hash(number))

    def events(self, block_hash: str) -> list[ChainEvent]:
        with self._mapped_errors("state_getStorage(System.Events)"):
            return parse_events(self._si.get_events(block_hash))

    def query(self, pallet: str, item: str, params: list[Any] | None = None, block_hash: str | None = None) -> Any:
        with self._mapped_errors(f"query {pallet}.{item}"):
            return self._si.query(pallet, item, params or [], block_hash=block_hash).value

    def free_balance(self, account: bytes, block_hash: str | None = None) -> int:
        return int(self.query("System", "Account", ["0x" + account.hex()], block_hash)["data"]["free"])

    def constant(self, pallet: str, name: str) -> Any:
        with self._mapped_errors(f"constant {pallet}.{name}"):
            return self._si.get_constant(pallet, name).value

    def wait_for_event(
        self, match: Callable[[ChainEvent], bool], *, after_block: int, timeout: float = 10.0, poll: float = 0.05
    ) -> tuple[str, ChainEvent]:
        """The first event in a block after `after_block` for which `match` holds, with its block hash."""
        deadline = time.monotonic() + timeout
        scanned = after_block
        while True:
            head = self.block_number()
            for number in range(scanned + 1, head + 1):
                block_hash = self.block_hash(number)
                for event in self.events(block_hash):
                    if match(event):
                        return block_hash, event
            scanned = head
            if time.monotonic() >= deadline:
                raise SubstrateTimeout(f"no matching event in blocks {after_block + 1}..{head} after {timeout}s")
            time.sleep(poll)

    # -- encoding and submitting -----------------------------------------------------------------------------------

    def compose_call(self, pallet: str, function: str, params: dict[str, Any]) -> Any:
        with self._mapped_errors(f"compose {pallet}.{function}"):
            return self._si.compose_call(pallet, function, params)

    def encode(self, type_string: str, value: Any) -> bytes:
        """SCALE-encode `value` as the runtime type `type_string` (e.g. 'xcm::VersionedXcm')."""
        return bytes(self._si.create_scale_object(type_string).encode(value).data)

    def decode(self, type_string: str, data: bytes) -> Any:
        obj = self._si.create_scale_object(type_string, data=_scale_bytes(data))
        return obj.decode()

    def submit(self, call: Any, keypair: Keypair) -> ExtrinsicOutcome:
        """Sign `call`, submit it and wait until it is in a block; the outcome holds its events and any failure.
        A call that fails in the block is returned (`raise_for_failure()` turns it into `DispatchFailed`)."""
        with self._mapped_errors("sign"):
            extrinsic = self._si.create_signed_extrinsic(call=call, keypair=keypair)
        with self._mapped_errors("author_submitAndWatchExtrinsic", rejected=True):
            try:
                receipt = self._si.submit_extrinsic(extrinsic, wait_for_inclusion=True)
            except ValueError as exc:  # substrate-interface's only signal for a watched extrinsic that was dropped
                raise ExtrinsicRejected("author_submitAndWatchExtrinsic", str(exc)) from exc
        with self._mapped_errors("find extrinsic in block"):
            block_hash = str(receipt.block_hash)
            index = int(receipt.extrinsic_idx)
        events = tuple(e for e in self.events(block_hash) if e.extrinsic_index == index)
        failure = None
        for event in events:
            if event.is_("System", "ExtrinsicFailed"):
                failure = decode_dispatch_error(event.attributes["dispatch_error"], self._module_error)
        return ExtrinsicOutcome(
            extrinsic_hash=str(receipt.extrinsic_hash),
            block_hash=block_hash,
            block_number=self.block_number(block_hash),
            extrinsic_index=index,
            events=events,
            failure=failure,
        )

    def use_runtime(self, block_hash: str) -> None:
        """Load the runtime (metadata, versions) in force at `block_hash`; cached per runtime version."""
        with self._mapped_errors("init_runtime"):
            self._si.init_runtime(block_hash=block_hash)

    def signature_payload(self, call: Any, nonce: int) -> bytes:
        """substrate-interface's signing payload for `call` (immortal, no tip) with the loaded runtime."""
        with self._mapped_errors("signature payload"):
            return bytes(self._si.generate_signature_payload(call, nonce=nonce).data)

    def attach_signature(self, call: Any, public_key: bytes, nonce: int, signature: bytes) -> bytes:
        """The signed extrinsic for `call` from the ed25519 account `public_key` with an externally made
        `signature` (immortal, no tip), as bytes ready to submit."""
        signer = Keypair(public_key=public_key, ss58_format=self.ss58_format, crypto_type=KeypairType.ED25519)
        with self._mapped_errors("create_signed_extrinsic"):
            extrinsic = self._si.create_signed_extrinsic(call, signer, nonce=nonce, signature=signature)
        return bytes(extrinsic.data.data)

    def submit_raw(self, extrinsic: bytes) -> str:
        """Hand an already signed extrinsic to the pool without waiting for a block; returns its hash.
        `ExtrinsicRejected` when the pool refuses it (bad proof, stale nonce, ...)."""
        with self._mapped_errors("author_submitExtrinsic", rejected=True):
            response = self._si.rpc_request("author_submitExtrinsic", ["0x" + extrinsic.hex()])
        if "error" in response:
            raise ExtrinsicRejected("author_submitExtrinsic", response["error"])
        return str(response["result"])

    def dispatch_failure(self, value: Any) -> DispatchFailure:
        """A `DispatchError` value (from `System.ExtrinsicFailed`) named from the loaded runtime's metadata."""
        return decode_dispatch_error(value, self._module_error)

    def _module_error(self, pallet_index: int, error_index: int) -> tuple[str, str, str]:
        for pallet in self._si.metadata.pallets:
            if pallet["index"] == pallet_index:
                variant = self._si.metadata.get_module_error(pallet_index, error_index)
                if variant is None:
                    break
                return str(pallet.name), str(variant.value["name"]), " ".join(variant.value.get("docs", []))
        return f"pallet#{pallet_index}", f"error#{error_index}", ""

    @contextmanager
    def _mapped_errors(self, what: str, *, rejected: bool = False) -> Iterator[None]:
        # substrate-interface raises its own, websocket-client's and plain OSErrors; callers see ours only.
        try:
            yield
        except (WebSocketTimeoutException, TimeoutError) as exc:
            self._close_quietly()  # a half-read answer leaves the socket unusable
            raise SubstrateTimeout(f"{what}: no answer from {self.url} within {self.timeout}s") from exc
        except SubstrateRequestException as exc:
            detail = exc.args[0] if exc.args else str(exc)
            raise (ExtrinsicRejected if rejected else RpcError)(what, detail) from exc
        except (WebSocketException, ConnectionError, OSError, UnicodeDecodeError) as exc:
            raise SubstrateConnectionError(f"{what}: {self.url}: {exc}") from exc

    def _close_quietly(self) -> None:
        si = getattr(self, "_si", None)  # absent when the constructor itself timed out
        if si is not None:
            with suppress(WebSocketException, OSError):
                si.close()


def _scale_bytes(data: bytes) -> Any:
    from scalecodec.base import ScaleBytes

    return ScaleBytes(data)
