"""Decoded runtime metadata, shared by a process's connections to one chain.

Every `SubstrateInterface` fetches and decodes its chain's runtime metadata when it connects: ~1.5 s of CPU and
~100,000 Python objects per connection on a busy 2-core machine. A relayer holds four or five connections and an
enclave three or four: the same bytes decoded again and again (the larger part of a committee devnet's start-up, and
of a daemon's heap). substrate-interface takes a `cache_region` (dogpile's get/set protocol) for exactly this;
`MetadataMemo` is one bound to a runtime, so that two chains with the same spec version (Phala and a sibling
parachain) never share an entry: the key is the chain's genesis hash and the runtime's spec name, with
substrate-interface's own `METADATA_<spec version>`. (The spec name is there for devnets: Chopsticks gives every
chain it builds from one spec the same made-up genesis hash.)

Why the memo decodes the metadata itself instead of keeping what a connection decoded: decoded scalecodec objects
keep the type registry they were decoded with and use it when asked for a storage item's key types. A connection's
registry is cleared and rebuilt whenever that connection meets a new runtime (an upgrade), which is harmless to the
connection (one thread) but not to other threads reading the same objects at that moment. The memo's registry
(`_decode`) belongs to no connection and is never cleared, so the shared objects are only read, from any thread;
what the registry caches on a lookup is one dict entry per type string, the same class whichever thread writes it.
Each connection still builds its own type registry from the shared metadata (0.03 s).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

_LOCK = threading.Lock()
# Type registries are built one at a time in a process: two threads building at once raced in scalecodec (its
# registry setup walks every decoder class while decoding adds new ones; TOOLCHAIN.md). Connections take it while
# they connect (relayers/substrate/client.py), the memo while it decodes; re-entrant, as a connection that connects
# decodes through the memo.
REGISTRY_LOCK = threading.RLock()
# A memo of decoded values keyed by chain and runtime version: a new runtime (an upgrade) is a new key, and a process
# talks to a handful of chains, so it stays small without eviction.
_DECODED: dict[tuple[str, str], Any] = {}  # (chain, METADATA_<spec version>) -> decoded metadata


def decode_metadata(raw_hex: str) -> Any:
    """`state_getMetadata`'s answer decoded against a type registry of its own (see the module's docstring)."""
    registry = RuntimeConfigurationObject()
    registry.update_type_registry(load_type_registry_preset(name="core"))
    metadata = registry.create_scale_object("MetadataVersioned", data=ScaleBytes(raw_hex))
    metadata.decode()
    registry.add_portable_registry(metadata)  # what the metadata's storage items look their key types up in
    return metadata


class MetadataMemo:
    """`cache_region` for one chain's runtime (genesis hash, spec name).

    `fetch` returns the hex metadata of the runtime the connection is loading, or None when it cannot: then the
    connection decodes its own, as it does without a memo, and nothing is shared."""

    def __init__(self, genesis_hash: str, spec_name: str, fetch: Callable[[], str | None]) -> None:
        self.chain = f"{genesis_hash.lower()}/{spec_name}"
        self._fetch = fetch

    def get(self, key: str) -> Any:
        with _LOCK:
            hit = _DECODED.get((self.chain, key))
        if hit is not None:
            return hit
        raw = self._fetch()
        if raw is None:
            return None  # substrate-interface reads None as "not cached" and decodes on its own
        try:
            with REGISTRY_LOCK:
                decoded = decode_metadata(raw)
        except Exception:  # the connection decodes the same bytes itself and reports what is wrong
            return None
        with _LOCK:
            return _DECODED.setdefault((self.chain, key), decoded)  # two decoding at once: one value kept

    def set(self, key: str, value: Any) -> None:
        """Not kept: a value decoded by a connection is bound to that connection's registry (module docstring)."""
