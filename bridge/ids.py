"""Message ids: hash(source domain, source nonce). Ethereum nonces come from the bridge contract's counter; Phala
nonces are derived from where the intent sits on chain (block number, extrinsic index), which is unique and grows."""

from __future__ import annotations

from eth_utils.crypto import keccak

from bridge.errors import InputError

_TAG = b"phala-bridge/message/v1"
MAX_NONCE = 2**64 - 1
PHALA_EXTRINSIC_BITS = 16  # up to 65,536 extrinsics per block


def message_id(source_domain: int, nonce: int) -> bytes:
    if not 0 < source_domain < 256:
        raise InputError(f"domain id out of range: {source_domain}")
    if not 0 <= nonce <= MAX_NONCE:
        raise InputError(f"nonce out of range: {nonce}")
    return bytes(keccak(_TAG + source_domain.to_bytes(1, "big") + nonce.to_bytes(8, "big")))


def phala_nonce(block_number: int, extrinsic_index: int) -> int:
    if not 0 <= extrinsic_index < 2**PHALA_EXTRINSIC_BITS:
        raise InputError(f"extrinsic index out of range: {extrinsic_index}")
    if not 0 <= block_number < 2 ** (64 - PHALA_EXTRINSIC_BITS):
        raise InputError(f"block number out of range: {block_number}")
    return (block_number << PHALA_EXTRINSIC_BITS) | extrinsic_index


def split_phala_nonce(nonce: int) -> tuple[int, int]:
    return nonce >> PHALA_EXTRINSIC_BITS, nonce & (2**PHALA_EXTRINSIC_BITS - 1)
