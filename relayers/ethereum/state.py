"""Reads of the bridge's state that the destination and the verifiers share (on an `EthRpc`'s thread).

- `used_nonces`: the nonce bitmap, one `nonceWord` read per 256 nonces of a source domain (batched), at a given
  block: `final_block` (the watcher's finality rule) for anything that writes "executed", which is terminal; the
  bitmap at `latest` (as `destination_facts` reads it) may only leave a message out of a batch for now.
- `final_block`: the newest final block: `head - confirmations`, or the node's `finalized` block.
- `key_state`: epoch, key tag, parity, paused.
- `destination_facts`: everything `rebuild.plan_batch` / `rebuild_and_check_batch` need, from this connection.
- `group_key`: the group key of an epoch, from the configuration or the bridge's `KeyRotated` events, checked
  against the tag the bridge stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from bridge.evm import compress_point, key_tag
from bridge.messages import BridgeMessage, MessageKind
from relayers.ethereum.config import EthereumConfig
from relayers.ethereum.errors import BridgeNotReady, UnknownGroupKey
from relayers.ethereum.logs import KEY_ROTATED_TOPIC, decode_key_rotated
from relayers.ethereum.rebuild import DestinationFacts
from relayers.ethereum.rpc import EthRpc

ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class KeyState:
    epoch: int
    tag: bytes
    parity: int
    paused: bool


def key_state(rpc: EthRpc) -> KeyState:
    epoch, tag, parity, paused = rpc.bridge_call("keyState")
    return KeyState(int(epoch), bytes(tag), int(parity), bool(paused))


def final_block(rpc: EthRpc, config: EthereumConfig) -> int:
    """The newest final block (-1: none yet): the same rule as the watcher's and the receipts' in `confirm`."""
    if config.finality == "finalized":
        final = rpc.header("finalized")
        return final.number if final is not None else -1
    return rpc.head_number() - config.confirmations


def used_nonces(
    rpc: EthRpc, pairs: Iterable[tuple[int, int]], *, block: int | str = "latest"
) -> frozenset[tuple[int, int]]:
    """The (source domain, nonce) pairs among `pairs` that the bridge has used at `block` (a number or a tag; a
    negative number, no final block yet: none)."""
    wanted = sorted(set(pairs))
    if not wanted or (isinstance(block, int) and block < 0):
        return frozenset()
    words = sorted({(d, n >> 8) for d, n in wanted})
    values = rpc.bridge_calls("nonceWord", words, block=block)
    bitmap = {w: int(v) for w, v in zip(words, values, strict=True)}
    return frozenset((d, n) for d, n in wanted if (bitmap[(d, n >> 8)] >> (n & 255)) & 1)


@dataclass(frozen=True)
class TokenLimits:
    """Each token's limit kind (0: not enabled) as read at `block`: a view valid for reads at that block only."""

    block: int
    kinds: Mapping[str, int]  # token address, lowercase -> limit kind


def token_limits(rpc: EthRpc, config: EthereumConfig) -> TokenLimits:
    """The limit kinds of the tokens the configured resources name, at the head (two round trips)."""
    rids = sorted(config.resources)
    block, results = rpc.bridge_reads([("resource", (r,)) for r in rids])
    tokens = sorted({str(r[0]).lower() for r in results if str(r[0]).lower() != ZERO})
    kinds = rpc.bridge_calls("tokenLimit", [(to_checksum_address(t),) for t in tokens])
    return TokenLimits(block, {t: int(k[0]) for t, k in zip(tokens, kinds, strict=True)})


def destination_facts(
    rpc: EthRpc, config: EthereumConfig, messages: Sequence[BridgeMessage], limits: TokenLimits | None = None
) -> tuple[DestinationFacts, int]:
    """The facts for `messages`, and the head block number they were read at (for audit). One round trip for the
    key state, resources, allow-list and nonce words; a second for the limits of the tokens those resources name,
    unless `limits` was read at that same block (the destination's view, kept by its head follower)."""
    rids = sorted({m.resource_id for m in messages if m.kind is MessageKind.TRANSFER and m.resource_id is not None})
    targets = sorted(
        {"0x" + m.recipient.hex() for m in messages if m.kind is MessageKind.CALL and len(m.recipient) == 20}
    )
    pairs = {(m.source_domain, m.nonce) for m in messages if m.source_domain != config.domain}
    words = sorted({(d, n >> 8) for d, n in pairs})
    calls: list[tuple[str, tuple[Any, ...]]] = [("keyState", ())]
    calls += [("resource", (r,)) for r in rids]
    calls += [("isAllowedTarget", (to_checksum_address(t),)) for t in targets]
    calls += [("nonceWord", w) for w in words]
    block, results = rpc.bridge_reads(calls)
    epoch, tag, parity, paused = results[0]
    ks = KeyState(int(epoch), bytes(tag), int(parity), bool(paused))
    if ks.epoch == 0:
        raise BridgeNotReady("the bridge has no committee key yet (initializeKey has not run)")
    if ks.paused:
        raise BridgeNotReady("the bridge is paused: no batch can execute until a committee-signed unpause")
    at = 1
    by_resource = {rid: str(r[0]) for rid, r in zip(rids, results[at : at + len(rids)], strict=True)}
    at += len(rids)
    allowed = results[at : at + len(targets)]
    at += len(targets)
    bitmap = {w: int(v) for w, v in zip(words, results[at:], strict=True)}
    tokens = sorted({t for t in by_resource.values() if t.lower() != ZERO})
    if limits is not None and limits.block == block and all(t.lower() in limits.kinds for t in tokens):
        kinds = {t: limits.kinds[t.lower()] for t in tokens}
    else:
        kinds = {
            t: int(lim[0])
            for t, lim in zip(tokens, rpc.bridge_calls("tokenLimit", [(t,) for t in tokens]), strict=True)
        }
    enabled = {rid: str(to_checksum_address(t)) for rid, t in by_resource.items() if kinds.get(t, 0) != 0}
    facts = DestinationFacts(
        chain_id=config.chain_id,
        bridge=config.bridge_address,
        epoch=ks.epoch,
        tokens=enabled,
        allowed_targets=frozenset(t for t, ok in zip(targets, allowed, strict=True) if ok),
        used=frozenset((d, n) for d, n in pairs if (bitmap[(d, n >> 8)] >> (n & 255)) & 1),
        call_gas_limit=config.call_gas_limit,
        max_items=config.max_batch_items,
        domain=config.domain,
    )
    return facts, block


def group_key(rpc: EthRpc, config: EthereumConfig, epoch: int) -> bytes:
    """The 33-byte group key that signs batches of `epoch`."""
    if config.group_public_key is not None:
        key = config.group_public_key
    else:
        found = latest_key_rotation(rpc, epoch, rpc.head_number())
        if found is None:
            raise UnknownGroupKey(f"no KeyRotated event for epoch {epoch} on the bridge; set group_public_key")
        key = compress_point(*found)
    ks = key_state(rpc)
    if ks.epoch == epoch and (key_tag(key) != ks.tag or key[0] - 2 != ks.parity):
        raise UnknownGroupKey(f"the group key for epoch {epoch} is not the key the bridge registered")
    return key


# Blocks per eth_getLogs when looking for a key: public providers refuse wider ranges (10k is the common cap).
KEY_SCAN_RANGE = 10_000


def latest_key_rotation(rpc: EthRpc, epoch: int, head: int, *, chunk: int = KEY_SCAN_RANGE) -> tuple[int, int] | None:
    """(pkX, pkY) of the newest `KeyRotated` for `epoch`, scanning back from `head` a chunk at a time and stopping
    at the first chunk that has one: a rotation is usually recent, and no single query spans the chain (which
    providers refuse, and which grows with the chain's age)."""
    to = head
    while to >= 0:
        start = max(0, to - chunk + 1)
        found = [k for k in map(decode_key_rotated, rpc.logs([KEY_ROTATED_TOPIC], start, to, _u32(epoch))) if k]
        found = [k for k in found if k[0] == epoch]
        if found:
            _, x, y = found[-1]
            return x, y
        to = start - 1
    return None


def _u32(value: int) -> bytes:
    return value.to_bytes(32, "big")


__all__ = [
    "KeyState",
    "TokenLimits",
    "destination_facts",
    "final_block",
    "group_key",
    "key_state",
    "token_limits",
    "used_nonces",
]
