"""Confidential contracts wired from a node's config (the application edge): the registry every member runs, and
the member's OWN chain view its enclave executes against (final confidential calls on Ethereum, the bridge
account's finalized records on Phala)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from bridge.cli.engine_scan import ScanSnapshot
from bridge.cli.wiring import engine_scan_checkpoints, ethereum_config, index_checkpoints, phala_config
from bridge.confidential import (
    NOTE_LOG_ROOT,
    RECORD_MAGIC,
    CallStatus,
    ConfidentialError,
    NoteTail,
    decode_record,
    is_confidential_call,
    note_log_hash,
)
from bridge.config.schema import NodeConfig
from bridge.domains import Domain
from bridge.enclave_api import GroupKeys
from bridge.messages import BridgeMessage
from bridge.ports import ChainPosition
from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts import Registry, shipped_registry
from enclave_signer.contracts.runtime import REPLAYED
from enclave_signer.process.confidential import NotReady
from relayers.ethereum import EthereumWatcher
from relayers.ethereum.rpc import EthRpc
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.index_checkpoint import CheckpointStore
from relayers.substrate.replies import ReplyView

_MAX_POLLS = 10_000
_log = structlog.get_logger("engine.scan")


def registry_of(cfg: NodeConfig) -> Registry:
    settlement = cfg.confidential.auction_settlement
    return shipped_registry(auction_settlement=None if settlement is None else bytes.fromhex(settlement[2:]))


class MemberChainView:
    """`enclave_signer.process.confidential.ConfidentialChain` from this member's own endpoints.

    The Ethereum scan keeps only the calls not yet executed: a call whose execution record is in the Phala log that
    the engine last read (`notes_after()`, read only by the engine, under its lock) is dropped, and a call seen
    after its record is not kept. That changes no answer of the engine: `run` refuses an executed call (checked
    before "absent"), leaves executed calls out of the calls an earlier-nonce batch waits for, and computes
    `executed` from the same records, so what is dropped is always in its `executed`; a decryption of an executed
    call serves nothing (refusing it is `unknown_ciphertext`, which counts no strike). The finalized log only grows,
    so what was dropped stays executed, with two exceptions handled here: another bridge account (a new DKG: the scan
    starts over from `start_block`) and, after a restart from a checkpoint, a Phala view that has not yet read as
    many records as the log the checkpoint was pruned against (`notes_after()` is `not_ready` until it has).
    Checkpoints (`bridge/cli/engine_scan.py`) save the position and these calls; a restart reads only the blocks
    after the position.

    The Phala side keeps the note log decoded once: each read appends only the notes of the extrinsics indexed
    since the last one (with their running hashes), and the engine asks for the notes after the position it holds
    (`notes_after`), so neither side re-reads the whole log per call."""

    def __init__(
        self,
        cfg: NodeConfig,
        group_keys: Callable[[], GroupKeys | None],
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.group_keys = group_keys
        self.checkpoints = checkpoints
        self.eth_config = ethereum_config(cfg)
        self._eth = EthereumWatcher(self.eth_config)
        self.scan_checkpoints = engine_scan_checkpoints(cfg, checkpoints)
        self._resume_tried = False
        self._eth_position: ChainPosition | None = None
        self._calls: dict[bytes, BridgeMessage] = {}  # call id -> a final confidential call not executed yet
        self._executed: set[bytes] = set()  # call ids with a record in the log `notes_after()` last served
        self._records = 0  # PHCR records in that log
        # The note log of the current Phala view, flattened once: notes, running hashes (hashes[i]: of the first i
        # notes), the noted extrinsics read so far and the last of them (to tell a replaced index).
        self._notes: list[bytes] = []
        self._hashes: list[bytes] = [NOTE_LOG_ROOT]
        self._noted_read = 0
        self._last_noted: BridgeExtrinsic | None = None
        self._notes_of: ReplyView | None = None
        self._records_floor = 0  # PHCR records the restored calls were pruned against
        self._pruned_for: bytes | None = None  # the bridge account whose log the calls are pruned against
        self._eth_lock = asyncio.Lock()
        self._phala: ReplyView | None = None
        self._phala_key: bytes | None = None
        self._phala_lock = asyncio.Lock()

    async def final_calls(self) -> Sequence[BridgeMessage]:
        async with self._eth_lock:
            if not self._resume_tried:
                self._resume_tried = True
                await self._resume()
            for _ in range(_MAX_POLLS):
                result = await self._eth.poll(self._eth_position)
                for m in result.messages:
                    if m.dest_domain == Domain.PHALA and is_confidential_call(m) and m.id not in self._executed:
                        self._calls[m.id] = m
                moved = self._eth_position is None or result.position.block_number != self._eth_position.block_number
                self._eth_position = result.position
                if self.scan_checkpoints is not None:
                    self.scan_checkpoints.scanned(self)
                if not moved:
                    break
            return list(self._calls.values())

    async def _resume(self) -> None:
        cp = self.scan_checkpoints
        if cp is None:
            return

        def resume(rpc: EthRpc) -> bool:
            final = self._eth.final_block(rpc, rpc.head_number())
            return cp.resume(self, _EthBlocks(rpc), ChainPosition(final, ""))

        await self._eth.rpc.run(resume)

    # ---- the checkpoint's view of the scan (bridge/cli/engine_scan.py) ----------------------------------------------

    @property
    def scan_position(self) -> ChainPosition | None:
        return self._eth_position

    def scan_snapshot(self) -> ScanSnapshot | None:
        """The scan as it stands (None before it read anything or while no bridge account is known)."""
        keys = self.group_keys()
        account = self._pruned_for or (None if keys is None else keys.ed25519)
        if self._eth_position is None or account is None:
            return None
        eth = self.eth_config
        return ScanSnapshot(
            eth.chain_id, bytes.fromhex(eth.bridge_address[2:]), eth.domain, eth.start_block, account,
            self._eth_position, max(self._records, self._records_floor), tuple(self._calls.values()),
        )  # fmt: skip

    def restore_scan(self, snap: ScanSnapshot) -> None:
        self._eth_position = snap.position
        self._calls = {m.id: m for m in snap.calls}
        self._records_floor, self._pruned_for = snap.records, snap.bridge_account

    def save_checkpoint(self) -> bool:
        """Save the scan now (a clean stop); False when checkpoints are off or there is nothing to save."""
        return self.scan_checkpoints is not None and self.scan_checkpoints.save(self)

    # ---- Phala ------------------------------------------------------------------------------------------------------

    def view(self) -> ReplyView:
        keys = self.group_keys()
        if keys is None:
            raise SigningRefusal("no_keys", "this member has no committee keys yet (no DKG)")
        if self._phala is None or self._phala_key != keys.ed25519:
            self._phala = ReplyView(
                phala_config(self.cfg, keys.ed25519),
                checkpoints=index_checkpoints(self.cfg, self.checkpoints, "engine-replies"),
            )
            self._phala_key = keys.ed25519
        return self._phala

    @property
    def current_view(self) -> ReplyView | None:
        """The view built so far, if any (for a shutdown save; never builds one)."""
        return self._phala

    async def records(self) -> Sequence[bytes]:
        """The whole note log (`notes_after(0)`)."""
        return list((await self.notes_after(0)).notes)

    async def notes_after(self, position: int) -> NoteTail:
        async with self._phala_lock:
            view = self.view()
            if self._pruned_for is not None and self._pruned_for != self._phala_key:
                async with self._eth_lock:  # calls dropped for another account's log may be pending here
                    _log.warning("engine_scan_restarted", reason="bridge_account_changed", action="full_scan")
                    self._eth_position, self._calls, self._executed = None, {}, set()
                    self._records = self._records_floor = 0
                    self._pruned_for = None
            await view.session.run(view.sync)
            self._catch_up(view)
            if self._records < self._records_floor:
                raise NotReady(
                    f"this member's Phala view has {self._records} execution records, the Ethereum scan's checkpoint "
                    f"was pruned against {self._records_floor}: waiting for the view to catch up"
                )
            prefix = self._hashes[position] if 0 <= position < len(self._hashes) else None
            return NoteTail(position, prefix, tuple(self._notes[position:]) if prefix is not None else ())

    def _catch_up(self, view: ReplyView) -> None:
        """Append the notes of the extrinsics `view` indexed since the last read; start over for another view."""
        read = self._noted_read
        if (
            self._notes_of is not view
            or view.index.noted_count() < read
            or (read and view.index.noted_since(read - 1)[0] != self._last_noted)
        ):
            self._notes, self._hashes, self._noted_read, self._last_noted = [], [NOTE_LOG_ROOT], 0, None
            self._executed, self._records = set(), 0
            self._notes_of = view
        new = view.index.noted_since(self._noted_read)
        records = []
        for e in new:
            for note in e.notes:
                data = bytes(note)
                self._notes.append(data)
                self._hashes.append(note_log_hash((data,), self._hashes[-1]))
                if data[: len(RECORD_MAGIC)] == RECORD_MAGIC:
                    records.append(data)
        if new:
            self._noted_read += len(new)
            self._last_noted = new[-1]
        self._learn(records)

    def _learn(self, records: list[bytes]) -> None:
        """Records appended to the log the engine reads: their call ids count as executed there (it replays exactly
        these records); drop those calls."""
        for data in records:
            self._records += 1
            try:
                rec = decode_record(data)
            except ConfidentialError:
                continue  # the engine refuses a log that does not replay (log_broken); nothing is dropped for it
            if not (rec.status is CallStatus.REFUSED and rec.code == REPLAYED):
                self._executed.add(rec.call_id)
        self._pruned_for = self._phala_key
        for call_id in [c for c in self._calls if c in self._executed]:
            del self._calls[call_id]


class _EthBlocks:
    """`BlockHashes` over the Ethereum node (on the RPC thread)."""

    def __init__(self, rpc: EthRpc) -> None:
        self.rpc = rpc

    def block_hash(self, number: int) -> str | None:
        header = self.rpc.header(number)
        return None if header is None else header.hash
