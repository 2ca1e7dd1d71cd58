"""Chopsticks' dev RPCs: build a block (optionally carrying downward messages), write storage.

Only the devnet answers these; production nodes do not have them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relayers.substrate.client import SubstrateClient


@dataclass(frozen=True)
class DownwardMessage:
    """A relay -> parachain message: `msg` is a SCALE `VersionedXcm`; `sent_at` a relay block number."""

    sent_at: int
    msg: bytes


def new_block(client: SubstrateClient, *, dmp: Sequence[DownwardMessage] = (), count: int | None = None) -> str:
    """Build block(s) now and return the (last) new block's hash; `dmp` messages go into the first block."""
    params: dict[str, Any] = {}
    if dmp:
        params["dmp"] = [{"sentAt": m.sent_at, "msg": "0x" + m.msg.hex()} for m in dmp]
    if count is not None:
        params["count"] = count
    return str(client.rpc("dev_newBlock", [params]))


def set_storage(client: SubstrateClient, storage: dict[str, Any]) -> None:
    """`storage` in Chopsticks' form, e.g. {"System": {"Account": [[[account_hex], {...}]]}}; big numbers as
    strings (they exceed JavaScript's safe integers)."""
    client.rpc("dev_setStorage", [storage])


def set_free_balance(client: SubstrateClient, account: bytes, free: int) -> None:
    entry = [["0x" + account.hex()], {"providers": 1, "data": {"free": str(free)}}]
    set_storage(client, {"System": {"Account": [entry]}})


def relay_parent_number(client: SubstrateClient) -> int:
    """The relay block the head was built on: a downward message's `sent_at` must not be later than this."""
    data = client.query("ParachainSystem", "ValidationData")
    return int(data["relay_parent_number"])
