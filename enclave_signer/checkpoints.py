"""Sealed checkpoints: the enclave's snapshots of its own chain views, as sealed files in `sealed_dir/checkpoints/`.

The enclave trusts only what it sealed itself: a snapshot sealed by this build on this platform is as trustworthy
as the memory it was taken from, and anything else (another build, another platform, a modified or truncated file)
fails to unseal and is reported as unreadable: the caller falls back to reading the chain from its first block.
The blobs are opaque here (the chain-view code encodes and checks them); this module only seals, names and stores.

One file per name (`<name, made file-safe>-<8 hex of its hash>.sealed`, purpose "chain-checkpoint/<16 hex of the
name's hash>", so a file renamed to another name's does not unseal), written
atomically by `Sealer.seal_to_file` (temp file, fsync, rename), mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from enclave_signer.sealing import Sealer

PURPOSE_PREFIX = "chain-checkpoint/"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


class SealedCheckpoints:
    """`relayers.substrate.index_checkpoint.CheckpointStore` over sealed files (structurally; no import)."""

    def __init__(self, sealer: Sealer, directory: Path) -> None:
        self._sealer = sealer
        self.directory = directory

    def path_of(self, name: str) -> Path:
        safe = _UNSAFE.sub("_", name.lower()).strip("._")[:64] or "checkpoint"
        return self.directory / f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}.sealed"

    def load_checkpoint(self, name: str) -> bytes | None:
        """The unsealed snapshot, None when there is none; raises `UnsealError`/`OSError` for one that cannot be read
        (the caller logs it and reads the chain instead)."""
        path = self.path_of(name)
        if not path.exists():
            return None
        return self._sealer.unseal_file(path, purpose=_purpose(name))

    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None:
        self._sealer.seal_to_file(self.path_of(name), data, purpose=_purpose(name))


def _purpose(name: str) -> str:
    return PURPOSE_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:16]


__all__ = ["PURPOSE_PREFIX", "SealedCheckpoints"]
