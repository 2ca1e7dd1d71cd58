"""Resharing: the group key survives a change of committee; old and new shares do not mix."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave_signer.dkg import (
    ComplaintKind,
    ReshareDealing,
    ReshareRecipient,
    ReshareShare,
    deal_reshare,
    run_dkg,
    run_reshare,
)
from enclave_signer.frost import (
    Ciphersuite,
    DkgComplaintError,
    InvalidParametersError,
    InvalidSignatureError,
    InvalidSignatureShareError,
    aggregate,
    commit,
    sign,
    sign_with_shares,
    trusted_dealer_keygen,
    verify,
)
from tests.unit.crypto.helpers import SUITES


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SUITES)), st.integers(2, 5), st.integers(1, 5), st.data())
def test_reshare_keeps_public_key_and_new_committee_signs(key: str, n: int, t2: int, data: st.DataObject) -> None:
    suite = SUITES[key]
    t = data.draw(st.integers(1, n))
    n2 = data.draw(st.integers(t2, 6))
    pk, shares = trusted_dealer_keygen(suite, n, t)
    old = data.draw(st.permutations(shares))[: data.draw(st.integers(t, n))]
    verifying = {s.identifier: s.public for s in shares}
    new_shares, new_verifying = run_reshare(suite, old, verifying, list(range(1, n2 + 1)), t2)
    assert all(s.group_public_key == pk and s.threshold == t2 for s in new_shares)
    assert {s.identifier: s.public for s in new_shares} == new_verifying
    signers = data.draw(st.permutations(new_shares))[:t2]
    assert verify(suite, pk, b"after reshare", sign_with_shares(suite, signers, b"after reshare"))


def test_old_and_new_shares_do_not_mix(suite: Ciphersuite) -> None:
    outs = run_dkg(suite, 5, 3)
    pk = outs[0].group_public_key
    old = [o.key_share for o in outs]
    new, new_verifying = run_reshare(suite, old[1:4], outs[0].verifying_shares, [1, 2, 3, 4, 5, 6, 7], 3)
    mixed = [old[0], new[1], new[2]]  # old member 1 with new members 2 and 3
    with pytest.raises(InvalidSignatureError):
        sign_with_shares(suite, mixed, b"m")
    # against the new committee's registered verification shares the stale share is pinned on member 1
    rounds = [commit(suite, s) for s in mixed]
    comms = [c for _, c in rounds]
    z = {s.identifier: sign(suite, s, nonces, b"m", comms) for s, (nonces, _) in zip(mixed, rounds, strict=True)}
    assert not verify(suite, pk, b"m", aggregate(suite, comms, b"m", pk, z))
    with pytest.raises(InvalidSignatureShareError) as exc:
        aggregate(suite, comms, b"m", pk, z, new_verifying)
    assert exc.value.identifiers == (1,)
    assert verify(suite, pk, b"m", sign_with_shares(suite, new[4:7], b"m"))


def _deliver(
    suite: Ciphersuite,
    pk: bytes,
    verifying: dict[int, bytes],
    old_ids: list[int],
    new_ids: list[int],
    t2: int,
    dealt: list[tuple[ReshareDealing, dict[int, ReshareShare]]],
) -> list[ReshareRecipient]:
    dealings = [d for d, _ in dealt]
    recipients = []
    for j in new_ids:
        r = ReshareRecipient(suite, j, pk, verifying, old_ids, new_ids, t2)
        r.receive(dealings, [s[j] for _, s in dealt])
        recipients.append(r)
    return recipients


def test_dealer_resharing_a_different_secret_is_named(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 5, 3)
    verifying = {s.identifier: s.public for s in shares}
    old_ids, new_ids = [1, 2, 3], [1, 2, 3, 4]
    dealt = [deal_reshare(suite, s, old_ids, new_ids, 2) for s in shares[:3]]
    forged = dataclasses.replace(shares[1], secret=(shares[1].secret + 1) % suite.group.order)
    dealt[1] = deal_reshare(suite, forged, old_ids, new_ids, 2)  # consistent VSS, wrong secret
    recipients = _deliver(suite, pk, verifying, old_ids, new_ids, 2, dealt)
    for r in recipients:
        assert [(c.accused, c.kind) for c in r.complaints] == [(2, ComplaintKind.BAD_COMMITMENT)]
        with pytest.raises(DkgComplaintError) as exc:
            r.finalize()
        assert exc.value.identifiers == (2,)
    # rerun without member 2
    new, _ = run_reshare(suite, [shares[0], shares[2], shares[3]], verifying, new_ids, 2)
    assert verify(suite, pk, b"x", sign_with_shares(suite, new[2:], b"x"))


def test_dealer_sending_a_bad_share_is_named_by_its_victim(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 3, 2)
    verifying = {s.identifier: s.public for s in shares}
    dealt = [deal_reshare(suite, s, [1, 3], [1, 2, 3], 2) for s in (shares[0], shares[2])]
    bad = dict(dealt[1][1])
    bad[2] = dataclasses.replace(bad[2], value=(bad[2].value + 5) % suite.group.order)
    dealt[1] = (dealt[1][0], bad)
    recipients = _deliver(suite, pk, verifying, [1, 3], [1, 2, 3], 2, dealt)
    assert recipients[0].complaints == [] and recipients[2].complaints == []
    assert [(c.accused, c.kind) for c in recipients[1].complaints] == [(3, ComplaintKind.BAD_SHARE)]
    recipients[0].finalize()  # unaffected members can finish, but the set must be rerun for member 2
    with pytest.raises(DkgComplaintError):
        recipients[1].finalize()


def test_reshare_parameter_checks(suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, 4, 3)
    with pytest.raises(InvalidParametersError):
        deal_reshare(suite, shares[0], [1, 2], [1, 2, 3], 2)  # fewer old members than the old threshold
    with pytest.raises(InvalidParametersError):
        deal_reshare(suite, shares[0], [1, 2, 3], [1, 2], 3)
    with pytest.raises(InvalidParametersError):
        ReshareRecipient(suite, 1, pk, {1: shares[0].public}, [1, 2, 3], [1, 2], 2)
