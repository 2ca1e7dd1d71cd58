"""Test helpers: a committee with simulated platforms, attested identities and a shared roster; a settable clock.

Shared by the unit tests and tests/devnet/test_committee_transport.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from enclave_signer.attestation import Roster, SimulatedPlatform, SimulatedQuoteVerifier, new_nonce
from enclave_signer.committee import EnvelopeSigner, EnvelopeVerifier, ReplayGuard
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import current_measurement

SESSION = bytes(range(32))


@dataclass
class FakeClock:
    now_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class WallClock(FakeClock):
    """The real clock, for tests against real processes."""

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass
class Committee:
    clock: FakeClock
    platforms: dict[int, SimulatedPlatform]
    identities: dict[int, IdentityKey]
    verifier: SimulatedQuoteVerifier
    roster: Roster

    def signer(self, member: int) -> EnvelopeSigner:
        return EnvelopeSigner(self.identities[member], self.roster, member, clock=self.clock)

    def receiver(self, member: int, *, open_sessions: tuple[bytes, ...] = (SESSION,)) -> EnvelopeVerifier:
        guard = ReplayGuard(clock=self.clock)
        for session in open_sessions:
            guard.open_session(session)
        return EnvelopeVerifier(self.identities[member], self.roster, member, guard)


def build_committee(
    n: int = 5, committee_id: str = "devnet", epoch: int = 1, clock: FakeClock | None = None
) -> Committee:
    clock = clock or FakeClock()
    platforms = {i: SimulatedPlatform.generate(f"node-{i}", clock=clock) for i in range(1, n + 1)}
    identities = {i: IdentityKey.generate() for i in platforms}
    verifier = SimulatedQuoteVerifier(
        trusted_roots={p.platform_id: p.root_public_key for p in platforms.values()},
        allowed_measurements=[current_measurement()],
        clock=clock,
    )
    roster = Roster(committee_id, epoch)
    for i, platform in platforms.items():
        nonce = new_nonce()
        quote = platform.quote(identity_public_key=identities[i].public_key, nonce=nonce)
        roster.admit(i, quote, verifier, expected_nonce=nonce)
    return Committee(clock, platforms, identities, verifier, roster)
