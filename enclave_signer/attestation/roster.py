"""The committee roster: member id -> identity key, and the only way in is a quote that verifies.

Envelope verification trusts exactly this mapping, so a key that was never attested can never speak for a member.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from enclave_signer.attestation.errors import AdmissionError
from enclave_signer.attestation.quote import Quote
from enclave_signer.attestation.verifier import QuoteVerifier
from enclave_signer.identity import ed25519_to_x25519_public
from enclave_signer.measurement import Measurement

__all__ = ["COMMITTEE_ID_PATTERN", "MAX_MEMBER_ID", "Member", "Roster", "check_committee_id", "check_member_id"]

_log = structlog.get_logger(__name__)

# Also an MQTT topic level: no '/', '+', '#'.
COMMITTEE_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_MEMBER_ID = 0xFFFF


def check_committee_id(committee_id: str) -> str:
    if not isinstance(committee_id, str) or not COMMITTEE_ID_PATTERN.fullmatch(committee_id):
        raise ValueError(f"bad committee id {committee_id!r}: 1-63 of [a-z0-9_-], starting alphanumeric")
    return committee_id


def check_member_id(member_id: int) -> int:
    if isinstance(member_id, bool) or not isinstance(member_id, int) or not 0 < member_id <= MAX_MEMBER_ID:
        raise ValueError(f"bad member id {member_id!r}: 1..{MAX_MEMBER_ID}")
    return member_id


@dataclass(frozen=True)
class Member:
    member_id: int
    identity_public_key: bytes
    x25519_public_key: bytes
    platform_id: str
    measurement: Measurement
    quote_digest: bytes


class Roster:
    def __init__(self, committee_id: str, epoch: int) -> None:
        self.committee_id = check_committee_id(committee_id)
        if not 0 <= epoch < 2**64:
            raise ValueError(f"bad epoch {epoch}")
        self.epoch = epoch
        self._members: dict[int, Member] = {}

    def admit(
        self, member_id: int, quote: Quote, verifier: QuoteVerifier, *, expected_nonce: bytes, now_ms: int | None = None
    ) -> Member:
        """Verify the quote (raises `QuoteRejectedError`) and add its identity key as `member_id`."""
        try:
            check_member_id(member_id)
        except ValueError as exc:
            raise AdmissionError(str(exc)) from None
        verified = verifier.verify(quote, expected_nonce=expected_nonce, now_ms=now_ms)
        existing = self._members.get(member_id)
        if existing is not None and existing.identity_public_key != verified.identity_public_key:
            raise AdmissionError(f"member {member_id} is already admitted with another identity key")
        for other in self._members.values():
            if other.member_id != member_id and other.identity_public_key == verified.identity_public_key:
                raise AdmissionError(f"identity key already belongs to member {other.member_id}")
        member = Member(
            member_id=member_id,
            identity_public_key=verified.identity_public_key,
            x25519_public_key=ed25519_to_x25519_public(verified.identity_public_key),
            platform_id=verified.platform_id,
            measurement=verified.measurement,
            quote_digest=verified.quote_digest,
        )
        self._members[member_id] = member
        _log.info(
            "member_admitted",
            committee_id=self.committee_id,
            epoch=self.epoch,
            member_id=member_id,
            identity_public_key=member.identity_public_key.hex(),
            quote_digest=member.quote_digest.hex(),
        )
        return member

    def remove(self, member_id: int) -> None:
        self._members.pop(member_id, None)

    def get(self, member_id: int) -> Member | None:
        return self._members.get(member_id)

    @property
    def member_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._members))

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._members

    def __iter__(self) -> Iterator[Member]:
        return iter([self._members[i] for i in sorted(self._members)])

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"Roster(committee_id={self.committee_id!r}, epoch={self.epoch}, members={list(self.member_ids)})"
