"""A committee's encryption key from a trusted dealer, and an in-process enclave that runs confidential calls the way
the wiring will: threshold decryption shares -> decrypt_call -> execute -> append the record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bridge.client.confidential import encrypt_call
from bridge.confidential import ConfidentialCall, Output, confidential_call, decode_record
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from enclave_signer.contracts import (
    ContractState,
    ExecutionResult,
    RefusedCall,
    Registry,
    StateKeyring,
    call_ciphertext,
    decrypt_call,
    execute,
    initial_state,
    replay,
    state_key_request,
)
from enclave_signer.frost import ED25519, KeyShare, trusted_dealer_keygen
from enclave_signer.tdec import Ciphertext, DecryptionShare, decryption_share

ETHEREUM = 1
PHALA = 2


@dataclass
class EncryptionCommittee:
    """A 3-of-5 committee's edwards25519 encryption key (trusted dealer)."""

    public_key: bytes
    shares: list[KeyShare]
    threshold: int = 3

    @classmethod
    def new(cls, n: int = 5, t: int = 3) -> EncryptionCommittee:
        pk, shares = trusted_dealer_keygen(ED25519, n=n, t=t)
        return cls(pk, list(shares), t)

    @property
    def verifying(self) -> dict[int, bytes]:
        return {s.identifier: s.public for s in self.shares}

    def decryption_shares(self, ct: Ciphertext, members: Sequence[int] = (1, 2, 3)) -> list[DecryptionShare]:
        return [decryption_share(s, ct) for s in self.shares if s.identifier in members]

    def keyring(self, members: Sequence[int] = (1, 2, 3)) -> StateKeyring:
        shares = self.decryption_shares(state_key_request(), members)
        return StateKeyring.recover(shares, self.verifying, self.threshold, self.public_key)


def message(caller: bytes, payload: bytes, nonce: int, block: int) -> BridgeMessage:
    """A MessageSent as the Ethereum watcher reports it (kind CALL)."""
    return BridgeMessage(
        source_domain=ETHEREUM,
        dest_domain=PHALA,
        nonce=nonce,
        kind=MessageKind.CALL,
        sender=caller,
        recipient=b"",
        payload=payload,
        source=SourceRef(block_number=block, block_hash=bytes(32), tx_hash=nonce.to_bytes(32, "big"), index=0),
    )


@dataclass
class Enclave:
    """One enclave's view: its keyring, its registry, one contract's state and the log it appended to."""

    committee: EncryptionCommittee
    keyring: StateKeyring
    registry: Registry
    contract_id: bytes
    state: ContractState = field(init=False)
    log: list[bytes] = field(default_factory=list)
    results: list[ExecutionResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = initial_state(self.contract_id, self.registry)

    def run(self, call: ConfidentialCall, members: Sequence[int] = (1, 2, 3)) -> ExecutionResult:
        pending = call_ciphertext(call, self.registry)
        shares = [] if isinstance(pending, RefusedCall) else self.committee.decryption_shares(pending, members)
        dec = decrypt_call(
            call, shares, self.committee.verifying, self.committee.threshold, self.committee.public_key,
            registry=self.registry,
        )  # fmt: skip
        result = execute(self.contract_id, self.state, dec, self.keyring, registry=self.registry)
        self.state = result.state
        self.log.append(result.record_bytes)
        self.results.append(result)
        return result

    def restart(self) -> ContractState:
        """A fresh process: recover the key from other members' shares, replay the log from the chain."""
        keyring = self.committee.keyring(members=(2, 4, 5))
        assert keyring.key_id() == self.keyring.key_id()
        return replay(self.contract_id, [decode_record(r) for r in self.log], keyring, registry=self.registry)

    def outputs(self) -> list[Output]:
        return [o for r in self.results for o in r.outputs]


@dataclass
class SourceChain:
    """Ethereum as seen by the enclaves: each call gets the next outbound nonce and a block number."""

    committee: EncryptionCommittee
    contract_id: bytes
    nonce: int = 0
    block: int = 100

    def payload(self, caller: bytes, data: bytes, contract_id: bytes | None = None) -> bytes:
        return encrypt_call(self.committee.public_key, contract_id or self.contract_id, caller, data)

    def call(
        self, caller: bytes, data: bytes, *, block: int | None = None, payload: bytes | None = None
    ) -> ConfidentialCall:
        self.nonce += 1
        if block is not None:
            self.block = block
        raw = payload if payload is not None else self.payload(caller, data)
        return confidential_call(message(caller, raw, self.nonce, self.block))


def address(i: int) -> bytes:
    return bytes([0xA0 + i]) * 20


def amount_encodings(amounts: Iterable[int]) -> list[bytes]:
    """Every way an amount could leak into bytes or text."""
    out: list[bytes] = []
    for a in amounts:
        out += [a.to_bytes(16, "big"), a.to_bytes(32, "big"), str(a).encode(), f"{a:x}".encode()]
    return out
