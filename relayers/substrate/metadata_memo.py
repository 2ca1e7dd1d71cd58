"""Decoded runtime metadata, shared by a process's connections to one chain.

Every `SubstrateInterface` fetches and decodes its chain's runtime metadata when it connects: ~0.6 s of CPU and
~100,000 Python objects per connection (Phala's runtime). A relayer holds four or five connections and an enclave
three or four, and each reconnects after an outage: the same bytes decoded again and again, the copies kept alive
side by side (they were most of a daemon's 190 MB, and what made its exit slow). substrate-interface takes a
`cache_region` (dogpile's get/set protocol) for exactly this; `MetadataMemo` is one bound to a runtime, so that two
chains with the same spec version (Phala and a sibling parachain) never share an entry: the key is the chain's
genesis hash and the runtime's spec name, with substrate-interface's own `METADATA_<spec version>`. (The spec name
is there for devnets: Chopsticks gives every chain it builds from a spec the same made-up genesis hash.)

The decoded metadata is read, not written, once built (substrate-interface shares it the same way across the
instances of a region); each connection still builds its own type registry from it.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
# A memo of immutable decoded values keyed by chain and runtime version: a new runtime (an upgrade) is a new key, and
# a process talks to a handful of chains, so it stays small without eviction.
_DECODED: dict[tuple[str, str], Any] = {}  # (chain, METADATA_<spec version>) -> decoded metadata


class MetadataMemo:
    """`cache_region` for one chain's runtime (genesis hash, spec name)."""

    def __init__(self, genesis_hash: str, spec_name: str) -> None:
        self.chain = f"{genesis_hash.lower()}/{spec_name}"

    def get(self, key: str) -> Any:
        with _LOCK:
            return _DECODED.get((self.chain, key))  # None (falsy) is "not cached" to substrate-interface

    def set(self, key: str, value: Any) -> None:
        with _LOCK:
            _DECODED.setdefault((self.chain, key), value)
