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
    OUTPUTS_MAGIC,
    RECORD_MAGIC,
    CallPayload,
    ConfidentialError,
    ExecutionRecord,
    Output,
    Querier,
    QuerierKind,
    Query,
    QueryAnswer,
    SignedQuery,
    call_aad,
    decode_answer,
    decode_outputs_note,
    decode_record,
    encode_call_payload,
    encode_signed_query,
    query_digest,
    reply_items,
)
from bridge.domains import Domain
from bridge.ids import message_id
from enclave_signer.tdec import encrypt
from relayers.ethereum.contracts import Sender, call, contract_at, event_logs, send

__all__ = [
    "CallResult",
    "PreparedQuery",
    "SentCall",
    "call_result",
    "decrypt_answer",
    "encrypt_call",
    "prepare_query",
    "send_call",
]


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


@dataclass(frozen=True)
class CallResult:
    """What the bridge account appended on Phala for one call (public: the events are sealed) and its outputs."""

    record: ExecutionRecord
    outputs: tuple[Output, ...]
    block_number: int
    extrinsic: str
    first_reply: int = 0  # the outputs note's reply counter of the first Ethereum output

    def reply_nonces(self) -> list[int]:
        """The nonces (source domain 2 on Ethereum) of the call's replies: `isNonceUsed(2, n)` once delivered."""
        return [item.nonce for item in reply_items(self.first_reply, self.outputs)]


def call_result(
    phala_url: str, bridge_account: bytes, start_block: int, source_domain: int, nonce: int
) -> CallResult | None:
    """The record of call (source_domain, nonce) in the bridge account's finalized extrinsics, or None (not run yet).
    Scans from `start_block` (the deployment's first Phala block)."""
    from relayers.substrate import PhalaConfig
    from relayers.substrate.replies import ReplyView

    cfg = PhalaConfig(
        url=phala_url, bridge_account=bridge_account, resource_id=bytes(32), index_start_block=start_block
    )
    view = ReplyView(cfg)
    try:
        view.session.run_sync(view.sync)
        for e in view.index.noted():
            notes = list(e.notes)
            for i, note in enumerate(notes):
                if not note.startswith(RECORD_MAGIC):
                    continue
                rec = decode_record(note)
                if (rec.source_domain, rec.source_nonce) != (source_domain, nonce):
                    continue
                if i + 1 < len(notes) and notes[i + 1].startswith(OUTPUTS_MAGIC):
                    outs = decode_outputs_note(notes[i + 1])
                    if (outs.source_domain, outs.source_nonce) == (source_domain, nonce):
                        return CallResult(rec, outs.outputs, e.block_number, e.hash, outs.first_reply)
                return CallResult(rec, (), e.block_number, e.hash)
        return None
    finally:
        view.close()
