"""Independent verification: what a member's enclave checks before it contributes to a signature or a decryption.

`BatchVerifier` is the port. The real verifiers re-read every message from the member's own chain endpoints (the
event exists at the required finality, every field equal; the Phala extrinsic payload or the Ethereum batch digest
rebuilt byte for byte) and are wired by the application edge. Here: the protocol, the policy-only default, and a
devnet stand-in whose "chain" is a file of finalized message ids. A refusal carries a short `code` (a metric label)
and a `reason` (free text for the leader's log); neither ever carries key material.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from bridge.messages import BridgeMessage
from bridge.policy import BridgePolicy, PolicyRefusal
from bridge.ports import SigningRequest, VerificationRefused

__all__ = [
    "AllowAllDecryptions",
    "BatchVerifier",
    "ChainFollower",
    "DecryptionVerifier",
    "DenyAllDecryptions",
    "PolicyVerifier",
    "SigningRefusal",
    "StaticChainVerifier",
]


# This member will not contribute: `code` is a stable label ([a-z0-9_]), `reason` a sentence. One type for every
# refusal, the chain adapters' own included (they subclass it), so verifiers need no translation between them.
SigningRefusal = VerificationRefused


@runtime_checkable
class BatchVerifier(Protocol):
    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        """Return if this member agrees to sign `request.payload` for `messages`; raise `SigningRefusal` if not."""
        ...


@runtime_checkable
class ChainFollower(Protocol):
    async def follow(self) -> None:
        """Run until cancelled: keep this member's own view of the chains current in the background, so that a
        signing session finds the blocks it needs already read instead of reading them while the leader waits."""
        ...


@runtime_checkable
class DecryptionVerifier(Protocol):
    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        """Return if this member agrees to give the requester a decryption share; raise `SigningRefusal` if not."""
        ...


class PolicyVerifier:
    """The checks that need no chain: the request and its messages agree (ids, destination, no duplicates), and, when
    given a `BridgePolicy`, every message is one the bridge carries. Not sufficient on its own in production: it does
    not prove the messages happened (that is the chain verifiers' job)."""

    def __init__(self, policy: BridgePolicy | None = None) -> None:
        self._policy = policy

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        check_consistency(request, messages)
        if self._policy is not None:
            for m in messages:
                try:
                    self._policy.check(m)
                except PolicyRefusal as exc:
                    raise SigningRefusal("policy", f"message {m.id_hex}: {exc}") from None


class StaticChainVerifier(PolicyVerifier):
    """Devnet and tests: the "chain" is a JSON file listing the message ids (hex) that are final on the source chain.
    The file is re-read on every check, so a test can change what the chain says. A message not listed is absent."""

    def __init__(self, path: Path, policy: BridgePolicy | None = None) -> None:
        super().__init__(policy)
        self._path = path

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        await super().check(request, messages)
        try:
            known = {str(x).lower() for x in json.loads(self._path.read_text())}
        except (OSError, ValueError) as exc:
            raise SigningRefusal("chain_unavailable", f"cannot read the chain view: {type(exc).__name__}") from None
        for m in messages:
            if m.id_hex.lower() not in known:
                raise SigningRefusal("absent", f"message {m.id_hex} is absent from the source chain")


class DenyAllDecryptions:
    """The default until confidential calls define what a member may decrypt for whom."""

    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        raise SigningRefusal("decryption_disabled", "threshold decryption is not enabled on this member")


class AllowAllDecryptions:
    """Tests and drills only."""

    async def check_decryption(self, ciphertext: bytes, requester_public_key: bytes) -> None:
        return None


def check_consistency(request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
    if not messages:
        raise SigningRefusal("empty", "a batch without messages")
    ids = [m.id_hex for m in messages]
    if len(set(ids)) != len(ids):
        raise SigningRefusal("duplicate", "the batch carries a message twice")
    if tuple(i.lower() for i in request.message_ids) != tuple(i.lower() for i in ids):
        raise SigningRefusal("mismatch", "the request's message ids are not the batch's messages")
    wrong = [m.id_hex for m in messages if m.dest_domain != request.destination]
    if wrong:
        raise SigningRefusal("mismatch", f"message {wrong[0]} is not for destination {request.destination}")
