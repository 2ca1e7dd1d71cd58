"""Confidential contracts: deterministic handlers run inside the enclaves over event-sourced, sealed state.

Entry points for the committee wiring (all pure; see docs/confidential-contracts.md):

    keyring = StateKeyring.recover(shares_of(state_key_request()), verifying_shares, t, encryption_group_pk)
    state   = replay(contract_id, records, keyring, registry=registry)          # on start, from the Phala log
    call    = confidential_call(message)                                         # bridge.confidential
    log     = route(call, registry)                                              # which contract state records it
    ct      = call_ciphertext(call, registry)                                    # Ciphertext to decrypt, or RefusedCall
    dec     = decrypt_call(call, shares, verifying_shares, t, encryption_group_pk, registry=registry)
    result  = execute(log, states[log], dec, keyring, registry=registry)         # .record, .outputs, .digest, .state
    agreed  = tally({member: digest, ...}, t)                                    # sign only agreed.digest
    items   = reply_items(result.record, result.outputs)                         # bridge.confidential
    sealed  = answer_query(state, signed_query, registry=registry)
"""

from enclave_signer.contracts.agreement import Agreement, tally
from enclave_signer.contracts.auction import SealedBidAuction
from enclave_signer.contracts.base import CallContext, ConfidentialContract, Effects, contract_id_for, replay_events
from enclave_signer.contracts.calls import Call, DecryptedCall, RefusedCall, call_ciphertext, decrypt_call, route
from enclave_signer.contracts.errors import (
    CallOrderError,
    ConfidentialContractError,
    ContractRefusal,
    QueryError,
    ReplayError,
    UnknownContractError,
)
from enclave_signer.contracts.policy import ConfidentialDecryptionPolicy
from enclave_signer.contracts.queries import answer_query, evaluate_query, verify_query_signature
from enclave_signer.contracts.registry import Registry
from enclave_signer.contracts.runtime import ContractState, ExecutionResult, execute, initial_state, replay
from enclave_signer.contracts.shipped import shipped_registry
from enclave_signer.contracts.state_key import STATE_KEY_VERSION, StateKeyring, state_key_point, state_key_request

__all__ = [
    "STATE_KEY_VERSION",
    "Agreement",
    "Call",
    "CallContext",
    "CallOrderError",
    "ConfidentialContract",
    "ConfidentialContractError",
    "ConfidentialDecryptionPolicy",
    "ContractRefusal",
    "ContractState",
    "DecryptedCall",
    "Effects",
    "ExecutionResult",
    "QueryError",
    "RefusedCall",
    "Registry",
    "ReplayError",
    "SealedBidAuction",
    "StateKeyring",
    "UnknownContractError",
    "answer_query",
    "call_ciphertext",
    "contract_id_for",
    "decrypt_call",
    "evaluate_query",
    "execute",
    "initial_state",
    "replay",
    "replay_events",
    "route",
    "shipped_registry",
    "state_key_point",
    "state_key_request",
    "tally",
    "verify_query_signature",
]
