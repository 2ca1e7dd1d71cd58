"""Reading what the bridge needs from a Substrate chain (blocks, events, accounts, runtime facts) as plain values.

Synchronous, over one `SubstrateClient`; `relayers.substrate.session` runs it on a worker thread. Every RPC is
bounded by the client's timeout.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scalecodec.base import ScaleBytes
from scalecodec.utils.ss58 import ss58_decode
from substrateinterface.exceptions import StorageFunctionNotFound

from bridge.ports import ChainPosition
from relayers.substrate.bridge_calls import BatchCall, CallIndices, Remark, Transfer, encode_batch
from relayers.substrate.client import SubstrateClient
from relayers.substrate.errors import RpcError, UnsupportedRuntime
from relayers.substrate.events import ChainEvent, DispatchFailure
from relayers.substrate.payload import RuntimeFacts, SignedExtension, UnsupportedExtension, signing_payload
from relayers.substrate.scale import signed_extrinsic_signer

V = TypeVar("V")


@dataclass(frozen=True)
class RawBlock:
    number: int
    hash: str
    parent_hash: str
    extrinsics: tuple[bytes, ...]


@dataclass(frozen=True)
class SignedExtrinsic:
    signer: bytes | None  # 32-byte account for MultiAddress::Id, else None
    nonce: int
    call: bytes  # the call's SCALE bytes, exactly as in the extrinsic


@dataclass(frozen=True)
class AccountState:
    nonce: int
    free: int
    exists: bool  # has providers or sufficients: a transfer below the existential deposit can credit it


def account_bytes(value: Any) -> bytes | None:
    """An event's account attribute (SS58 in the runtime's prefix, or hex) as its 32-byte public key."""
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(ss58_decode(value).removeprefix("0x"))
    except (ValueError, TypeError):
        return None
    return raw if len(raw) == 32 else None


class ChainReader:
    def __init__(self, client: SubstrateClient) -> None:
        self.client = client
        self._facts: dict[tuple[int, int], RuntimeFacts] = {}
        # What a block hash names never changes: remember the last few numbers and runtime versions, so the
        # verifiers' per-session reads of a head they have already seen cost no round trip.
        self._numbers: Memo[int] = Memo(256)
        self._versions: Memo[tuple[int, int]] = Memo(256)

    # -- blocks ----------------------------------------------------------------------------------------------------

    def finalized_head(self) -> ChainPosition:
        block_hash = str(self.client.rpc("chain_getFinalizedHead", []))
        number = self._numbers.get(block_hash)
        if number is None:
            header = self.client.rpc("chain_getHeader", [block_hash])
            number = self._numbers.put(block_hash, int(header["number"], 16))
        return ChainPosition(number, block_hash)

    def block_hash(self, number: int) -> str | None:
        result = self.client.rpc("chain_getBlockHash", [number])
        return str(result) if result else None

    def block(self, block_hash: str) -> RawBlock:
        result = self.client.rpc("chain_getBlock", [block_hash])
        if not result:
            raise RpcError("chain_getBlock", f"unknown block {block_hash}")
        header = result["block"]["header"]
        return RawBlock(
            number=int(header["number"], 16),
            hash=block_hash,
            parent_hash=str(header["parentHash"]),
            extrinsics=tuple(bytes.fromhex(x.removeprefix("0x")) for x in result["block"]["extrinsics"]),
        )

    def events(self, block_hash: str) -> list[ChainEvent]:
        return self.client.events(block_hash)

    def decode_signed(self, raw: bytes, block_hash: str) -> SignedExtrinsic | None:
        """The signer, nonce and call bytes of a signed extrinsic, decoded with the runtime of `block_hash`;
        None for unsigned extrinsics and for ones this runtime's metadata cannot decode."""
        self.client.use_runtime(block_hash)
        si = self.client.interface
        try:
            extrinsic = si.runtime_config.create_scale_object("Extrinsic", data=ScaleBytes(raw), metadata=si.metadata)
            extrinsic.decode()
        except (ValueError, TypeError, KeyError, IndexError, NotImplementedError):
            return None  # scalecodec's ways of saying "not decodable"; the caller reports it where it matters
        if not extrinsic.signed:
            return None
        call = bytes(extrinsic.value_object["call"].get_used_bytes())
        return SignedExtrinsic(signed_extrinsic_signer(raw), int(extrinsic.value["nonce"]), call)

    # -- state -----------------------------------------------------------------------------------------------------

    def account(self, account: bytes, block_hash: str) -> AccountState:
        info = self.client.query("System", "Account", ["0x" + account.hex()], block_hash)
        return AccountState(
            nonce=int(info["nonce"]),
            free=int(info["data"]["free"]),
            exists=int(info["providers"]) > 0 or int(info["sufficients"]) > 0,
        )

    def para_id(self) -> int | None:
        """`ParachainInfo.ParachainId`: which parachain this node serves; None when the runtime has no such storage."""
        try:
            value = self.client.query("ParachainInfo", "ParachainId")
        except StorageFunctionNotFound:
            return None
        return int(value)

    def existential_deposit(self) -> int:
        return int(self.client.constant("Balances", "ExistentialDeposit"))

    def dispatch_failure(self, value: Any) -> DispatchFailure:
        return self.client.dispatch_failure(value)

    def submit(self, extrinsic: bytes) -> str:
        return self.client.submit_raw(extrinsic)

    # -- runtime ---------------------------------------------------------------------------------------------------

    def runtime_facts(self, block_hash: str) -> RuntimeFacts:
        """The runtime's call indices, extensions and versions at `block_hash`; checked once per runtime version
        against substrate-interface's own encoding, so a runtime the hand encoders do not fit is refused."""
        key = self._versions.get(block_hash)
        if key is None:
            version = self.client.rpc("state_getRuntimeVersion", [block_hash])
            try:
                key = (int(version["specVersion"]), int(version["transactionVersion"]))
            except (KeyError, TypeError, ValueError) as exc:  # a hostile or broken reply
                raise UnsupportedRuntime(f"runtime at {block_hash}: bad runtime version {version!r:.120}") from exc
            key = self._versions.put(block_hash, key)
        cached = self._facts.get(key)
        if cached is not None:
            return cached
        self.client.use_runtime(block_hash)
        si = self.client.interface
        genesis = self.client.rpc("chain_getBlockHash", [0])
        indices = CallIndices(
            batch_all=_call_index(si, "Utility", "batch_all"),
            transfer_keep_alive=_call_index(si, "Balances", "transfer_keep_alive"),
            remark_with_event=_call_index(si, "System", "remark_with_event"),
        )
        extensions = _extensions(si)
        try:  # the node's versions and genesis hash go into every signature: RuntimeFacts checks them
            facts = RuntimeFacts(
                genesis_hash=bytes.fromhex(str(genesis).removeprefix("0x")),
                spec_version=key[0],
                transaction_version=key[1],
                indices=indices,
                extensions=extensions,
            )
        except ValueError as exc:  # InputError from the checks, or a genesis hash that is not hex
            raise UnsupportedRuntime(f"runtime at {block_hash}: {exc}") from exc
        self._self_check(facts)
        self._facts[key] = facts
        return facts

    def compose_batch(
        self, transfers: list[Transfer], remark: bytes, block_hash: str | None = None, notes: tuple[bytes, ...] = ()
    ) -> Any:
        """The batch as substrate-interface composes it (a GenericCall), for `create_signed_extrinsic`: notes
        (remarks), transfers, then the final remark."""
        return self.compose_calls([*(Remark(n) for n in notes), *transfers, Remark(remark)], block_hash)

    def compose_calls(self, calls: list[BatchCall], block_hash: str | None = None) -> Any:
        """batch_all(calls) as substrate-interface composes it (transfers and remarks in any order)."""
        if block_hash is not None:
            self.client.use_runtime(block_hash)
        inner = [
            self.client.compose_call(
                "Balances", "transfer_keep_alive", {"dest": "0x" + c.dest.hex(), "value": c.amount}
            )
            if isinstance(c, Transfer)
            else self.client.compose_call("System", "remark_with_event", {"remark": "0x" + c.data.hex()})
            for c in calls
        ]
        return self.client.compose_call("Utility", "batch_all", {"calls": inner})

    def _self_check(self, facts: RuntimeFacts) -> None:
        # Double entry: the hand encoders must agree byte for byte with substrate-interface's metadata-driven ones.
        probe = [Transfer(b"\x01" * 32, 123_456_789), Transfer(b"\x02" * 32, 2**100)]
        composed = self.compose_batch(probe, b"phala-bridge self-check")
        ours = encode_batch(facts.indices, probe, b"phala-bridge self-check")
        if bytes(composed.data.data) != ours:
            raise UnsupportedRuntime(f"runtime {facts.spec_version}: the batch call encodes differently than expected")
        try:
            expected = signing_payload(facts, ours, nonce=70_000)
        except UnsupportedExtension as exc:
            raise UnsupportedRuntime(f"runtime {facts.spec_version}: {exc}") from exc
        if self.client.signature_payload(composed, nonce=70_000) != expected:
            raise UnsupportedRuntime(
                f"runtime {facts.spec_version}: the signing payload differs from substrate-interface"
            )


def _call_index(si: Any, pallet: str, call: str) -> tuple[int, int]:
    for p in si.metadata.pallets:
        if p.name == pallet:
            for i, c in enumerate(p.calls or []):
                if c.name == call:
                    return int(p["index"].value), int(c.value.get("index", i))
    raise UnsupportedRuntime(f"the runtime has no {pallet}.{call}")


def _extensions(si: Any) -> tuple[SignedExtension, ...]:
    types = si.metadata.portable_registry.value["types"]

    def empty(type_id: int) -> bool:
        d = types[type_id]["type"]["def"]
        return d.get("tuple", None) == [] or ("composite" in d and not d["composite"]["fields"])

    return tuple(
        SignedExtension(str(e["identifier"]), empty(int(e["ty"])), empty(int(e["additional_signed"])))
        for e in next(iter(si.metadata.value[1].values()))["extrinsic"]["signed_extensions"]
    )


class Memo(Generic[V]):
    """A small bounded map, oldest out first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def put(self, key: str, value: V) -> V:
        self._items[key] = value
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


__all__ = ["AccountState", "ChainReader", "Memo", "RawBlock", "SignedExtrinsic", "account_bytes"]
