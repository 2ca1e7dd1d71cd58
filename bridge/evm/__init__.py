"""The Ethereum bridge contract's wire formats, in pure Python (no I/O): byte-identical to contracts/src/Bridge.sol.

- `batch`: pack and parse executeBatch batches (header + tightly packed token-release and call items).
- `digest`: the domain-separated digests the committee signs (batches and governance actions).
- `signature`: the Signature struct (R.x, R.y, z, PK.x) and secp256k1 point helpers.
- `calldata`: executeBatch's packed calldata (selector | signature | batch), built and parsed.

docs/contracts.md describes the formats; tests/contracts checks them against the contract on anvil.
"""

from bridge.evm.batch import (
    BATCH_VERSION,
    CALL_ITEM_HEADER_LENGTH,
    HEADER_LENGTH,
    ITEM_CALL,
    ITEM_CALL_WITH_ORIGIN,
    ITEM_TOKEN,
    MAX_TOKENS,
    ORIGIN_LENGTH,
    TOKEN_ITEM_LENGTH,
    Batch,
    BatchEncodingError,
    BatchItem,
    ContractCall,
    MessageOrigin,
    TokenRelease,
    decode_batch,
    encode_batch,
    message_origin,
)
from bridge.evm.calldata import (
    EXECUTE_BATCH_FUNCTION,
    EXECUTE_BATCH_SELECTOR,
    execute_batch_calldata,
    parse_execute_batch_calldata,
)
from bridge.evm.digest import (
    BATCH_TAG,
    GOVERNANCE_TAG,
    GovernanceAction,
    batch_digest,
    governance_digest,
    resource_id,
    rotate_key_params,
)
from bridge.evm.signature import (
    SIGNATURE_LENGTH,
    EvmSignature,
    SchnorrSignature,
    compress_point,
    decompress_point,
    encode_signature,
    key_tag,
    signature_bytes,
)

__all__ = [
    "BATCH_TAG",
    "BATCH_VERSION",
    "CALL_ITEM_HEADER_LENGTH",
    "EXECUTE_BATCH_FUNCTION",
    "EXECUTE_BATCH_SELECTOR",
    "GOVERNANCE_TAG",
    "HEADER_LENGTH",
    "ITEM_CALL",
    "ITEM_CALL_WITH_ORIGIN",
    "ITEM_TOKEN",
    "MAX_TOKENS",
    "ORIGIN_LENGTH",
    "SIGNATURE_LENGTH",
    "TOKEN_ITEM_LENGTH",
    "Batch",
    "BatchEncodingError",
    "BatchItem",
    "ContractCall",
    "EvmSignature",
    "GovernanceAction",
    "MessageOrigin",
    "SchnorrSignature",
    "TokenRelease",
    "batch_digest",
    "compress_point",
    "decode_batch",
    "decompress_point",
    "encode_batch",
    "encode_signature",
    "execute_batch_calldata",
    "governance_digest",
    "key_tag",
    "message_origin",
    "parse_execute_batch_calldata",
    "resource_id",
    "rotate_key_params",
    "signature_bytes",
]
