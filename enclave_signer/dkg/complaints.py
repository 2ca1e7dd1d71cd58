"""Complaints: typed, attributable accusations raised during DKG and resharing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Complaint", "ComplaintKind"]


class ComplaintKind(enum.Enum):
    BAD_POK = "bad_pok"  # round-1 proof of knowledge of the constant term does not verify
    BAD_COMMITMENT = "bad_commitment"  # malformed commitment (length, invalid point) or, in resharing, C_0 != lambda*Y
    BAD_SHARE = "bad_share"  # a round-2 share fails VSS against the dealer's commitment
    MISSING = "missing"  # no package/share from that participant
    FALSE_ACCUSATION = "false_accusation"  # a complaint whose evidence checks out against the accused's commitment


@dataclass(frozen=True)
class Complaint:
    """`accuser` says `accused` misbehaved. For BAD_SHARE, `evidence` is the share received, so anyone holding the
    accused's public commitment can check the claim (the share of an excluded dealer is worthless to keep secret).
    In the committee protocol the share arrives inside a message signed by the dealer, which the complaint carries
    so a member cannot frame an honest dealer with a made-up share; this module checks the arithmetic."""

    accuser: int
    accused: int
    kind: ComplaintKind
    evidence: int | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.accuser} accuses {self.accused}: {self.kind.value}"
