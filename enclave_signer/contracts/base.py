"""What a confidential contract is: a deterministic handler over an event-sourced state.

A contract never touches a clock, randomness or I/O: everything it may depend on is in `CallContext` (the source
block number is its only notion of time) and in the state rebuilt from its own events. The runtime computes the
state after a call by applying the call's events (decoded from their encoding), exactly as a replay does, so
"execute then restart" and "replay" cannot disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from bridge.confidential import Output, Querier

__all__ = ["CallContext", "ConfidentialContract", "Effects", "contract_id_for", "replay_events"]

S = TypeVar("S")
E = TypeVar("E")
_ID_DOMAIN = b"phala-bridge/confidential-contract/v1\x00"


@dataclass(frozen=True)
class CallContext:
    """The public facts of the call being handled (all re-read from the source chain by every enclave)."""

    contract_id: bytes
    call_id: bytes  # the source message id
    source_domain: int
    source_nonce: int  # in chain order per source domain: "earlier" means a lower nonce
    caller: bytes  # authenticated: the ciphertext's associated data binds it
    block_number: int  # the source block


@dataclass(frozen=True)
class Effects(Generic[E]):
    """A handler's result: the state changes (events, sealed before they leave the enclave) and the outputs
    (public: Ethereum reply calls, Phala payouts)."""

    events: tuple[E, ...] = ()
    outputs: tuple[Output, ...] = field(default=())


class ConfidentialContract(Protocol[S, E]):
    @property
    def contract_id(self) -> bytes: ...

    @property
    def name(self) -> str: ...

    def initial_state(self) -> S: ...

    def handle(self, state: S, ctx: CallContext, data: bytes) -> Effects[E]:
        """Decide; raise `ContractRefusal` to refuse (no state change). Must not mutate `state`."""
        ...

    def apply(self, state: S, event: E) -> S:
        """The event-sourcing fold: a new state, `state` untouched."""
        ...

    def encode_event(self, event: E) -> bytes:
        """Fixed-width fields for anything secret: an event's length is visible."""
        ...

    def decode_event(self, data: bytes) -> E: ...

    def query(self, state: S, querier: Querier, body: bytes) -> bytes:
        """Answer a read for an authenticated querier; raise `ContractRefusal` when its policy says no."""
        ...


def replay_events(contract: ConfidentialContract[S, E], events: Iterable[E]) -> S:
    """`replay(events) -> state` of a contract: its initial state folded with `apply`."""
    state = contract.initial_state()
    for event in events:
        state = contract.apply(state, event)
    return state


def contract_id_for(name: str, params: bytes = b"") -> bytes:
    """A contract id: SHA-256 over the contract's name and its deployment parameters (e.g. a settlement address)."""
    raw = name.encode("utf-8")
    return hashlib.sha256(_ID_DOMAIN + len(raw).to_bytes(2, "big") + raw + params).digest()
