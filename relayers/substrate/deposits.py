"""Deciding which extrinsics of a finalized Phala block are deposits (pure: the block, its events and the decoded
candidate extrinsics come in, messages and rejections go out).

Funds arriving is decided by the events, not by the call: every `Balances.Transfer` to the bridge account in a
successful extrinsic is either a deposit, which becomes a `BridgeMessage`, or a `RejectedDeposit` with the reason
(funds arrived but there is no valid intent: the operator must see it). A deposit is exactly
`utility.batch_all([balances.transfer_keep_alive(Id(bridge), a), system.remark_with_event(intent)])`, signed
directly by the sender, whose single transfer event to the bridge says `sender -> bridge, a`, with `a` at least the
destination's minimum in force at the deposit's block (`PhalaConfig.min_deposit`, a schedule; below it:
`below_minimum`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bridge.amounts import convert_amount
from bridge.errors import AmountError
from bridge.intents import IntentError, IntentKind, decode_intent
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.minimums import below_minimum
from bridge.ports import Rejection
from relayers.substrate.bridge_calls import CallIndices, parse_deposit
from relayers.substrate.chain import RawBlock, SignedExtrinsic, account_bytes
from relayers.substrate.config import PhalaConfig
from relayers.substrate.events import ChainEvent
from relayers.substrate.scale import blake2_256

# Funds that reached the bridge account without a valid intent.
RejectedDeposit = Rejection


@dataclass(frozen=True)
class _Arrival:
    sender: bytes | None
    amount: int


def arrivals(events: Sequence[ChainEvent], bridge: bytes) -> dict[int, list[_Arrival]]:
    """Transfers to the bridge account per successful extrinsic index."""
    ok = {e.extrinsic_index for e in events if e.is_("System", "ExtrinsicSuccess")}
    out: dict[int, list[_Arrival]] = {}
    for e in events:
        if e.extrinsic_index is None or e.extrinsic_index not in ok or not e.is_("Balances", "Transfer"):
            continue
        sender, dest, amount = _transfer_fields(e.attributes)
        if dest == bridge:
            out.setdefault(e.extrinsic_index, []).append(_Arrival(sender, amount))
    return out


def _transfer_fields(attrs: Any) -> tuple[bytes | None, bytes | None, int]:
    if isinstance(attrs, dict):
        return account_bytes(attrs.get("from")), account_bytes(attrs.get("to")), int(attrs.get("amount", 0))
    if isinstance(attrs, list | tuple) and len(attrs) == 3:
        return account_bytes(attrs[0]), account_bytes(attrs[1]), int(attrs[2])
    return None, None, 0


def recognize(
    block: RawBlock,
    events: Sequence[ChainEvent],
    decoded: Mapping[int, SignedExtrinsic | None],
    config: PhalaConfig,
    indices: CallIndices,
    first_nonce: int,
) -> tuple[list[BridgeMessage], list[RejectedDeposit]]:
    """`decoded` holds the extrinsics named by `arrivals(events, ...)` (None when not decodable as signed).
    Deposits are numbered from `first_nonce` in extrinsic order (the block's place in the deposit sequence)."""
    messages: list[BridgeMessage] = []
    rejected: list[RejectedDeposit] = []
    for index, found in sorted(arrivals(events, config.bridge_account).items()):
        raw = block.extrinsics[index] if index < len(block.extrinsics) else b""
        ext_hash = blake2_256(raw)
        try:
            nonce = first_nonce + len(messages)
            messages.append(_deposit(block, index, ext_hash, found, decoded.get(index), config, indices, nonce))
        except _NotADeposit as exc:
            total = sum(a.amount for a in found)
            rejected.append(
                RejectedDeposit(
                    block.number, block.hash, index, "0x" + ext_hash.hex(), found[0].sender, total, str(exc)
                )
            )
    return messages, rejected


class _NotADeposit(Exception):
    pass


def _deposit(
    block: RawBlock,
    index: int,
    ext_hash: bytes,
    found: list[_Arrival],
    ext: SignedExtrinsic | None,
    config: PhalaConfig,
    indices: CallIndices,
    nonce: int,
) -> BridgeMessage:
    if ext is None:
        raise _NotADeposit("funds arrived in an extrinsic that is not a decodable signed extrinsic")
    if ext.signer is None:
        raise _NotADeposit("the sender is not a plain account (MultiAddress::Id)")
    deposit = parse_deposit(indices, ext.call)
    if deposit is None:
        raise _NotADeposit(
            "funds arrived without a deposit intent: the call is not "
            "batch_all([transfer_keep_alive(bridge, amount), remark_with_event(intent)])"
        )
    (transfer,) = deposit.transfers
    if transfer.dest != config.bridge_account:
        raise _NotADeposit("the deposit call pays another account; the funds came another way")
    if len(found) != 1 or found[0].sender != ext.signer or found[0].amount != transfer.amount:
        raise _NotADeposit("the transfer events to the bridge account do not match the deposit call")
    try:
        intent = decode_intent(deposit.remark)
    except IntentError as exc:
        raise _NotADeposit(f"bad intent: {exc}") from None
    if intent.dest_domain not in config.dest_decimals:
        raise _NotADeposit(f"the intent names domain {intent.dest_domain}, which this bridge does not serve from here")
    if intent.resource_id != config.resource_id:
        raise _NotADeposit(
            f"the intent names resource 0x{intent.resource_id.hex()}, but the deposit is the native token "
            f"(0x{config.resource_id.hex()})"
        )
    # Dust: the relayers would pay Ethereum gas for a deposit worth less than it (docs/phala-side.md, section 2).
    # By the minimum in force at THIS block: every member judges the deposit alike whenever it reads it.
    short = below_minimum(
        config.min_deposit,
        intent.dest_domain,
        transfer.amount,
        call=intent.kind is IntentKind.CALL,
        block=block.number,
        decimals=config.native_decimals,
    )
    if short is not None:
        raise _NotADeposit(short)
    try:
        amount = convert_amount(transfer.amount, config.native_decimals, config.dest_decimals[intent.dest_domain])
    except AmountError as exc:
        raise _NotADeposit(f"amount: {exc}") from None
    try:
        return BridgeMessage(
            source_domain=config.domain,
            dest_domain=intent.dest_domain,
            nonce=nonce,
            kind=MessageKind.CALL if intent.kind is IntentKind.CALL else MessageKind.TRANSFER,
            sender=ext.signer,
            recipient=intent.recipient,
            resource_id=intent.resource_id,
            source_amount=transfer.amount,
            amount=amount,
            payload=intent.payload,
            source=SourceRef(
                block_number=block.number,
                block_hash=bytes.fromhex(block.hash.removeprefix("0x")),
                tx_hash=ext_hash,
                index=index,
            ),
        )
    except (ValidationError, ValueError) as exc:
        raise _NotADeposit(f"not a valid message: {exc}") from None


__all__ = ["RejectedDeposit", "arrivals", "recognize"]
