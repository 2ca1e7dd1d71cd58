"""Complaints: typed, attributable accusations raised during DKG and resharing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Complaint", "ComplaintKind"]


class ComplaintKind(enum.Enum):
    BAD_POK = "bad_pok"  # round-1 proof of knowledge of the constant term does not verify
    BAD_COMMITMENT = "bad_commitment"  # malformed commitment (length, invalid point) or, in resharing, C_0 != lambda*Y
    BAD_SHARE = "bad_share"  # a round-2 share fails VSS against the dealer's commitment
    MISSING = "missing"  # no round-1 package from that participant (resharing: no dealing or share)
    MISSING_SHARE = "missing_share"  # DKG: no round-2 share from a qualified dealer; the dealer must justify
    FALSE_ACCUSATION = "false_accusation"  # a complaint whose evidence checks out against the accused's commitment


@dataclass(frozen=True)
class Complaint:
    """`accuser` says `accused` misbehaved. For BAD_SHARE, `evidence` is the share received, so anyone holding the
    accused's public commitment can check the claim (the share of an excluded dealer is worthless to keep secret).
    In the committee protocol the share arrives inside a message signed by the dealer, which the complaint carries
    so a member cannot frame an honest dealer with a made-up share; this module checks the arithmetic.

    MISSING_SHARE is answered by the accused dealer (GJKR justification): it publishes the share, signed, and
    everyone checks it against its commitment; a valid one clears the dealer, none or an invalid one excludes it.
    A round-1 MISSING is unfounded for a judge that holds the accused's package: it excludes nobody."""

    accuser: int
    accused: int
    kind: ComplaintKind
    evidence: int | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.accuser} accuses {self.accused}: {self.kind.value}"
