"""Run a whole DKG in one process (tests, devnet bootstrap, drills). The committee protocol runs the same state
machines over its transport instead; this module is the reference for the order of messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from enclave_signer.dkg.pedersen import DkgOutput, DkgParticipant
from enclave_signer.dkg.resharing import ReshareRecipient, deal_reshare
from enclave_signer.frost.ciphersuites import Ciphersuite
from enclave_signer.frost.errors import DkgAbortedError
from enclave_signer.frost.groups import RandomBytes
from enclave_signer.frost.keys import KeyShare

__all__ = ["exchange", "run_dkg", "run_reshare"]


def exchange(members: Sequence[DkgParticipant]) -> list[DkgOutput]:
    """Broadcast round 1, deliver round-2 shares, broadcast complaints and the dealers' justifications, resolve,
    finalize. Returns the outputs
    of the members that finished (a cheater's own view may make it abort); raises if none did."""
    packages = [m.round1() for m in members]
    complaints = [c for m in members for c in m.receive_round1(packages)]
    outbox = [sh for m in members if m.me not in m.excluded for sh in m.round2().values()]
    for m in members:
        complaints += m.receive_round2([sh for sh in outbox if sh.recipient == m.me])
    revealed = [sh for m in members for sh in m.justify(complaints)]  # dealers answer MISSING_SHARE complaints
    for m in members:
        m.resolve(complaints, revealed)
    outputs, aborted = [], []
    for m in members:
        try:
            outputs.append(m.finalize())
        except DkgAbortedError as exc:  # a member excluded by everyone else (a cheater) cannot finish
            aborted.append(exc)
    if not outputs:
        raise aborted[0]
    return outputs


def run_dkg(
    suite: Ciphersuite, n: int, t: int, *, session_id: bytes = b"dkg", rng: RandomBytes | None = None
) -> list[DkgOutput]:
    """DKG among members 1..n with threshold t, all honest; returns each member's output, ordered by id."""
    ids = list(range(1, n + 1))
    return exchange([DkgParticipant(suite, i, ids, t, session_id, rng=rng) for i in ids])


def run_reshare(
    suite: Ciphersuite,
    old_shares: Sequence[KeyShare],
    old_verifying_shares: Mapping[int, bytes],
    new_participants: Sequence[int],
    new_threshold: int,
    *,
    rng: RandomBytes | None = None,
) -> tuple[list[KeyShare], dict[int, bytes]]:
    """Reshare from `old_shares` (at least the old threshold) to a new committee; returns new shares and the new
    verification shares. Raises DkgComplaintError (naming dealers) if any dealing is bad."""
    old_ids = [s.identifier for s in old_shares]
    group_pk = old_shares[0].group_public_key
    dealt = [deal_reshare(suite, s, old_ids, new_participants, new_threshold, rng=rng) for s in old_shares]
    dealings = [d for d, _ in dealt]
    out: list[KeyShare] = []
    verifying: dict[int, bytes] = {}
    for j in new_participants:
        r = ReshareRecipient(suite, j, group_pk, old_verifying_shares, old_ids, new_participants, new_threshold)
        r.receive(dealings, [shares[j] for _, shares in dealt])
        share, verifying = r.finalize()
        out.append(share)
    return out, verifying
