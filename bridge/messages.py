"""The bridge's message: what a watcher saw on a source chain, in the form every stage and every node agrees on.

Amounts are carried twice: `source_amount` in the source chain's units (what the event says) and `amount` in the
destination's units (what will move). Converting is the watcher's job and must be exact (bridge.amounts).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator

from bridge.ids import MAX_NONCE, message_id


def _to_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        text = value.removeprefix("0x")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"not hex: {value[:80]!r}") from None
    raise ValueError(f"expected bytes or a hex string, got {type(value).__name__}")


def _bytes32(value: object) -> bytes:
    raw = _to_bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


HexBytes = Annotated[bytes, PlainValidator(_to_bytes), PlainSerializer(lambda b: "0x" + b.hex(), return_type=str)]
Bytes32 = Annotated[bytes, PlainValidator(_bytes32), PlainSerializer(lambda b: "0x" + b.hex(), return_type=str)]


class MessageKind(StrEnum):
    TRANSFER = "transfer"  # tokens: release/mint on the destination
    CALL = "call"  # a generic contract call on the destination
    CONFIDENTIAL_CALL = "confidential_call"  # an encrypted payload for a contract run inside the enclaves


class SourceRef(BaseModel):
    """Where the message sits on its source chain: what an enclave re-reads to verify it independently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block_number: Annotated[int, Field(ge=0)]
    block_hash: Bytes32
    tx_hash: Bytes32
    index: Annotated[int, Field(ge=0)]  # log index (Ethereum) or extrinsic index (Substrate)


_CACHED = ("id", "id_hex")  # BridgeMessage's cached properties


class BridgeMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_domain: Annotated[int, Field(ge=1, le=255)]
    dest_domain: Annotated[int, Field(ge=1, le=255)]
    nonce: Annotated[int, Field(ge=0, le=MAX_NONCE)]
    kind: MessageKind
    sender: HexBytes
    recipient: HexBytes
    resource_id: Bytes32 | None = None
    source_amount: Annotated[int, Field(ge=0)] = 0
    amount: Annotated[int, Field(ge=0)] = 0
    payload: HexBytes = b""
    # The gas a call gets on the destination when its source fixed it (a confidential contract's reply: its output's
    # gas_limit); None = the destination's configured call gas. Only replies may carry it (bridge.policy).
    gas_limit: Annotated[int, Field(ge=1, lt=2**32)] | None = None
    source: SourceRef

    # Cached: a keccak per call was the relayer's largest CPU item at capacity (docs/performance.md). Frozen model,
    # so the id cannot go stale; pydantic compares and serializes fields only, never these.
    @cached_property
    def id(self) -> bytes:
        return message_id(self.source_domain, self.nonce)

    @cached_property
    def id_hex(self) -> str:
        return "0x" + self.id.hex()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # pydantic copies the instance dict, cached ids included: a copy with other fields must compute its own.
        copy = super().model_copy(update=update, deep=deep)
        if update:
            for cached in _CACHED:
                copy.__dict__.pop(cached, None)
        return copy
