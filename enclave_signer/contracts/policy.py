"""What a member decrypts for whom, for confidential contracts: a `DecryptionVerifier` for the tdec session.

A decryption share lets its requester finish a decryption, so shares go only to enclaves of this committee: the
requester key must be the X25519 form of an admitted member's identity key (the wiring makes each enclave request
with exactly that key, whose private half never leaves it). Within that, two kinds of ciphertext are served:

- the state-key request (`state_key_request()`), which every enclave asks for once on start;
- a confidential call's ciphertext, when `known_call(ciphertext)` says it is the payload of a final confidential-call
  message on its source chain (the member's own chain view; without that port, calls are refused).

Anything else is refused with a code: `not_an_enclave`, `unknown_ciphertext`, `chain_unavailable`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from enclave_signer.committee.verification import SigningRefusal
from enclave_signer.contracts.state_key import STATE_KEY_VERSION, state_key_request
from enclave_signer.identity import InvalidIdentityKeyError, ed25519_to_x25519_public

__all__ = ["ConfidentialDecryptionPolicy"]

KnownCall = Callable[[bytes], Awaitable[bool]]


class ConfidentialDecryptionPolicy:
    def __init__(
        self,
        member_identity_keys: Callable[[], Iterable[bytes]],
        known_call: KnownCall | None = None,
        state_key_versions: Iterable[int] = (STATE_KEY_VERSION,),
    ) -> None:
        self._members = member_identity_keys
        self._known_call = known_call
        self._state_requests = {state_key_request(v).to_bytes() for v in state_key_versions}

    def _enclave_keys(self) -> set[bytes]:
        out = set()
        for key in self._members():
            try:
                out.add(ed25519_to_x25519_public(key))
            except InvalidIdentityKeyError:
                continue
        return out

    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        if requester_public_key not in self._enclave_keys():
            raise SigningRefusal("not_an_enclave", "decryption shares go only to enclaves of this committee")
        if ciphertext in self._state_requests:
            return
        if self._known_call is None:
            raise SigningRefusal("unknown_ciphertext", "this member has no chain view of confidential calls")
        try:
            known = await self._known_call(ciphertext)
        except (OSError, TimeoutError) as exc:
            raise SigningRefusal("chain_unavailable", f"cannot check the call: {type(exc).__name__}") from None
        if not known:
            raise SigningRefusal("unknown_ciphertext", "not the ciphertext of a final confidential call")
