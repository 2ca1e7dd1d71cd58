"""Message ids: hash(source domain, source nonce). Both sources number their messages 1, 2, 3...: Ethereum's bridge
contract keeps the counter; on Phala every node counts valid deposits from the bridge's start block in chain order
(the same deterministic scan in every relayer and every enclave), so nonces stay dense on both sides."""

from __future__ import annotations

from eth_utils.crypto import keccak

from bridge.errors import InputError

_TAG = b"phala-bridge/message/v1"
MAX_NONCE = 2**64 - 1


def message_id(source_domain: int, nonce: int) -> bytes:
    if not 0 < source_domain < 256:
        raise InputError(f"domain id out of range: {source_domain}")
    if not 0 <= nonce <= MAX_NONCE:
        raise InputError(f"nonce out of range: {nonce}")
    return bytes(keccak(_TAG + source_domain.to_bytes(1, "big") + nonce.to_bytes(8, "big")))
