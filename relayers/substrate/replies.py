"""Replies of confidential calls, read back from Phala: every Ethereum output of an executed call becomes a message
for Ethereum (source domain 2, nonce `reply_nonce(counter)`, the counters numbered from the note's `first_reply`,
kind CALL, recipient = the target, payload = the calldata, gas limit = the output's, sender = the id of the
confidential contract that produced it, read from the call's execution record just before the note in the same
extrinsic). The sender is the reply's origin on Ethereum (`Bridge.messageOrigin()` during the call).

They come only from the outputs notes of the bridge account's successful finalized extrinsics (which the committee
signed together with the call's record), so relayers derive them and enclaves check them the same way, from their
own chain connection: a reply exists if and only if t enclaves agreed on the call's result.

Refunds come the same way, from the refund notes of those extrinsics (bridge/refunds.py): each refunded Ethereum
deposit becomes a transfer back to its depositor (source domain 2, nonce `REFUND_NONCE_FLOOR + deposit nonce`). A
refund exists if and only if t enclaves agreed that Phala refuses the deposit for good and settled it there.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from bridge.confidential import OUTPUTS_MAGIC, RECORD_MAGIC, ConfidentialError, decode_outputs_note, decode_record
from bridge.domains import Domain
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.ports import ChainPosition, VerificationRefused, WatchResult
from bridge.refunds import is_refund, refund_message, settled_refunds
from relayers.substrate.chain import ChainReader
from relayers.substrate.config import PhalaConfig
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex
from relayers.substrate.index_checkpoint import IndexCheckpoints
from relayers.substrate.session import ClientSession

log = structlog.get_logger("substrate.replies")

REPLY_NONCE_FLOOR = 1 << 63  # Phala deposits count 1, 2, 3...; replies set the top bit


def is_reply(message: BridgeMessage) -> bool:
    return message.source_domain == Domain.PHALA and message.nonce >= REPLY_NONCE_FLOOR


def from_notes(message: BridgeMessage) -> bool:
    """A Phala -> Ethereum message derived from the bridge account's notes (a reply or a refund), not a deposit."""
    return is_reply(message) or is_refund(message)


def refunds_of(extrinsic: BridgeExtrinsic, bridge_account: bytes) -> list[BridgeMessage]:
    """The transfers paying back the deposits `extrinsic` refunded (those its executed record settles)."""
    place = SourceRef(
        block_number=extrinsic.block_number,
        block_hash=bytes.fromhex(extrinsic.block_hash.removeprefix("0x")),
        tx_hash=bytes.fromhex(extrinsic.hash.removeprefix("0x")),
        index=extrinsic.index,
    )
    refunds, errors = settled_refunds(extrinsic.notes, extrinsic.ids)
    for error in errors:
        log.error("refund_note_malformed", tx=extrinsic.hash, error=error)
    return [refund_message(r, bridge_account=bridge_account, place=place) for r in refunds]


def replies_of(
    extrinsic: BridgeExtrinsic, bridge_account: bytes, domain: int = int(Domain.PHALA)
) -> list[BridgeMessage]:
    out: list[BridgeMessage] = []
    contracts: dict[tuple[int, int], bytes] = {}  # (source domain, nonce) of a call -> its contract id
    for note in extrinsic.notes:
        if note.startswith(RECORD_MAGIC):
            try:
                record = decode_record(note)
            except ConfidentialError as exc:
                log.error("execution_record_malformed", tx=extrinsic.hash, error=str(exc))
                continue
            contracts[(record.source_domain, record.source_nonce)] = record.contract_id
            continue
        if not note.startswith(OUTPUTS_MAGIC):
            continue
        try:
            outputs = decode_outputs_note(note)
        except ConfidentialError as exc:
            log.error("outputs_note_malformed", tx=extrinsic.hash, error=str(exc))
            continue
        contract_id = contracts.get((outputs.source_domain, outputs.source_nonce))
        if contract_id is None:
            # the engine writes a call's record before its outputs; without it, no origin to vouch for
            log.error("outputs_note_without_record", tx=extrinsic.hash, source_nonce=outputs.source_nonce)
            continue
        for item in outputs.reply_items():
            out.append(
                BridgeMessage(
                    source_domain=domain,
                    dest_domain=int(Domain.ETHEREUM),
                    nonce=item.nonce,
                    kind=MessageKind.CALL,
                    sender=contract_id,
                    recipient=bytes.fromhex(item.target.removeprefix("0x")),
                    payload=item.data,
                    gas_limit=item.gas_limit,
                    source=SourceRef(
                        block_number=extrinsic.block_number,
                        block_hash=bytes.fromhex(extrinsic.block_hash.removeprefix("0x")),
                        tx_hash=bytes.fromhex(extrinsic.hash.removeprefix("0x")),
                        index=extrinsic.index,
                    ),
                )
            )
    return out


class ReplyView:
    """The replies in the bridge account's finalized extrinsics, from one chain connection (an executed index)."""

    def __init__(
        self,
        config: PhalaConfig,
        *,
        session: ClientSession | None = None,
        checkpoints: IndexCheckpoints | None = None,
    ) -> None:
        self.config = config
        self.session = session or ClientSession(config.url, timeout=config.rpc_timeout, para_id=config.para_id)
        self.index = ExecutedIndex(config, checkpoints=checkpoints)

    def sync(self, reader: ChainReader) -> tuple[ChainPosition, int]:
        head = reader.finalized_head()
        while not self.index.sync(reader, head):
            pass
        assert self.index.scanned is not None
        return self.index.scanned, head.block_number

    def replies(self, after_block: int = -1) -> list[BridgeMessage]:
        out: list[BridgeMessage] = []
        for e in self.index.noted():
            if e.block_number > after_block:
                out.extend(replies_of(e, self.config.bridge_account, self.config.domain))
                out.extend(refunds_of(e, self.config.bridge_account))
        return out

    def notes(self) -> list[bytes]:
        return [n for e in self.index.noted() for n in e.notes]

    async def check(self, messages: Sequence[BridgeMessage]) -> None:
        """Refuse unless every reply and refund among `messages` is exactly one read from this member's own chain
        view."""
        ours = [m for m in messages if from_notes(m)]
        if not ours:
            return
        await self.session.run(self.sync)
        seen = {m.id_hex: m for m in self.replies()}
        for m in ours:
            if seen.get(m.id_hex) != m:
                what = "refund" if is_refund(m) else "reply"
                raise VerificationRefused("absent", f"{what} {m.id_hex} is not in a final note of the bridge account")

    def close(self) -> None:
        self.session.close()


class ReplyWatcher:
    """`SourceWatcher` of replies and refunds (name `<phala>-replies`)."""

    def __init__(
        self,
        config: PhalaConfig,
        *,
        session: ClientSession | None = None,
        checkpoints: IndexCheckpoints | None = None,
    ) -> None:
        self.view = ReplyView(config, session=session, checkpoints=checkpoints)
        self.name = f"{config.name}-replies"
        self.domain = config.domain

    async def poll(self, after: ChainPosition | None) -> WatchResult:
        position, head = await self.view.session.run(self.view.sync)
        after_block = -1 if after is None else after.block_number
        return WatchResult(self.view.replies(after_block), position, head)


__all__ = ["REPLY_NONCE_FLOOR", "ReplyView", "ReplyWatcher", "from_notes", "is_reply", "refunds_of", "replies_of"]
