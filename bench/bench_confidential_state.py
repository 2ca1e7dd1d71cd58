"""The confidential engine's state (`confidential.state.*`): start-up and per-call sync cost against the length of the
bridge account's note log, in process, with the shipped sealed-bid auction and real sealing (XChaCha20-Poly1305
sealed events opened with the state key; the snapshot sealed to a file by `SealedCheckpoints`).

The log: auctions of 100 bids each (open, 100 bids, close with its outputs note), N = 1,000 and 5,000 execution
records. The engine runs against an in-memory chain port (the real one hands out the same tail, see
`MemberChainView.notes_after`), with a stub committee node (the state key is given, not recovered).

- `full_replay_ms.<N>`: a start with no snapshot: every record decoded, every event opened and applied. It is also
  what every call cost before incremental replay (the engine replayed the whole log whenever it grew).
- `resume_ms.<N>`: a start from the snapshot a clean stop saved at the log's end: unseal, decode, check the chain's
  prefix hash; and `resume_behind_ms.<N>`: from a snapshot `state_every_records` (1,000) records behind (a crash
  just before the next periodic save: the worst case with the default).
- `sync_per_call_ms.<N>`: one more call's notes (a bid) applied to the states held: the per-call cost now.
- `snapshot_save_ms.<N>` / `snapshot_kib.<N>`: encoding + sealing + the atomic write, and the sealed file's size.

Run: `python -m bench confidential-state`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.results import record
from bridge.confidential import ConfidentialCall, ExecutedCall, NoteTail, note_log_hash, phala_batch_parts
from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.contracts import DecryptedCall, Registry, SealedBidAuction, StateKeyring, execute, initial_state
from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, encode_input
from enclave_signer.process.confidential import ConfidentialEngine, StateCheckpoints
from enclave_signer.sealing import Sealer

SIZES = (1_000, 5_000)
BIDS = 100
EVERY = 1_000
KEYRING = StateKeyring(os.urandom(32))
AUCTION = SealedBidAuction(b"\x42" * 20)
REGISTRY = Registry([AUCTION])
ACCOUNT = b"\xac" * 32


class Chain:
    """The chain port over a list, with the running hashes kept as the real view keeps them."""

    def __init__(self, notes: list[bytes]) -> None:
        self.notes: list[bytes] = []
        self.hashes = [note_log_hash(())]
        self.add(notes)

    def add(self, notes: list[bytes]) -> None:
        for n in notes:
            self.notes.append(n)
            self.hashes.append(note_log_hash((n,), self.hashes[-1]))

    async def notes_after(self, position: int) -> NoteTail:
        if position >= len(self.hashes):
            return NoteTail(position, None, ())
        return NoteTail(position, self.hashes[position], tuple(self.notes[position:]))

    async def final_calls(self) -> list[Any]:
        return []


class LogWriter:
    """Execute auction calls (already decrypted: decryption is `confidential.enclave.*`) into a note log."""

    def __init__(self) -> None:
        self.cid = AUCTION.contract_id
        self.state = initial_state(self.cid, REGISTRY)
        self.nonce, self.counter, self.records = 0, 0, 0
        self.block = 100

    def call(self, caller: bytes, data: bytes) -> list[bytes]:
        self.nonce += 1
        c = ConfidentialCall(1, self.nonce, caller, self.block, b"")
        result = execute(self.cid, self.state, DecryptedCall(c, self.cid, data), KEYRING, registry=REGISTRY)
        self.state = result.state
        self.records += 1
        done = ExecutedCall(1, self.nonce, result.record_bytes, result.outputs, result.digest, self.counter)
        self.counter += len(result.outputs)
        return phala_batch_parts([done])[0]

    def log(self, records: int) -> list[bytes]:
        notes: list[bytes] = []
        while self.records < records:
            self.block += 1
            notes += self.call(b"\x01" * 20, encode_input(Open(self.block + 1)))
            auction = self.nonce  # its id is the opening call's message id
            opened = int.from_bytes(ConfidentialCall(1, auction, b"\x01" * 20, 0, b"").call_id, "big")
            for i in range(min(BIDS, records - self.records - 1)):
                notes += self.call(i.to_bytes(2, "big") * 10, encode_input(PlaceBid(opened, 1_000 + i)))
            if self.records < records:
                self.block += 2
                notes += self.call(b"\x02" * 20, encode_input(Close(opened)))
        return notes


def engine(chain: Chain, store: SealedCheckpoints | None) -> ConfidentialEngine:
    node = SimpleNamespace(record=SimpleNamespace(group_keys=SimpleNamespace(ed25519=ACCOUNT)))
    cp = None if store is None else StateCheckpoints(store, "phala/confidential-state", EVERY)
    e = ConfidentialEngine(node, REGISTRY, chain, checkpoints=cp)  # type: ignore[arg-type]
    e._keyring = KEYRING
    return e


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


async def measure(size: int, directory: Path) -> dict[str, float]:
    writer = LogWriter()
    notes = writer.log(size)
    out: dict[str, float] = {}
    store = SealedCheckpoints(Sealer(os.urandom(32)), directory / f"checkpoints-{size}")
    # a start with no snapshot: the whole log
    chain = Chain(notes)
    started = time.perf_counter()
    first = engine(chain, None)
    await first._sync(KEYRING)
    out["full_replay_ms"] = _ms(started)
    # the snapshot of a clean stop at the log's end
    saver = engine(chain, store)
    saver._log, saver._log_of = first._log, (ACCOUNT, KEYRING.key_id())
    started = time.perf_counter()
    assert await saver.save_snapshot()
    out["snapshot_save_ms"] = _ms(started)
    out["snapshot_kib"] = store.path_of(saver.checkpoints.name(ACCOUNT)).stat().st_size / 1024  # type: ignore[union-attr]
    started = time.perf_counter()
    resumed = engine(chain, store)
    await resumed._sync(KEYRING)
    out["resume_ms"] = _ms(started)
    assert resumed._log == first._log and resumed.stats["full_replays"] == 0
    # per call: one more bid's notes on the states held (median of 50)
    times = []
    for _ in range(50):
        writer.block = max(writer.block, 1)
        chain.add(writer.call(os.urandom(20), encode_input(PlaceBid(1, 5))))  # refused (no auction 1): a record
        started = time.perf_counter()
        await resumed._sync(KEYRING)
        times.append(_ms(started))
    out["sync_per_call_ms"] = statistics.median(times)
    # a snapshot EVERY records behind the log (a crash just before the next periodic save)
    behind_store = SealedCheckpoints(Sealer(os.urandom(32)), directory / f"behind-{size}")
    cut = next(i for i in range(len(notes)) if sum(n[:4] == b"PHCR" for n in notes[:i]) >= size - EVERY)
    early = engine(Chain(notes[:cut]), behind_store)
    await early._sync(KEYRING)
    assert await early.save_snapshot()
    started = time.perf_counter()
    late = engine(chain, behind_store)
    await late._sync(KEYRING)
    out["resume_behind_ms"] = _ms(started)
    assert late._log == resumed._log
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            figures = asyncio.run(measure(size, Path(tmp)))
            for name, value in figures.items():
                unit = "KiB" if name.endswith("kib") else "ms"
                record(f"confidential.state.{name}.{size}", value, unit, note=f"{size} records, in process")


if __name__ == "__main__":
    main()
