"""The pure core of the source check an enclave runs before signing an Ethereum-sourced message.

`verify_source(message, receipt, canonical header, final block, ...)` refuses (`VerificationRefused`, naming the
message and the first differing field) unless the message is exactly the bridge event at its claimed place: the
receipt exists and succeeded, sits in the claimed block, which is canonical and final, and the log at the claimed
index decodes (with the member's own resource table) to a message equal to the claimed one in every field.
"""

from __future__ import annotations

from bridge.messages import BridgeMessage
from relayers.ethereum.errors import VerificationRefused
from relayers.ethereum.logs import Skipped, decode_source_log
from relayers.ethereum.views import Header, Receipt, ResourceTable

COMPARED_FIELDS = (
    "nonce",
    "source_domain",
    "dest_domain",
    "kind",
    "resource_id",
    "sender",
    "recipient",
    "source_amount",
    "amount",
    "payload",
)
SOURCE_FIELDS = ("block_number", "block_hash", "tx_hash", "index")


def mismatched_fields(claimed: BridgeMessage, observed: BridgeMessage) -> list[str]:
    """The fields (source.* included) where the claimed message differs from the one read from the chain."""
    out = [f for f in COMPARED_FIELDS if getattr(claimed, f) != getattr(observed, f)]
    out += [f"source.{f}" for f in SOURCE_FIELDS if getattr(claimed.source, f) != getattr(observed.source, f)]
    return out


def verify_source(
    message: BridgeMessage,
    receipt: Receipt | None,
    canonical: Header | None,
    final_block: int,
    *,
    bridge: str,
    resources: ResourceTable,
    domain: int = 1,
) -> None:
    """Refuse unless `message` is exactly the bridge event at its claimed place, in a final canonical block."""
    mid = message.id_hex
    src = message.source
    if receipt is None:
        raise VerificationRefused("no such transaction on this chain", message_id=mid, field="source.tx_hash")
    if receipt.status != 1:
        raise VerificationRefused("the transaction failed", message_id=mid, field="source.tx_hash")
    if receipt.block_number != src.block_number:
        raise VerificationRefused(
            f"the transaction is in block {receipt.block_number}", message_id=mid, field="source.block_number"
        )
    if receipt.block_hash != "0x" + src.block_hash.hex() or canonical is None or canonical.hash != receipt.block_hash:
        raise VerificationRefused(
            "the claimed block is not the canonical block of the transaction", message_id=mid, field="source.block_hash"
        )
    if src.block_number > final_block:
        raise VerificationRefused(
            f"block {src.block_number} is not final yet (final up to {final_block})",
            message_id=mid,
            field="source.block_number",
        )
    entry = next((e for e in receipt.logs if e.log_index == src.index), None)
    if entry is None:
        raise VerificationRefused(f"the transaction has no log {src.index}", message_id=mid, field="source.index")
    observed = decode_source_log(entry, bridge=bridge, resources=resources, domain=domain)
    if not isinstance(observed, BridgeMessage):
        reason = observed.reason if isinstance(observed, Skipped) else f"a rejected deposit: {observed.reason}"
        raise VerificationRefused(f"the log is not a bridge message ({reason})", message_id=mid, field="source.index")
    bad = mismatched_fields(message, observed)
    if bad:
        shown = ", ".join(f"{f}: claimed {_show(message, f)}, chain {_show(observed, f)}" for f in bad)
        raise VerificationRefused(f"differs from the chain ({shown})", message_id=mid, field=bad[0])


def _show(message: BridgeMessage, name: str) -> str:
    value = getattr(message.source, name[7:]) if name.startswith("source.") else getattr(message, name)
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


__all__ = ["COMPARED_FIELDS", "SOURCE_FIELDS", "mismatched_fields", "verify_source"]
