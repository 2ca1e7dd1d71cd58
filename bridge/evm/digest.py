"""The digests the committee signs (the FROST message is always one of these 32-byte values).

    batch:      keccak256(BATCH_TAG | chainId (32) | bridge (20) | batch bytes)         (the epoch is in the header)
    governance: keccak256(GOVERNANCE_TAG | chainId (32) | bridge (20) | epoch u32 | governanceNonce u64 | action u8
                          | params)

Both bind the chain id and the bridge address, so a signature for one deployment is useless on any other; the epoch
binds it to one committee key; the governance nonce makes each pause/unpause/rotation signature single-use.
"""

from __future__ import annotations

from enum import IntEnum

from eth_hash.auto import keccak

from bridge.evm.batch import Batch, BatchEncodingError

__all__ = [
    "BATCH_TAG",
    "GOVERNANCE_TAG",
    "GovernanceAction",
    "batch_digest",
    "governance_digest",
    "resource_id",
    "rotate_key_params",
]

BATCH_TAG: bytes = keccak(b"phala-bridge/evm/batch/v1")
GOVERNANCE_TAG: bytes = keccak(b"phala-bridge/evm/governance/v1")


class GovernanceAction(IntEnum):
    PAUSE = 1
    UNPAUSE = 2
    ROTATE_KEY = 3


def _bridge_bytes(bridge: str) -> bytes:
    text = bridge.strip()
    if len(text) != 42 or not text.startswith("0x"):
        raise BatchEncodingError(f"bridge address must be 0x + 40 hex digits, got {bridge!r}")
    return bytes.fromhex(text[2:])


def _chain_id(chain_id: int) -> bytes:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**256:
        raise BatchEncodingError(f"invalid chain id {chain_id!r}")
    return chain_id.to_bytes(32, "big")


def batch_digest(chain_id: int, bridge: str, batch: bytes | Batch) -> bytes:
    """The 32-byte message the committee signs for `batch` on the bridge at `bridge` on chain `chain_id`."""
    data = batch.encode() if isinstance(batch, Batch) else bytes(batch)
    return bytes(keccak(BATCH_TAG + _chain_id(chain_id) + _bridge_bytes(bridge) + data))


def governance_digest(
    chain_id: int, bridge: str, epoch: int, governance_nonce: int, action: GovernanceAction, params: bytes = b""
) -> bytes:
    """The 32-byte message for a committee-signed governance action (read epoch and nonce from the contract)."""
    if not 0 <= epoch < 2**32 or not 0 <= governance_nonce < 2**64:
        raise BatchEncodingError(f"epoch {epoch} or governance nonce {governance_nonce} out of range")
    return bytes(
        keccak(
            GOVERNANCE_TAG
            + _chain_id(chain_id)
            + _bridge_bytes(bridge)
            + epoch.to_bytes(4, "big")
            + governance_nonce.to_bytes(8, "big")
            + bytes([int(action)])
            + params
        )
    )


def rotate_key_params(new_x: int, new_y: int, overlap_seconds: int) -> bytes:
    """params of ACTION_ROTATE_KEY: abi.encodePacked(uint256 x, uint256 y, uint32 overlapSeconds)."""
    if not 0 <= overlap_seconds < 2**32:
        raise BatchEncodingError(f"overlap {overlap_seconds} out of range")
    return new_x.to_bytes(32, "big") + new_y.to_bytes(32, "big") + overlap_seconds.to_bytes(4, "big")


def resource_id(name: str) -> bytes:
    """The devnet's resource id convention: keccak256("phala-bridge/resource/" + name), e.g. name "PHA"."""
    return bytes(keccak(b"phala-bridge/resource/" + name.encode()))
