"""The XCM origin: what makes a gateway record on Phala leave Phala as an XCMP message with the chain's root origin.

The committee authorizes a transfer on to a parachain with the same FROST-signed extrinsic as every Phala leg: the
bridge account moves the amount to the gateway reserve and writes a gateway record (bridge/gateway.py) holding the
exact destination and program. Something with root origin on Phala must then call `PolkadotXcm.send(dest,
program)`: on this runtime `send` is root only and signed `execute` is filtered (docs/xcm.md).

On the devnet that something is this component, the relay stand-in: it reads finalized Phala blocks, and ONLY for a
gateway record in a successful extrinsic signed by the bridge account (the signer read from the extrinsic itself)
it injects the relay's `Transact(Superuser, PolkadotXcm.send(dest, program))` as a downward message with
Chopsticks' `dev_newBlock({dmp})`, then checks that block's `XcmpQueue.XcmpMessageSent` carries the program's hash.
It is idempotent: a program whose hash already appears in an `XcmpMessageSent` after its record is never sent again
(so a restart re-scanning from `start_block` resends nothing), and because every program is unique (the per-message
weight-limit tag), the hash names exactly one message.

In production this component is replaced by an origin Phala governance grants the bridge account (a custom origin
allowed to `send`, or Phala's XTransfer pallet, which takes signed origins for PHA, a `Here` asset of Phala): the
bridge account then signs the send itself in the same batch. Nothing else changes: the record, the program, the
enclaves' checks and the outcome tracking on the destination are the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from bridge.gateway import GatewayError, GatewayRecord, GatewayStatus, decode_record, is_record
from bridge.xcm import Weight, superuser_transact, versioned_xcm, xcm_message_hash
from relayers.substrate.bridge_calls import parse_batch
from relayers.substrate.chain import ChainReader, RawBlock
from relayers.substrate.client import SubstrateClient
from relayers.substrate.devnet import DownwardMessage, new_block, relay_parent_number
from relayers.substrate.events import ChainEvent
from relayers.substrate.scale import blake2_256, signed_extrinsic_signer

log = structlog.get_logger("substrate.xcm_origin")

# PolkadotXcm.send weighs ~1e8 on this runtime (payment_queryInfo); the relay's Transact allows 1e10.
SEND_WEIGHT = Weight(10**10)


@dataclass(frozen=True)
class PendingSend:
    record: GatewayRecord
    block_number: int  # where the record is
    extrinsic_hash: str

    @property
    def hash(self) -> bytes:
        return xcm_message_hash(self.record.program)


@dataclass(frozen=True)
class SentXcm:
    message_id: str
    message_hash: str  # the XCMP message hash, as XcmpQueue.XcmpMessageSent names it on Phala
    block_number: int  # the Phala block that sent it
    block_hash: str


def sent_hashes(events: list[ChainEvent]) -> set[bytes]:
    out = set()
    for e in events:
        if e.is_("XcmpQueue", "XcmpMessageSent"):
            attrs = e.attributes
            raw = attrs.get("message_hash") if isinstance(attrs, dict) else attrs
            if isinstance(raw, list | tuple):
                raw = raw[0] if raw else None
            if raw is not None:
                out.add(bytes.fromhex(str(raw).removeprefix("0x")))
    return out


def gateway_records(reader: ChainReader, block: RawBlock, bridge_account: bytes) -> list[PendingSend]:
    """The `sent` gateway records in `block`'s successful extrinsics signed by the bridge account."""
    mine = [i for i, raw in enumerate(block.extrinsics) if signed_extrinsic_signer(raw) == bridge_account]
    if not mine:
        return []
    events = reader.events(block.hash)
    failed = {e.extrinsic_index for e in events if e.is_("System", "ExtrinsicFailed")}
    indices = reader.runtime_facts(block.hash).indices
    found = []
    for index in mine:
        if index in failed:
            continue
        raw = block.extrinsics[index]
        decoded = reader.decode_signed(raw, block.hash)
        batch = parse_batch(indices, decoded.call) if decoded is not None else None
        if batch is None:
            continue
        for remark in batch.remarks:
            if not is_record(remark):
                continue
            try:
                record = decode_record(remark)
            except GatewayError as exc:
                log.error("gateway_record_malformed", block=block.number, extrinsic=index, error=str(exc))
                continue
            if record.status is GatewayStatus.SENT:
                found.append(PendingSend(record, block.number, "0x" + blake2_256(raw).hex()))
    return found


class DevnetRelayOrigin:
    """Watches Phala and sends what the bridge account's gateway records ask for, as root, through the relay."""

    def __init__(self, client: SubstrateClient, bridge_account: bytes, *, start_block: int) -> None:
        self.client = client
        self.reader = ChainReader(client)
        self.bridge_account = bridge_account
        self.scanned = start_block - 1
        self.sent: set[bytes] = set()  # every XCMP hash Phala sent since start_block
        self.pending: dict[bytes, PendingSend] = {}

    def poll(self) -> list[SentXcm]:
        """Scan the finalized blocks since the last poll; send what is recorded and not sent yet."""
        head = self.reader.finalized_head()
        for number in range(self.scanned + 1, head.block_number + 1):
            block_hash = self.reader.block_hash(number)
            if block_hash is None:
                break
            self.sent |= sent_hashes(self.reader.events(block_hash))
            for p in gateway_records(self.reader, self.reader.block(block_hash), self.bridge_account):
                self.pending[p.hash] = p
            self.scanned = number
        for h in list(self.pending):
            if h in self.sent:
                del self.pending[h]
        return [self._send(p) for p in list(self.pending.values())]

    def _send(self, pending: PendingSend) -> SentXcm:
        record = pending.record
        call = self._send_call(record)
        dmp = self.client.encode("xcm::VersionedXcm", versioned_xcm(superuser_transact(call, SEND_WEIGHT)))
        block_hash = new_block(self.client, dmp=[DownwardMessage(relay_parent_number(self.client), dmp)])
        events = self.reader.events(block_hash)
        number = self.client.block_number(block_hash)
        hashes = sent_hashes(events)
        self.sent |= hashes
        del self.pending[pending.hash]
        if pending.hash not in hashes:
            outcome = [e.attributes for e in events if e.is_("DmpQueue", "ExecutedDownward")]
            log.error("xcm_not_sent", message_id=record.message_id_hex, block=number, dmp_outcome=str(outcome))
            raise RuntimeError(f"the relay's send of {record.message_id_hex} sent no XCMP message: {outcome}")
        log.info(
            "xcm_sent",
            message_id=record.message_id_hex,
            para_id=record.para_id,
            message_hash="0x" + pending.hash.hex(),
            block=number,
            record_block=pending.block_number,
            record_extrinsic=pending.extrinsic_hash,
        )
        return SentXcm(record.message_id_hex, "0x" + pending.hash.hex(), number, block_hash)

    def _send_call(self, record: GatewayRecord) -> bytes:
        # PolkadotXcm.send(dest, message): its call index, then the record's exact bytes (they are the arguments).
        si = self.client.interface
        for pallet in si.metadata.pallets:
            if pallet.name == "PolkadotXcm":
                for i, c in enumerate(pallet.calls or []):
                    if c.name == "send":
                        index = bytes([int(pallet["index"].value), int(c.value.get("index", i))])
                        return index + record.dest + record.program
        raise RuntimeError("the runtime has no PolkadotXcm.send")

    def run(self, stop: Callable[[], bool], interval: float = 0.2) -> None:
        while not stop():
            try:
                self.poll()
            except Exception as exc:
                log.error("xcm_origin_poll_failed", error=f"{type(exc).__name__}: {exc}")
                time.sleep(1.0)
            time.sleep(interval)


__all__ = ["DevnetRelayOrigin", "PendingSend", "SentXcm", "gateway_records", "sent_hashes"]
