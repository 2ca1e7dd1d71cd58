"""From a confidential-call message to the plaintext input, inside the enclave.

    pending = call_ciphertext(call, registry)         # Ciphertext to ask t decryption shares for, or RefusedCall
    call = decrypt_call(call, shares, verifying_shares, threshold, group_pk, registry=registry)

`route(call, registry)` names the contract log that records the call. What the caller got wrong becomes a
`RefusedCall` (recorded with its public reason, no state change): a payload that does not parse, an unknown contract,
a ciphertext that does not authenticate under (source domain, contract id, caller), i.e. tampered, or copied from
another contract's payload or another sender. What a member got wrong raises: `InvalidDecryptionShareError` names
members whose DLEQ proofs fail (ask others), `InvalidParametersError` when fewer than t shares were given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bridge.confidential import (
    CALL_CONTEXT,
    NULL_CONTRACT_ID,
    ConfidentialCall,
    ConfidentialError,
    call_aad,
    decode_call_payload,
)
from enclave_signer.contracts.registry import Registry
from enclave_signer.frost.ciphersuites import ED25519
from enclave_signer.frost.errors import DecryptionError, InputError
from enclave_signer.tdec.ecies import Ciphertext, decrypt_with_shared_point
from enclave_signer.tdec.threshold import DecryptionShare, combine_shares

__all__ = ["Call", "DecryptedCall", "RefusedCall", "call_ciphertext", "decrypt_call", "route"]

_G = ED25519.group


@dataclass(frozen=True)
class DecryptedCall:
    call: ConfidentialCall
    contract_id: bytes
    input: bytes = field(repr=False)  # plaintext: never logged, never leaves the enclave


@dataclass(frozen=True)
class RefusedCall:
    call: ConfidentialCall
    contract_id: bytes  # the log it is recorded in: NULL_CONTRACT_ID for unreadable payloads and unknown contracts
    code: str
    reason: str  # public


Call = DecryptedCall | RefusedCall


def route(call: ConfidentialCall, registry: Registry) -> bytes:
    """The contract whose log records this call: its contract id if registered, else NULL_CONTRACT_ID (the null
    log, which only ever holds refusals). Known before any decryption, so the wiring can order calls per log."""
    contract_id = call.contract_id
    return contract_id if registry.get(contract_id) is not None else NULL_CONTRACT_ID


def call_ciphertext(call: ConfidentialCall, registry: Registry) -> Ciphertext | RefusedCall:
    try:
        payload = decode_call_payload(call.payload)
    except ConfidentialError as exc:
        return RefusedCall(call, NULL_CONTRACT_ID, "malformed_payload", str(exc))
    if registry.get(payload.contract_id) is None:  # its refusal goes to the null log: states stay bounded
        return RefusedCall(call, NULL_CONTRACT_ID, "unknown_contract", "no confidential contract has this id")
    try:
        return Ciphertext.from_bytes(payload.ciphertext)
    except InputError:
        return RefusedCall(call, payload.contract_id, "malformed_payload", "the ciphertext is not well formed")


def decrypt_call(
    call: ConfidentialCall,
    shares: Sequence[DecryptionShare],
    verifying_shares: Mapping[int, bytes],
    threshold: int,
    group_public_key: bytes,
    *,
    registry: Registry,
) -> Call:
    pending = call_ciphertext(call, registry)
    if isinstance(pending, RefusedCall):
        return pending
    contract_id = call.contract_id
    shared = combine_shares(pending, shares, verifying_shares, threshold)
    aad = call_aad(call.source_domain, contract_id, call.caller)
    try:
        plaintext = decrypt_with_shared_point(
            shared, pending, _G.deserialize_element(group_public_key), aad, CALL_CONTEXT
        )
    except DecryptionError:
        reason = "the ciphertext does not authenticate for this contract and caller"
        return RefusedCall(call, contract_id, "undecryptable", reason)
    return DecryptedCall(call, contract_id, plaintext)
