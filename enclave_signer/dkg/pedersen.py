"""Pedersen DKG with proofs of knowledge (FROST paper KeyGen; RFC 9591 appendix C says any DKG may replace the
dealer), as a pure per-participant state machine. No party ever computes or holds the group secret.

    p = DkgParticipant(suite, me, participants, t, session_id)
    pkg = p.round1()                         # broadcast: VSS commitment + PoK of the constant term
    complaints = p.receive_round1(all_pkgs)  # bad PoK / malformed / missing -> complaint, dealer excluded
    shares = p.round2()                      # one secret share per other qualified member (transport encrypts)
    complaints += p.receive_round2(mine)     # bad share -> BAD_SHARE with the share as evidence; none -> MISSING_SHARE
    revealed = p.justify(everyone_s_complaints)   # the shares this dealer was accused of not sending, made public
    p.resolve(everyone_s_complaints, everyone_s_revealed)  # same broadcast -> same exclusions everywhere
    out = p.finalize()                       # own KeyShare, every Y_l, the group key

Complaints are judged GJKR-style, each against the state after round 1 and all exclusions applied together, so
the outcome does not depend on the order complaints arrive in. A round-1 MISSING (no package) excludes nobody when
the judge holds the package. A MISSING_SHARE is answered by the accused dealer publishing the share: a valid one
clears it (the accuser uses the revealed share), none or an invalid one excludes it. Publishing fewer than t shares
of one polynomial reveals nothing about its constant term; a dealer accused by t or more members is excluded
instead of revealing. A member's own round-2 complaints take effect only in `resolve`, like everyone else's.

A dealer excluded after round 2 has seen honest shares for its own index; as in GJKR that is within the model, since
it counts among the at most t-1 corrupted members. The remaining Pedersen-DKG key bias (a rushing dealer choosing, by
its own misbehaviour, whether it is disqualified) is accepted as in the FROST paper: keys are for signing and ECIES,
not for uniform-secret applications.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from enclave_signer.dkg.complaints import Complaint, ComplaintKind
from enclave_signer.dkg.pok import prove_knowledge, verify_knowledge
from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.errors import DkgAbortedError, FrostError, InvalidParametersError
from enclave_signer.frost.groups import RandomBytes
from enclave_signer.frost.keys import KeyShare, check_identifiers, polynomial_evaluate, vss_commit, vss_evaluate

__all__ = ["DkgOutput", "DkgParticipant", "Round1Package", "Round2Share"]


@dataclass(frozen=True)
class Round1Package:
    """Broadcast by `sender`: commitment [a_k * G] for k < t, and a PoK (R, mu) of a_0."""

    sender: int
    commitment: tuple[bytes, ...]
    proof_r: bytes
    proof_mu: int


@dataclass(frozen=True)
class Round2Share:
    """f_sender(recipient), secret: to be sent encrypted to the recipient only (or, as the justification of a
    MISSING_SHARE complaint, published by the dealer)."""

    sender: int
    recipient: int
    value: int = field(repr=False)


@dataclass(frozen=True)
class DkgOutput:
    key_share: KeyShare
    group_public_key: bytes
    verifying_shares: dict[int, bytes]  # Y_l for every qualified member l
    qualified: tuple[int, ...]
    excluded: tuple[int, ...]


class DkgParticipant:
    """One member's side of the ceremony; methods must be called in order: round1, receive_round1, round2,
    receive_round2, resolve (optional), finalize."""

    def __init__(
        self,
        suite: Ciphersuite,
        identifier: int,
        participants: Sequence[int],
        threshold: int,
        session_id: bytes,
        *,
        rng: RandomBytes | None = None,
    ) -> None:
        self.suite, self.me, self.t, self.session_id = suite, identifier, threshold, session_id
        self.participants = tuple(check_identifiers(suite, participants))
        if identifier not in self.participants or not 1 <= threshold <= len(self.participants):
            raise InvalidParametersError("identifier not in participants, or threshold out of range")
        g = suite.group
        self._coeffs = [g.random_scalar(rng) for _ in range(threshold)]
        while self._coeffs[0] == 0:  # pragma: no cover - probability 2^-252
            self._coeffs[0] = g.random_scalar(rng)
        self._rng = rng
        self._packages: dict[int, Round1Package] = {}
        self._shares: dict[int, int] = {}
        self.excluded: set[int] = set()
        self.complaints: list[Complaint] = []
        self._pending: list[Complaint] = []  # own round-2 complaints, judged in resolve like everyone else's
        self._resolved = False

    def __repr__(self) -> str:
        return f"DkgParticipant(suite={self.suite.name!r}, identifier={self.me}, t={self.t}, secret=<redacted>)"

    # -- round 1 -------------------------------------------------------------------------------------------------
    def round1(self) -> Round1Package:
        commitment = tuple(self.suite.group.serialize_element(c) for c in vss_commit(self.suite, self._coeffs))
        r, mu = prove_knowledge(self.suite, self.session_id, self.me, self._coeffs[0], self._rng)
        self._packages[self.me] = Round1Package(self.me, commitment, r, mu)  # to judge complaints against us
        return self._packages[self.me]

    def receive_round1(self, packages: Iterable[Round1Package]) -> list[Complaint]:
        """Check every other member's package; return (and remember) complaints; accused are excluded."""
        got: dict[int, Round1Package] = {}
        for pkg in packages:
            if pkg.sender in self.participants and pkg.sender != self.me and pkg.sender not in got:
                got[pkg.sender] = pkg
        new: list[Complaint] = []
        for j in self.participants:
            if j == self.me:
                continue
            kind = ComplaintKind.MISSING if j not in got else self._check_package(got[j])
            if kind is None:
                self._packages[j] = got[j]
            else:
                new.append(Complaint(self.me, j, kind))
        self._file(new)
        return new

    def _check_package(self, pkg: Round1Package) -> ComplaintKind | None:
        g = self.suite.group
        if len(pkg.commitment) != self.t:
            return ComplaintKind.BAD_COMMITMENT
        try:
            for c in pkg.commitment:
                g.deserialize_element(c)
            g.deserialize_element(pkg.proof_r)
        except FrostError:
            return ComplaintKind.BAD_COMMITMENT
        ok = verify_knowledge(self.suite, self.session_id, pkg.sender, pkg.commitment[0], pkg.proof_r, pkg.proof_mu)
        return None if ok else ComplaintKind.BAD_POK

    # -- round 2 -------------------------------------------------------------------------------------------------
    def round2(self) -> dict[int, Round2Share]:
        """Shares f_me(l) for every other member still qualified. Call after receive_round1."""
        return {
            j: Round2Share(self.me, j, polynomial_evaluate(self.suite, j, self._coeffs))
            for j in self._qualified()
            if j != self.me
        }

    def receive_round2(self, shares: Iterable[Round2Share]) -> list[Complaint]:
        got: dict[int, int] = {}
        for sh in shares:
            if sh.recipient == self.me and sh.sender not in got:
                got[sh.sender] = sh.value
        new: list[Complaint] = []
        for j in self._qualified():
            if j == self.me:
                continue
            if j not in got:
                new.append(Complaint(self.me, j, ComplaintKind.MISSING_SHARE))
            elif not self._share_ok(j, self.me, got[j]):
                new.append(Complaint(self.me, j, ComplaintKind.BAD_SHARE, evidence=got[j]))
            else:
                self._shares[j] = got[j]
        self.complaints += new
        self._pending += new  # not excluded yet: a MISSING_SHARE may be justified, and all are judged together
        return new

    def _share_ok(self, dealer: int, recipient: int, value: int) -> bool:
        if not 0 <= value < self.suite.group.order:
            return False
        commitment = self._packages[dealer].commitment
        return self.suite.group.base_mult(value) == vss_evaluate(self.suite, commitment, recipient)

    # -- complaints ----------------------------------------------------------------------------------------------
    def justify(self, complaints: Iterable[Complaint]) -> list[Round2Share]:
        """This dealer's answer to MISSING_SHARE complaints against it: the accusers' shares, to be published. None
        when t or more members accuse it (revealing t shares would reveal its secret; it is excluded instead)."""
        accusers = {
            c.accuser
            for c in complaints
            if c.kind is ComplaintKind.MISSING_SHARE
            and c.accused == self.me
            and c.accuser in self.participants
            and c.accuser != self.me
            and c.accuser not in self.excluded
        }
        if not self._coeffs or self.me in self.excluded or len(accusers) >= self.t:
            return []
        return [Round2Share(self.me, a, polynomial_evaluate(self.suite, a, self._coeffs)) for a in sorted(accusers)]

    def resolve(self, complaints: Iterable[Complaint], justifications: Iterable[Round2Share] = ()) -> tuple[int, ...]:
        """Judge everyone's broadcast complaints (and our own round-2 ones) with the dealers' justifications, then
        apply all exclusions at once. Each complaint is judged against the state after round 1, so the outcome does
        not depend on the order of `complaints`:

        - BAD_POK / BAD_COMMITMENT about a package we verified: a false accusation, the accuser is excluded;
        - BAD_SHARE: evidence failing VSS against the accused's commitment excludes the dealer, else the accuser;
        - MISSING (round 1) about a member whose package we hold: unfounded, nobody is excluded;
        - MISSING_SHARE: the dealer's published share, if valid, clears it (an accuser that is us takes the share);
          no valid justification, or t or more accusers, excludes the dealer.

        Complaints by or about members we excluded in round 1 are moot. Returns the identifiers excluded."""
        base = frozenset(self.excluded)
        own, self._pending = self._pending, []
        judged = [*own, *(c for c in complaints if c.accuser != self.me)]
        judged = [
            c
            for c in judged
            if c.accuser in self.participants
            and c.accused in self.participants
            and c.accuser != c.accused
            and c.accuser not in base
            and c.accused not in base
        ]
        revealed: dict[tuple[int, int], int] = {}
        for sh in justifications:
            key = (sh.sender, sh.recipient)
            if key in revealed or sh.sender in base or sh.sender not in self._packages:
                continue
            if sh.recipient in self.participants and self._share_ok(sh.sender, sh.recipient, sh.value):
                revealed[key] = sh.value  # VSS binds: at most one value per (dealer, recipient) passes
        accusers: dict[int, set[int]] = {}
        for c in judged:
            if c.kind is ComplaintKind.MISSING_SHARE:
                accusers.setdefault(c.accused, set()).add(c.accuser)
        upheld: list[Complaint] = []
        false: set[int] = set()
        cleared: dict[int, int] = {}
        for c in judged:
            verdict = self._judge(c, revealed, len(accusers.get(c.accused, ())))
            if verdict is True:
                upheld.append(c)
            elif verdict is False:
                false.add(c.accuser)
            elif c.kind is ComplaintKind.MISSING_SHARE and c.accuser == self.me:
                cleared[c.accused] = revealed[(c.accused, self.me)]
        self._resolved = True
        self._shares.update({d: v for d, v in cleared.items() if d not in self._shares})
        self.excluded.update(c.accused for c in upheld)
        self.complaints += [c for c in upheld if c.accuser != self.me]  # ours are listed since receive_round2
        self._file(Complaint(self.me, a, ComplaintKind.FALSE_ACCUSATION) for a in sorted(false))
        return tuple(sorted(self.excluded))

    def _judge(self, c: Complaint, revealed: dict[tuple[int, int], int], share_accusers: int) -> bool | None:
        """True: the accused misbehaved. False: the accuser lied. None: nobody is excluded for it."""
        if c.kind is ComplaintKind.MISSING:
            return None  # we hold the package (else the accused would be in our round-1 exclusions): unfounded
        if c.kind is ComplaintKind.MISSING_SHARE:
            if share_accusers >= self.t:
                return True  # more than t-1 shares would have to be revealed: the dealer goes instead
            if c.accused == self.me:
                return None  # our own justification (`justify`) answers it
            # justified: the dealer is cleared, and the accuser is not blamed (a broker may have dropped the share)
            return True if (c.accused, c.accuser) not in revealed else None
        if c.kind is ComplaintKind.BAD_SHARE:
            return c.evidence is not None and not self._share_ok(c.accused, c.accuser, c.evidence)
        # a PoK/commitment complaint about a package we verified: a false claim
        return False

    def _file(self, complaints: Iterable[Complaint]) -> None:
        for c in complaints:
            self.complaints.append(c)
            self.excluded.add(c.accused)

    def _qualified(self) -> list[int]:
        return [j for j in self.participants if j not in self.excluded]

    # -- finish --------------------------------------------------------------------------------------------------
    def finalize(self) -> DkgOutput:
        """Own share s = sum_j f_j(me), the summed commitment, every Y_l and the group key, over qualified dealers."""
        g, suite = self.suite.group, self.suite
        if not self._resolved:
            self.resolve(())  # our own round-2 complaints still count
        qualified = self._qualified()
        if self.me in self.excluded or len(qualified) < self.t:
            why = "; ".join(str(c) for c in self.complaints[:12])
            raise DkgAbortedError(
                f"{len(qualified)} qualified participants left, threshold {self.t}" + (f" ({why})" if why else "")
            )
        missing = [j for j in qualified if j != self.me and j not in self._shares]
        if missing:
            raise InvalidParametersError(f"finalize before receiving round-2 shares from {missing}")
        own = self._coeffs
        secret = (
            polynomial_evaluate(suite, self.me, own) + sum(self._shares[j] for j in qualified if j != self.me)
        ) % g.order
        commitments = [vss_commit(suite, own)] + [list(self._packages[j].commitment) for j in qualified if j != self.me]
        summed = [g.sum(column) for column in zip(*commitments, strict=True)]
        group_pk = g.serialize_element(summed[0])
        verifying = {j: g.serialize_element(vss_evaluate(suite, summed, j)) for j in qualified}
        if g.base_mult(secret) != verifying[self.me]:  # pragma: no cover - every share was checked already
            raise InvalidParametersError("own share does not match the summed commitment")
        self._coeffs = []  # drop the polynomial: only the share is kept
        share = KeyShare(self.me, secret, verifying[self.me], group_pk, self.t, suite.name)
        return DkgOutput(share, group_pk, verifying, tuple(qualified), tuple(sorted(self.excluded)))
