"""Resharing: move the same group key from a (t, n) committee to a new (t', n') one (Desmedt-Jajodia style
redistribution with Feldman VSS).

Each old member i of a signing set S (|S| >= t) deals w_i = lambda_i^S * s_i with a fresh degree t'-1 polynomial g_i
and commitment D_i = [g_i,k * G]. A new member j accepts dealer i only if D_i,0 == lambda_i^S * Y_i (the dealer
really reshares its own share, public check) and g_i(j) passes VSS against D_i; then s'_j = sum_i g_i(j). Since
sum_i lambda_i s_i = s, the new shares interpolate the same secret and sum_i D_i,0 = PK. The new polynomial is
independent of the old one, so old shares mixed with new ones interpolate garbage. Old members must erase their
shares afterwards (the enclave does; this module cannot). Because S fixes the Lagrange weights, a bad dealer cannot
just be dropped: finalize raises DkgComplaintError naming it and the caller reruns with another old set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from enclave_signer.dkg.complaints import Complaint, ComplaintKind
from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.errors import DkgComplaintError, FrostError, InvalidParametersError
from enclave_signer.frost.groups import RandomBytes
from enclave_signer.frost.keys import (
    KeyShare,
    check_identifiers,
    derive_interpolating_value,
    polynomial_evaluate,
    vss_commit,
    vss_evaluate,
)

__all__ = ["ReshareDealing", "ReshareRecipient", "ReshareShare", "deal_reshare"]


@dataclass(frozen=True)
class ReshareDealing:
    """Broadcast by old member `dealer`: commitment to its sub-sharing polynomial (t' elements)."""

    dealer: int
    commitment: tuple[bytes, ...]


@dataclass(frozen=True)
class ReshareShare:
    """g_dealer(recipient), secret: sent encrypted to the new member only."""

    dealer: int
    recipient: int
    value: int = field(repr=False)


def deal_reshare(
    suite: Ciphersuite,
    share: KeyShare,
    old_signers: Sequence[int],
    new_participants: Sequence[int],
    new_threshold: int,
    *,
    rng: RandomBytes | None = None,
) -> tuple[ReshareDealing, dict[int, ReshareShare]]:
    """Old member's side: sub-share lambda_i * s_i to the new committee."""
    new_ids = check_identifiers(suite, new_participants)
    if not 1 <= new_threshold <= len(new_ids):
        raise InvalidParametersError("new threshold out of range")
    if len(old_signers) < share.threshold:
        raise InvalidParametersError(f"need at least {share.threshold} old members, got {len(old_signers)}")
    g = suite.group
    w = derive_interpolating_value(suite, list(old_signers), share.identifier) * share.secret % g.order
    coeffs = [w, *(g.random_scalar(rng) for _ in range(new_threshold - 1))]
    dealing = ReshareDealing(share.identifier, tuple(g.serialize_element(c) for c in vss_commit(suite, coeffs)))
    shares = {j: ReshareShare(share.identifier, j, polynomial_evaluate(suite, j, coeffs)) for j in new_ids}
    return dealing, shares


class ReshareRecipient:
    """New member's side: verify every old dealer's dealing and share, then combine."""

    def __init__(
        self,
        suite: Ciphersuite,
        identifier: int,
        group_public_key: bytes,
        old_verifying_shares: Mapping[int, bytes],
        old_signers: Sequence[int],
        new_participants: Sequence[int],
        new_threshold: int,
    ) -> None:
        self.suite, self.me, self.t = suite, identifier, new_threshold
        self.group_public_key = suite.group.deserialize_element(group_public_key)
        self.old_signers = tuple(check_identifiers(suite, old_signers))
        self.new_participants = tuple(check_identifiers(suite, new_participants))
        if identifier not in self.new_participants or not 1 <= new_threshold <= len(self.new_participants):
            raise InvalidParametersError("identifier not in the new committee, or threshold out of range")
        if any(i not in old_verifying_shares for i in self.old_signers):
            raise InvalidParametersError("missing verification shares of old signers")
        self._old_y = {i: suite.group.deserialize_element(old_verifying_shares[i]) for i in self.old_signers}
        self._accepted: dict[int, tuple[ReshareDealing, int]] = {}
        self.complaints: list[Complaint] = []

    def __repr__(self) -> str:
        return f"ReshareRecipient(suite={self.suite.name!r}, identifier={self.me}, t={self.t}, secret=<redacted>)"

    def receive(self, dealings: Iterable[ReshareDealing], shares: Iterable[ReshareShare]) -> list[Complaint]:
        by_dealer = {d.dealer: d for d in dealings}
        mine = {s.dealer: s.value for s in shares if s.recipient == self.me}
        new: list[Complaint] = []
        for i in self.old_signers:
            if i not in by_dealer or i not in mine:
                new.append(Complaint(self.me, i, ComplaintKind.MISSING))
                continue
            kind = self._check(by_dealer[i], mine[i])
            if kind is None:
                self._accepted[i] = (by_dealer[i], mine[i])
            else:
                ev = mine[i] if kind is ComplaintKind.BAD_SHARE else None
                new.append(Complaint(self.me, i, kind, evidence=ev))
        self.complaints += new
        return new

    def _check(self, dealing: ReshareDealing, value: int) -> ComplaintKind | None:
        g, suite = self.suite.group, self.suite
        try:
            if len(dealing.commitment) != self.t:
                return ComplaintKind.BAD_COMMITMENT
            for c in dealing.commitment:
                g.deserialize_element(c)
        except FrostError:
            return ComplaintKind.BAD_COMMITMENT
        lam = derive_interpolating_value(suite, self.old_signers, dealing.dealer)
        if dealing.commitment[0] != g.mult(self._old_y[dealing.dealer], lam):
            return ComplaintKind.BAD_COMMITMENT  # not a sub-sharing of this dealer's own share
        if not 0 <= value < g.order or g.base_mult(value) != vss_evaluate(suite, dealing.commitment, self.me):
            return ComplaintKind.BAD_SHARE
        return None

    def finalize(self) -> tuple[KeyShare, dict[int, bytes]]:
        """Return the new KeyShare and the new verification shares Y'_l of the whole new committee."""
        if self.complaints:
            raise DkgComplaintError(
                "resharing dealers misbehaved; rerun with another set of old members", self.complaints
            )
        g, suite = self.suite.group, self.suite
        if set(self._accepted) != set(self.old_signers):
            raise InvalidParametersError("finalize before receiving every dealing")
        columns = zip(*(d.commitment for d, _ in self._accepted.values()), strict=True)
        summed = [g.sum(col) for col in columns]
        if summed[0] != self.group_public_key:  # pragma: no cover - implied by the per-dealer lambda*Y checks
            raise InvalidParametersError("reshared commitments do not add up to the group key")
        secret = sum(v for _, v in self._accepted.values()) % g.order
        verifying = {j: g.serialize_element(vss_evaluate(suite, summed, j)) for j in self.new_participants}
        pk = g.serialize_element(self.group_public_key)
        return KeyShare(self.me, secret, verifying[self.me], pk, self.t, suite.name), verifying
