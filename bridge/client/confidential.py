"""The caller's side of confidential contracts: encrypt an input for a contract, send it through the bridge, ask a
signed query and open its answer.

    payload = encrypt_call(committee_encryption_key, contract_id, my_address, input_bytes)
    sent = send_call(w3, bridge_address, my_account, payload)          # Bridge.sendMessage(PHALA, payload)
    query = prepare_query(contract_id, body, ethereum_key=my_key)      # or ed25519_key=SigningKey
    answer = decrypt_answer(query, sealed_answer_from_an_enclave)       # QueryAnswer: .ok, .body, .code, .reason

The input is encrypted to the committee's threshold encryption key (the DKG's edwards25519 key, in the committee
record) with associated data binding the source domain, the contract id and the caller: only the account that
sends the payload can use it, and only for that contract. The encryption is the enclaves' own code
(`enclave_signer.tdec.encrypt`), so both sides cannot drift apart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.public
import nacl.signing
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3

from bridge.confidential import (
    CALL_CONTEXT,
    CallPayload,
    ConfidentialError,
    Querier,
    QuerierKind,
    Query,
    QueryAnswer,
    SignedQuery,
    call_aad,
    decode_answer,
    encode_call_payload,
    encode_signed_query,
    query_digest,
)
from bridge.domains import Domain
from bridge.ids import message_id
from enclave_signer.tdec import encrypt
from relayers.ethereum.contracts import Sender, call, contract_at, event_logs, send

__all__ = ["PreparedQuery", "SentCall", "decrypt_answer", "encrypt_call", "prepare_query", "send_call"]


def _caller_bytes(caller: bytes | str) -> bytes:
    if isinstance(caller, str):
        text = caller.removeprefix("0x").removeprefix("0X")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ConfidentialError("the caller is not a hex address") from None
    return bytes(caller)


def encrypt_call(
    encryption_public_key: bytes,
    contract_id: bytes,
    caller: bytes | str,
    input: bytes,
    *,
    source_domain: int = Domain.ETHEREUM,
) -> bytes:
    """The `sendMessage` payload carrying `input` for `contract_id`, usable only when sent by `caller`."""
    aad = call_aad(int(source_domain), contract_id, _caller_bytes(caller))
    ct = encrypt(encryption_public_key, input, aad=aad, context=CALL_CONTEXT)
    return encode_call_payload(CallPayload(contract_id, ct.to_bytes()))


@dataclass(frozen=True)
class SentCall:
    tx_hash: str
    block_number: int
    nonce: int

    @property
    def message_id(self) -> bytes:
        """The call id inside the enclaves (and, for the auction's `open`, the auction id as a uint256)."""
        return message_id(int(Domain.ETHEREUM), self.nonce)


def send_call(
    w3: Web3, bridge_address: str, sender: Sender, payload: bytes, *, destination: int = Domain.PHALA
) -> SentCall:
    """`Bridge.sendMessage(destination, payload)` paying the current message fee; reverts raise typed errors."""
    bridge = contract_at(w3, "Bridge", to_checksum_address(bridge_address))
    fee = int(call(bridge.functions.messageFee()))
    receipt = send(w3, bridge.functions.sendMessage(int(destination), payload), sender, value=fee)
    (log,) = event_logs(bridge, receipt, "MessageSent")
    return SentCall("0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["blockNumber"]), int(log["nonce"]))


@dataclass(frozen=True)
class PreparedQuery:
    query: Query
    signed: bytes  # what to hand to an enclave
    response_key: nacl.public.PrivateKey = field(repr=False)  # opens the answer; kept by the querier only


def prepare_query(
    contract_id: bytes,
    body: bytes,
    *,
    ethereum_key: str | bytes | LocalAccount | None = None,
    ed25519_key: nacl.signing.SigningKey | None = None,
) -> PreparedQuery:
    """Sign a query as an Ethereum account (EIP-191 `personal_sign` of the query digest) or an Ed25519 key, with a
    fresh X25519 response key and nonce."""
    if (ethereum_key is None) == (ed25519_key is None):
        raise ValueError("sign with exactly one of ethereum_key or ed25519_key")
    response = nacl.public.PrivateKey.generate()
    nonce = secrets.token_bytes(16)
    if ed25519_key is not None:
        querier = Querier(QuerierKind.ED25519, bytes(ed25519_key.verify_key))
        q = Query(contract_id, querier, bytes(response.public_key), nonce, body)
        signature = ed25519_key.sign(query_digest(q)).signature
    else:
        account = ethereum_key if isinstance(ethereum_key, LocalAccount) else Account.from_key(ethereum_key)
        querier = Querier(QuerierKind.ETHEREUM, bytes.fromhex(account.address[2:]))
        q = Query(contract_id, querier, bytes(response.public_key), nonce, body)
        signature = bytes(account.sign_message(encode_defunct(primitive=query_digest(q))).signature)
    return PreparedQuery(q, encode_signed_query(SignedQuery(q, signature)), response)


def decrypt_answer(prepared: PreparedQuery, sealed: bytes) -> QueryAnswer:
    """Open an enclave's answer; raises ConfidentialError if it is not for this query or does not open."""
    try:
        plain = nacl.public.SealedBox(prepared.response_key).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        raise ConfidentialError("the answer is not sealed to this query's response key") from None
    answer = decode_answer(plain)
    if answer.query_digest != query_digest(prepared.query):
        raise ConfidentialError("the answer is for another query")
    return answer
