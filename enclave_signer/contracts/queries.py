"""Authorized reads: a signed query in, an answer sealed to the querier's response key out.

    sealed = answer_query(state, signed_query_bytes, registry=registry)

The querier signs `query_signing_hash(query)` with its Ed25519 key or its Ethereum account (`personal_sign`); the
contract's `query` decides with the authenticated `Querier` (its policy, e.g. grants set by the data holder through
signed inputs). Refusals (bad signature, unknown contract, the policy's "no") are answers too, sealed like the
rest and padded like them (`encode_answer`: to a multiple of ANSWER_BLOCK bytes), so the host cannot tell a refusal
from an allowed answer by its length. Only an undecodable envelope, one whose
response key cannot be sealed to (invalid or of low order), or one for another contract than `state`'s, raises
`QueryError` (there is no key to answer to, or the wiring erred).
Answers are computed by one enclave from its replayed state (`as_of` says how fresh); they are not t-agreed.
"""

from __future__ import annotations

import coincurve
import nacl.bindings
import nacl.exceptions
import nacl.public
from eth_utils.crypto import keccak

from bridge.confidential import (
    ConfidentialError,
    QuerierKind,
    QueryAnswer,
    SignedQuery,
    decode_signed_query,
    encode_answer,
    query_digest,
    query_signing_hash,
)
from enclave_signer.contracts.errors import ContractRefusal, QueryError
from enclave_signer.contracts.registry import Registry
from enclave_signer.contracts.runtime import ContractState, handler_code, public_reason
from enclave_signer.identity import verify_signature

__all__ = ["answer_query", "evaluate_query", "verify_query_signature"]

# Any clamped X25519 scalar maps exactly the small-order points to zero, so one fixed probe finds the keys a sealed
# box rejects (all-zero shared secret); it is public and secret-free.
_PROBE_SCALAR = bytes([0x09] * 32)


def verify_query_signature(sq: SignedQuery) -> bool:
    h = query_signing_hash(sq.query)
    who = sq.query.querier
    if who.kind is QuerierKind.ED25519:
        return verify_signature(who.identity, h, sq.signature)
    sig = sq.signature
    if len(sig) != 65:
        return False
    v = sig[64] - 27 if sig[64] >= 27 else sig[64]
    if v not in (0, 1):
        return False
    try:
        public = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([v]), h, hasher=None)
    except ValueError:
        return False
    return bytes(keccak(public.format(compressed=False)[1:]))[12:] == who.identity


def evaluate_query(state: ContractState, sq: SignedQuery, *, registry: Registry) -> QueryAnswer:
    """The answer before sealing (tests and the wiring's own checks)."""
    q = sq.query
    if q.contract_id != state.contract_id:
        raise QueryError("the query names another contract than the state given")
    digest = query_digest(q)

    def refused(code: str, reason: str) -> QueryAnswer:
        return QueryAnswer(digest, state.position, False, code, reason.encode("utf-8"))

    if not verify_query_signature(sq):
        return refused("bad_signature", "the signature does not match the querier")
    contract = registry.get(q.contract_id)
    if contract is None:
        return refused("unknown_contract", "no confidential contract has this id")
    try:
        body = contract.query(state.value, q.querier, q.body)
    except ContractRefusal as exc:
        return refused(handler_code(exc.code), public_reason(exc.reason))
    except Exception as exc:  # the message may hold state: dropped
        return refused("contract_error", f"the contract raised {type(exc).__name__}")
    return QueryAnswer(digest, state.position, True, "", body)


def _check_response_key(key: bytes) -> None:
    """Raise QueryError for a response key no answer can be sealed to; checked before the contract's query runs."""
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise QueryError("the response key is invalid or of low order") from None


def answer_query(state: ContractState, signed_query: bytes, *, registry: Registry) -> bytes:
    try:
        sq = decode_signed_query(signed_query)
    except ConfidentialError as exc:
        raise QueryError(f"malformed query: {exc}") from None
    _check_response_key(sq.query.response_key)
    answer = evaluate_query(state, sq, registry=registry)
    try:
        box = nacl.public.SealedBox(nacl.public.PublicKey(sq.query.response_key))
        return bytes(box.encrypt(encode_answer(answer)))
    except nacl.exceptions.CryptoError as exc:  # libsodium's own refusal; the probe should have caught it
        raise QueryError(f"cannot seal the answer: {type(exc).__name__}") from None
