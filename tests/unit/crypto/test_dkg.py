"""Pedersen DKG: honest runs, cheaters identified by typed complaints and excluded, the rest finish."""

from __future__ import annotations

import dataclasses
import itertools

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave_signer.dkg import Complaint, ComplaintKind, DkgParticipant, Round2Share, exchange, run_dkg
from enclave_signer.frost import (
    ED25519,
    Ciphersuite,
    DkgAbortedError,
    InvalidParametersError,
    secret_share_combine,
    sign_with_shares,
    verify,
)
from tests.unit.crypto.helpers import SUITES


def _members(suite: Ciphersuite, n: int, t: int, session: bytes = b"s1") -> list[DkgParticipant]:
    ids = list(range(1, n + 1))
    return [DkgParticipant(suite, i, ids, t, session) for i in ids]


def test_honest_dkg_any_t_sign(suite: Ciphersuite) -> None:
    outs = run_dkg(suite, 5, 3)
    pk = outs[0].group_public_key
    assert all(o.group_public_key == pk and o.verifying_shares == outs[0].verifying_shares for o in outs)
    assert all(o.excluded == () and o.qualified == (1, 2, 3, 4, 5) for o in outs)
    for subset in itertools.combinations(outs, 3):
        sig = sign_with_shares(suite, [o.key_share for o in subset], b"msg")
        assert verify(suite, pk, b"msg", sig)
    # the shares really are a 3-of-5 sharing of the key behind pk ...
    s = secret_share_combine(suite, [(o.key_share.identifier, o.key_share.secret) for o in outs[:3]], 3)
    assert suite.group.base_mult(s) == pk
    # ... and two shares are not enough
    s2 = secret_share_combine(suite, [(o.key_share.identifier, o.key_share.secret) for o in outs[:2]], 2)
    assert suite.group.base_mult(s2) != pk


def test_no_participant_holds_the_group_secret(suite: Ciphersuite) -> None:
    members = _members(suite, 4, 2)
    outs = exchange(members)
    s = secret_share_combine(suite, [(o.key_share.identifier, o.key_share.secret) for o in outs], 2)
    for m in members:
        state = vars(m)
        assert s not in [v for v in state.values() if isinstance(v, int)]
        assert s not in state["_coeffs"] and s not in state["_shares"].values()
        assert "redacted" in repr(m)


def test_ed25519_dkg_key_is_a_standard_ed25519_key() -> None:
    outs = run_dkg(ED25519, 4, 3)
    sig = sign_with_shares(ED25519, [o.key_share for o in outs[1:]], b"extrinsic")
    assert nacl.signing.VerifyKey(outs[0].group_public_key).verify(b"extrinsic", sig.to_bytes()) == b"extrinsic"


CHEATS = ["bad_pok", "short_commitment", "bad_share", "replayed_pok", "silent"]


def _cheat(members: list[DkgParticipant], cheater: int, how: str) -> None:
    """Make member `cheater` misbehave by wrapping its round methods (replacing a method on the instance is the
    point here, hence the method-assign ignores)."""
    m = members[cheater - 1]
    r1, r2 = m.round1, m.round2
    if how == "bad_pok":
        m.round1 = lambda: dataclasses.replace(r1(), proof_mu=(r1().proof_mu + 1) % m.suite.group.order)  # type: ignore[method-assign]
    elif how == "short_commitment":
        m.round1 = lambda: dataclasses.replace(r1(), commitment=r1().commitment[:-1])  # type: ignore[method-assign]
    elif how == "replayed_pok":  # a proof made for another session
        other = DkgParticipant(m.suite, cheater, m.participants, m.t, b"another session")
        m.round1 = other.round1  # type: ignore[method-assign]
    elif how == "silent":  # its own package never arrives
        m.round1 = lambda: dataclasses.replace(r1(), sender=10_000)  # type: ignore[method-assign]
    elif how == "bad_share":

        def bad_round2() -> dict[int, Round2Share]:
            out = r2()
            victim = min(out)
            out[victim] = dataclasses.replace(out[victim], value=(out[victim].value + 1) % m.suite.group.order)
            return out

        m.round2 = bad_round2  # type: ignore[method-assign]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SUITES)), st.integers(3, 6), st.data())
def test_cheater_is_identified_excluded_and_rest_finish(key: str, n: int, data: st.DataObject) -> None:
    suite = SUITES[key]
    t = data.draw(st.integers(2, n - 1))
    cheater = data.draw(st.integers(1, n))
    how = data.draw(st.sampled_from(CHEATS))
    members = _members(suite, n, t)
    _cheat(members, cheater, how)
    outs = exchange(members)
    honest = [o for o in outs if o.key_share.identifier != cheater]
    assert len(honest) == n - 1 and all(o.excluded == (cheater,) for o in honest)
    assert all(cheater not in o.qualified and cheater not in o.verifying_shares for o in honest)
    blamed = {c.accused for m in members if m.me != cheater for c in m.complaints}
    assert blamed == {cheater}
    pk = honest[0].group_public_key
    assert all(o.group_public_key == pk for o in honest)
    signers = data.draw(st.permutations(honest))[:t]
    assert verify(
        suite, pk, b"after exclusion", sign_with_shares(suite, [o.key_share for o in signers], b"after exclusion")
    )


def test_complaint_kinds_name_the_fault(suite: Ciphersuite) -> None:
    members = _members(suite, 4, 2)
    _cheat(members, 3, "bad_pok")
    pkgs = [m.round1() for m in members]
    complaints = members[0].receive_round1(pkgs)
    assert complaints == [Complaint(1, 3, ComplaintKind.BAD_POK)]
    assert "1 accuses 3" in str(complaints[0])


def test_bad_share_complaint_carries_checkable_evidence(suite: Ciphersuite) -> None:
    members = _members(suite, 3, 2)
    _cheat(members, 2, "bad_share")  # member 2 corrupts the share for member 1
    pkgs = [m.round1() for m in members]
    for m in members:
        m.receive_round1(pkgs)
    shares = [s for m in members for s in m.round2().values()]
    c = members[0].receive_round2([s for s in shares if s.recipient == 1])
    assert [(x.accuser, x.accused, x.kind) for x in c] == [(1, 2, ComplaintKind.BAD_SHARE)]
    assert c[0].evidence is not None and "evidence" not in repr(c[0])
    members[2].receive_round2([s for s in shares if s.recipient == 3])
    assert members[2].resolve(c) == (2,)  # member 3 checks the evidence itself and agrees


def test_false_accusation_excludes_the_accuser(suite: Ciphersuite) -> None:
    members = _members(suite, 4, 2)
    pkgs = [m.round1() for m in members]
    for m in members:
        m.receive_round1(pkgs)
    shares = [s for m in members for s in m.round2().values()]
    for m in members:
        m.receive_round2([s for s in shares if s.recipient == m.me])
    honest_share = next(s for s in shares if s.sender == 2 and s.recipient == 1)
    lie = Complaint(1, 2, ComplaintKind.BAD_SHARE, evidence=honest_share.value)  # the share is in fact fine
    lie_pok = Complaint(1, 3, ComplaintKind.BAD_POK)
    for m in members[1:]:
        assert m.resolve([lie, lie_pok]) == (1,)
    outs = [m.finalize() for m in members[1:]]
    assert all(o.qualified == (2, 3, 4) for o in outs)


def test_too_many_cheaters_abort(suite: Ciphersuite) -> None:
    members = _members(suite, 4, 3)
    _cheat(members, 1, "bad_pok")
    _cheat(members, 2, "bad_pok")
    with pytest.raises(DkgAbortedError):
        exchange(members)


def test_bad_parameters(suite: Ciphersuite) -> None:
    with pytest.raises(InvalidParametersError):
        DkgParticipant(suite, 9, [1, 2, 3], 2, b"s")
    with pytest.raises(InvalidParametersError):
        DkgParticipant(suite, 1, [1, 2, 3], 4, b"s")
    m = _members(suite, 3, 2)[0]
    m.receive_round1([])
    assert m.excluded == {2, 3}
    with pytest.raises(DkgAbortedError):
        m.finalize()
