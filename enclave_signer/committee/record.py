"""Assemble the committee record (what the operator records on chain) from a ceremony's agreed outcome and the
identities this enclave attested."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bridge.enclave_api import CommitteeRecord, GroupKeyName, GroupKeys, RecordMember
from enclave_signer.committee.admission import Directory

__all__ = ["build_record"]


def build_record(
    *,
    committee_id: str,
    epoch: int,
    threshold: int,
    members: Iterable[int],
    directory: Directory,
    group_keys: GroupKeys,
    verifying_shares: Mapping[GroupKeyName, Mapping[int, bytes]],
    excluded: Iterable[int] = (),
) -> CommitteeRecord:
    """Raises KeyError when a member is not attested here (a ceremony only runs among attested members)."""
    entries = []
    for member_id in sorted(set(members)):
        m = directory.get(member_id)
        if m is None:
            raise KeyError(f"member {member_id} is not attested by this enclave")
        entries.append(
            RecordMember(
                member_id=member_id,
                identity_public_key=m.identity_public_key,
                quote_digest=m.quote_digest,
                platform_id=m.platform_id,
                measurement=m.measurement.value,
            )
        )
    return CommitteeRecord(
        committee_id=committee_id,
        epoch=epoch,
        threshold=threshold,
        members=tuple(entries),
        group_keys=group_keys,
        verifying_shares={name: dict(shares) for name, shares in verifying_shares.items()},
        excluded=tuple(sorted(set(excluded))),
    )
