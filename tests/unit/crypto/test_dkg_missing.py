"""Pedersen DKG MISSING complaints: judged GJKR-style (a round-1 MISSING about a package the judge holds is
unfounded; a MISSING_SHARE is answered by the dealer publishing the share), all complaints judged together, so one
member (or a broker dropping envelopes) cannot exclude honest members, and the order of complaints does not matter."""

from __future__ import annotations

import pytest

from enclave_signer.dkg import Complaint, ComplaintKind, DkgOutput, DkgParticipant, Round2Share
from enclave_signer.frost import Ciphersuite

IDS = [1, 2, 3, 4, 5]


def _through_round2(
    suite: Ciphersuite,
    *,
    t: int = 3,
    drop: frozenset[tuple[int, int]] = frozenset(),
    bad: tuple[int, int] | None = None,
) -> tuple[dict[int, DkgParticipant], list[Complaint]]:
    """Members 1..5 run rounds 1 and 2; (dealer, recipient) pairs in `drop` are not delivered, `bad` is corrupted."""
    ms = {i: DkgParticipant(suite, i, IDS, t, b"missing") for i in IDS}
    pkgs = [m.round1() for m in ms.values()]
    complaints = [c for m in ms.values() for c in m.receive_round1(pkgs)]
    shares = [sh for m in ms.values() for sh in m.round2().values() if (sh.sender, sh.recipient) not in drop]
    shares = [
        Round2Share(sh.sender, sh.recipient, (sh.value + 1) % suite.group.order)
        if (sh.sender, sh.recipient) == bad
        else sh
        for sh in shares
    ]
    for m in ms.values():
        complaints += m.receive_round2([sh for sh in shares if sh.recipient == m.me])
    return ms, complaints


def _finish(
    ms: dict[int, DkgParticipant], complaints: list[Complaint], revealed: list[Round2Share] | None = None
) -> dict[int, DkgOutput]:
    if revealed is None:
        revealed = [sh for m in ms.values() for sh in m.justify(complaints)]
    for m in ms.values():
        m.resolve(complaints, revealed)
    return {i: m.finalize() for i, m in ms.items()}


def _agree(outs: dict[int, DkgOutput], qualified: tuple[int, ...]) -> None:
    first = next(iter(outs.values()))
    assert all(o.qualified == qualified for o in outs.values())
    assert all(o.group_public_key == first.group_public_key for o in outs.values())
    assert all(o.verifying_shares == first.verifying_shares for o in outs.values())


@pytest.mark.parametrize("accused", [(1, 2), (1, 2, 3)])
def test_a_false_round1_missing_complaint_excludes_nobody(suite: Ciphersuite, accused: tuple[int, ...]) -> None:
    ms, complaints = _through_round2(suite)
    assert complaints == []  # every package and share was delivered and valid
    lies = [Complaint(5, j, ComplaintKind.MISSING) for j in accused]  # member 5 lies
    _agree(_finish(ms, lies), (1, 2, 3, 4, 5))


@pytest.mark.parametrize("accused", [(1,), (1, 2), (1, 2, 3)])
def test_a_false_missing_share_complaint_is_answered_and_excludes_nobody(
    suite: Ciphersuite, accused: tuple[int, ...]
) -> None:
    ms, _ = _through_round2(suite)
    lies = [Complaint(5, j, ComplaintKind.MISSING_SHARE) for j in accused]
    revealed = [sh for m in ms.values() for sh in m.justify(lies)]
    assert sorted((sh.sender, sh.recipient) for sh in revealed) == [(j, 5) for j in accused]
    _agree(_finish(ms, lies, revealed), (1, 2, 3, 4, 5))


def test_a_dropped_share_is_recovered_from_the_dealers_justification(suite: Ciphersuite) -> None:
    # The broker drops dealers 1's and 2's envelopes to member 5: member 5's complaints are genuine, the dealers honest.
    ms, complaints = _through_round2(suite, drop=frozenset({(1, 5), (2, 5)}))
    assert sorted((c.accuser, c.accused, c.kind) for c in complaints) == [
        (5, 1, ComplaintKind.MISSING_SHARE),
        (5, 2, ComplaintKind.MISSING_SHARE),
    ]
    assert ms[5].excluded == set()  # nothing is excluded before the dealers could answer
    _agree(_finish(ms, complaints), (1, 2, 3, 4, 5))


def test_a_dealer_that_withholds_and_does_not_justify_is_excluded(suite: Ciphersuite) -> None:
    ms, complaints = _through_round2(suite, drop=frozenset({(2, 5)}))
    revealed = [sh for m in ms.values() if m.me != 2 for sh in m.justify(complaints)]  # dealer 2 stays silent
    outs = _finish({i: m for i, m in ms.items() if i != 2}, complaints, revealed)
    _agree(outs, (1, 3, 4, 5))
    assert all(o.excluded == (2,) for o in outs.values())


def test_an_invalid_justification_excludes_the_dealer(suite: Ciphersuite) -> None:
    ms, complaints = _through_round2(suite, drop=frozenset({(2, 5)}))
    revealed = [sh for m in ms.values() if m.me != 2 for sh in m.justify(complaints)]
    revealed.append(Round2Share(2, 5, 12345))  # not f_2(5)
    outs = _finish({i: m for i, m in ms.items() if i != 2}, complaints, revealed)
    _agree(outs, (1, 3, 4, 5))


def test_a_dealer_accused_by_t_members_is_excluded_without_revealing(suite: Ciphersuite) -> None:
    ms, complaints = _through_round2(suite, drop=frozenset({(1, 3), (1, 4), (1, 5)}))  # t = 3 accusers
    assert ms[1].justify(complaints) == []  # revealing t shares would reveal dealer 1's secret
    revealed = [sh for m in ms.values() for sh in m.justify(complaints)]
    outs = _finish({i: m for i, m in ms.items() if i != 1}, complaints, revealed)
    _agree(outs, (2, 3, 4, 5))


def test_a_cheating_dealer_cannot_preempt_its_victims_complaint(suite: Ciphersuite) -> None:
    # Dealer 1 sends member 3 a bad share, then accuses 3 first (MISSING) to pre-empt 3's evidence-backed complaint.
    ms, complaints = _through_round2(suite, bad=(1, 3))
    assert [(c.accuser, c.accused, c.kind) for c in complaints] == [(3, 1, ComplaintKind.BAD_SHARE)]
    for lie in (Complaint(1, 3, ComplaintKind.MISSING), Complaint(1, 3, ComplaintKind.MISSING_SHARE)):
        ms, complaints = _through_round2(suite, bad=(1, 3))
        honest = {i: m for i, m in ms.items() if i != 1}
        outs = _finish(honest, [lie, *complaints])
        _agree(outs, (2, 3, 4, 5))


def test_the_outcome_does_not_depend_on_the_order_of_complaints(suite: Ciphersuite) -> None:
    # A cheating dealer (1 -> 3 bad share), a dealer withholding (2 -> 4, no justification), a false BAD_POK by 5,
    # false MISSING / MISSING_SHARE complaints by 5 about 3: every order gives the same exclusions everywhere.
    results = set()
    base, genuine = _through_round2(suite, bad=(1, 3), drop=frozenset({(2, 4)}))
    lies = [
        Complaint(5, 3, ComplaintKind.MISSING),
        Complaint(5, 3, ComplaintKind.MISSING_SHARE),
        Complaint(5, 4, ComplaintKind.BAD_POK),
        Complaint(1, 3, ComplaintKind.MISSING),
    ]
    everything = [*genuine, *lies]
    revealed = [sh for m in base.values() if m.me != 2 for sh in m.justify(everything)]
    rotations = [everything[k:] + everything[:k] for k in range(len(everything))]
    for order in [*rotations, *(r[::-1] for r in rotations)]:
        for i in (3, 4):  # member 3 holds the evidence against 1, member 4 the complaint against 2
            results.add((i, _clone(base[i]).resolve(order, revealed)))
    assert results == {(3, (1, 2, 5)), (4, (1, 2, 5))}


def _clone(m: DkgParticipant) -> DkgParticipant:
    """A copy of a participant's state after round 2 (resolve mutates it)."""
    c = DkgParticipant.__new__(DkgParticipant)
    c.__dict__.update(m.__dict__)
    c.excluded, c.complaints, c._pending = set(m.excluded), list(m.complaints), list(m._pending)
    c._shares = dict(m._shares)
    return c
