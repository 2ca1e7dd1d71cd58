"""Shared builders for the Phala adapter's unit tests."""

from __future__ import annotations

from bridge.messages import BridgeMessage, MessageKind, SourceRef
from relayers.substrate.bridge_calls import CallIndices
from relayers.substrate.config import PhalaConfig
from relayers.substrate.payload import RuntimeFacts, SignedExtension

RID = b"\x07" * 32
BRIDGE = b"\xbb" * 32
INDICES = CallIndices(batch_all=(40, 2), transfer_keep_alive=(10, 3), remark_with_event=(0, 8))
RUNTIME = RuntimeFacts(
    b"E" * 32,
    900,
    6,
    INDICES,
    (
        SignedExtension("CheckSpecVersion", True, False),
        SignedExtension("CheckTxVersion", True, False),
        SignedExtension("CheckGenesis", True, False),
        SignedExtension("CheckMortality", False, False),
        SignedExtension("CheckNonce", False, True),
        SignedExtension("ChargeAssetTxPayment", False, True),
    ),
)
CONFIG = PhalaConfig(url="ws://127.0.0.1:1", bridge_account=BRIDGE, resource_id=RID)


def inbound(nonce: int, amount: int, recipient: bytes | None = None, **kw: object) -> BridgeMessage:
    """An Ethereum -> Phala transfer of `amount` planck."""
    fields: dict[str, object] = dict(
        source_domain=1,
        dest_domain=2,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 20,
        recipient=recipient if recipient is not None else nonce.to_bytes(32, "big"),
        resource_id=RID,
        source_amount=amount * 10**6,
        amount=amount,
        source=SourceRef(block_number=nonce, block_hash=b"\x00" * 32, tx_hash=b"\x01" * 32, index=0),
    )
    fields.update(kw)
    return BridgeMessage.model_validate(fields)
