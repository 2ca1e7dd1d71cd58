"""Live XCM outcomes on the devnet, reported by the tracker (relayers/substrate/xcm_tracker.py).

The route that delivers (docs/xcm.md): a relay `Transact(Superuser)` makes phala (2035) root-send an XCMP message to
the peer (1000), which runs it as phala's sovereign account. Four such messages go out in ONE phala block, so the
peer runs them in one block too and the tracker must tell them apart by hash: a delivery, a withdrawal the
sovereign account cannot cover (FailedToTransactAsset), a fee too small (TooExpensive, with the rest trapped) and
a program that never deposits (delivered, everything trapped). The trap is then claimed back the way the tracker
describes. A signed reserve transfer shows UntrustedReserveLocation. The devnet runtime (statemine 900) speaks V2
only: its own metadata and its decoder check our V2 encoding here.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bridge.devnet import DevnetState
from bridge.xcm import (
    AllAssets,
    Asset,
    BuyExecution,
    ClaimAsset,
    ClearOrigin,
    Definite,
    DepositAsset,
    InitiateTeleport,
    Location,
    VariantNames,
    Weight,
    WithdrawAsset,
    Xcm,
    XcmErrorKind,
    XcmVersion,
    XcmVersionError,
    pay_from_sovereign,
    sibling_sovereign_account,
    superuser_transact,
    versioned_assets,
    versioned_location,
    versioned_xcm,
)
from bridge.xcm import v2 as xcm_v2
from relayers.substrate import DownwardMessage, SubstrateClient, keypair_from_uri, new_block, relay_parent_number
from relayers.substrate.xcm_tracker import SentMessage, XcmOutcome, XcmOutcomeTimeout, XcmStatus, XcmTracker
from tests.unit.xcm.programs import as_decoded, lists

pytestmark = pytest.mark.devnet

UNIT = 10**12
XCM_TYPE = "xcm::VersionedXcm"
V2 = XcmVersion.V2
TRANSACT_WEIGHT = Weight(10**10)  # PolkadotXcm.send weighs ~1e8 here; the relay's Transact must allow it


@dataclass(frozen=True)
class Chains:
    phala: SubstrateClient
    peer: SubstrateClient
    phala_id: int
    peer_id: int
    names: VariantNames  # the devnet runtime's, from its metadata

    def root_send(self, *programs: Xcm) -> list[SentMessage]:
        """One phala block: one downward message per program, each making phala root-send it to the peer."""
        downward = []
        sent = []
        for program in programs:
            message = versioned_xcm(program, V2, self.names)
            dest = versioned_location(Location.sibling(self.peer_id), V2, self.names)
            call = self.phala.compose_call("PolkadotXcm", "send", {"dest": dest, "message": message})
            transact = superuser_transact(bytes(call.data.data), TRANSACT_WEIGHT)
            downward.append(self.phala.encode(XCM_TYPE, versioned_xcm(transact, V2, self.names)))
            sent.append(SentMessage.from_bytes(self.phala.encode(XCM_TYPE, message)))
        block = new_block(self.phala, dmp=[DownwardMessage(relay_parent_number(self.phala), m) for m in downward])
        # Each downward message ran on phala (the tracker reads DmpQueue outcomes too), and each program went out.
        number = self.phala.block_number(block)
        phala_outcomes = XcmTracker(self.phala).scan(number, number)
        relay_ids = {SentMessage.from_bytes(m).hash for m in downward}
        assert {i for o in phala_outcomes if o.succeeded for i in o.ids} >= relay_ids
        sent_hashes = {
            SentMessage.from_sent_event(e).hash
            for e in self.phala.events(block)
            if e.is_("XcmpQueue", "XcmpMessageSent")
        }
        assert {m.hash for m in sent} <= sent_hashes
        return sent


@pytest.fixture(scope="module")
def chains(devnet: DevnetState) -> Iterator[Chains]:
    # One after the other: constructing two SubstrateInterface objects at once raced (TOOLCHAIN.md).
    with SubstrateClient(devnet.phala.ws_url) as phala, SubstrateClient(devnet.peer.ws_url) as peer:
        names = VariantNames.from_type_registry(phala.interface.metadata.portable_registry.value["types"])
        yield Chains(phala, peer, devnet.phala.para_id, devnet.peer.para_id, names)


@dataclass(frozen=True)
class Batch:
    beneficiary: bytes
    amount: int
    delivered: XcmOutcome
    too_much: XcmOutcome
    too_expensive: XcmOutcome
    no_deposit: XcmOutcome


@pytest.fixture(scope="module")
def batch(chains: Chains) -> Batch:
    peer = chains.peer
    beneficiary = os.urandom(32)
    amount = UNIT + secrets.randbelow(10**9)  # distinct per run: equal messages would share a hash
    relay_token = Location.parent()
    programs = [
        pay_from_sovereign(Asset(relay_token, amount), Location.account32(beneficiary)),
        pay_from_sovereign(
            Asset(relay_token, peer.free_balance(sibling_sovereign_account(chains.phala_id)) + amount),
            Location.account32(beneficiary),
        ),
        Xcm.of(
            WithdrawAsset((Asset(relay_token, amount + 1),)),
            ClearOrigin(),
            BuyExecution(Asset(relay_token, 1), None),  # 1 planck cannot buy the weight
            DepositAsset(AllAssets(), Location.account32(beneficiary)),
        ),
        Xcm.of(
            WithdrawAsset((Asset(relay_token, amount + 2),)),
            ClearOrigin(),
            BuyExecution(Asset(relay_token, amount + 2)),
        ),
    ]
    tracker = XcmTracker(peer)
    after = tracker.finalized_number()

    sent = chains.root_send(*programs)
    outcomes = tracker.wait_all(sent, after_block=after, timeout=20)

    assert len({o.block_hash for o in outcomes.values()}) == 1  # all four ran in one peer block
    return Batch(beneficiary, amount, *(outcomes[m] for m in sent))


def test_a_delivery_reports_success_and_what_was_deposited(chains: Chains, batch: Batch) -> None:
    outcome = batch.delivered
    assert outcome.status is XcmStatus.SUCCESS and outcome.failure is None and outcome.trapped == ()
    credited = outcome.deposited_to(batch.beneficiary)
    assert 0 < batch.amount - credited < UNIT // 1000  # the rest paid for execution
    assert sum(d.amount for d in outcome.deposits) == batch.amount  # beneficiary + fee collector
    # The beneficiary was credited by this message only (the two that failed credited nothing).
    assert chains.peer.free_balance(batch.beneficiary) == credited


def test_a_withdrawal_the_sovereign_account_cannot_cover_fails(batch: Batch) -> None:
    outcome = batch.too_much
    assert outcome.status is XcmStatus.FAILED
    assert outcome.failure is not None and outcome.failure.kind is XcmErrorKind.FAILED_TO_TRANSACT_ASSET
    assert outcome.deposits == () and outcome.trapped == ()  # nothing was withdrawn, nothing is lost


def test_a_fee_too_small_fails_and_traps_the_rest(chains: Chains, batch: Batch) -> None:
    outcome = batch.too_expensive
    assert outcome.failure is not None and outcome.failure.kind is XcmErrorKind.TOO_EXPENSIVE
    (trap,) = outcome.trapped
    assert trap.origin == Location.sibling(chains.phala_id)
    # BuyExecution took its 1-planck fee out of holding before refusing it; the rest stayed and was trapped.
    assert trap.assets == (Asset(Location.parent(), batch.amount + 1 - 1),)


def test_assets_left_in_holding_are_reported_trapped_with_how_to_claim_them(chains: Chains, batch: Batch) -> None:
    outcome = batch.no_deposit
    assert outcome.status is XcmStatus.SUCCESS  # the program ran; it just never deposited
    (trap,) = outcome.trapped
    withdrawn = batch.amount + 2
    (fee,) = [d.amount for d in outcome.deposits]  # only the fee collector was paid
    assert trap.assets == (Asset(Location.parent(), withdrawn - fee),)
    assert trap.origin == Location.sibling(chains.phala_id)

    # What and where are exact: the trap hash is blake2-256(origin, versioned assets) in the runtime's types.
    peer = chains.peer
    key = peer.encode("xcm::v1::multilocation::MultiLocation", xcm_v2.location(trap.origin)) + peer.encode(
        "xcm::VersionedMultiAssets", versioned_assets(trap.assets, V2, chains.names)
    )
    assert hashlib.blake2b(key, digest_size=32).digest() == trap.hash
    assert peer.query("PolkadotXcm", "AssetTraps", ["0x" + trap.hash.hex()]) == 1

    # How to claim: a sibling trapped them, so no local account can sign claim_assets (which this runtime does not
    # even have); phala must send the claim program.
    assert trap.local_account is None
    assert "ClaimAsset" in trap.describe()
    beneficiary = os.urandom(32)
    call = trap.claim_call(Location.account32(beneficiary), XcmVersion.V3)
    assert (call.pallet, call.function) == ("PolkadotXcm", "claim_assets")
    pallet_calls = {c.name for c in peer.interface.metadata.get_metadata_pallet("PolkadotXcm").calls}
    assert "claim_assets" not in pallet_calls and "send" in pallet_calls


def test_trapped_assets_are_claimed_back_as_described(chains: Chains, batch: Batch) -> None:
    (trap,) = batch.no_deposit.trapped
    beneficiary = os.urandom(32)
    tracker = XcmTracker(chains.peer)
    after = tracker.finalized_number()

    (sent,) = chains.root_send(trap.claim_program(Location.account32(beneficiary)))
    outcome = tracker.wait(sent, after_block=after, timeout=15)

    assert outcome.succeeded, outcome.failure
    (claimed,) = trap.assets
    credited = outcome.deposited_to(beneficiary)
    assert 0 < claimed.amount - credited < UNIT // 1000
    assert chains.peer.free_balance(beneficiary) == credited
    assert chains.peer.query("PolkadotXcm", "AssetTraps", ["0x" + trap.hash.hex()]) == 0  # claimed once, gone


def test_a_signed_reserve_transfer_fails_with_untrusted_reserve(chains: Chains) -> None:
    phala = chains.phala
    tracker = XcmTracker(chains.peer)
    after = tracker.finalized_number()
    beneficiary = os.urandom(32)
    transfer = phala.compose_call(
        "PolkadotXcm",
        "limited_reserve_transfer_assets",
        {
            "dest": versioned_location(Location.sibling(chains.peer_id), V2, chains.names),
            "beneficiary": versioned_location(Location.account32(beneficiary), V2, chains.names),
            "assets": versioned_assets((Asset(Location.parent(), UNIT + secrets.randbelow(10**9)),), V2, chains.names),
            "fee_asset_item": 0,
            "weight_limit": "Unlimited",
        },
    )
    outcome = phala.submit(transfer, keypair_from_uri("//Alice", phala.ss58_format)).raise_for_failure()
    (sent_event,) = outcome.find("XcmpQueue", "XcmpMessageSent")  # the pallet built the message: take its hash

    result = tracker.wait(SentMessage.from_sent_event(sent_event), after_block=after, timeout=15)

    assert result.failure is not None and result.failure.kind is XcmErrorKind.UNTRUSTED_RESERVE_LOCATION
    assert result.deposited_to(beneficiary) == 0 and result.trapped == ()


def test_waiting_is_bounded_and_says_where_to_resume(chains: Chains) -> None:
    tracker = XcmTracker(chains.peer)
    after = tracker.finalized_number()
    with pytest.raises(XcmOutcomeTimeout) as timed_out:
        tracker.wait(SentMessage(os.urandom(32)), after_block=after, timeout=0.5)
    assert timed_out.value.scanned_to >= after


def test_the_devnet_runtime_speaks_v2_and_decodes_our_v2(chains: Chains) -> None:
    phala = chains.phala
    assert chains.names.versions() == {V2}
    assert chains.names.name("location", V2) == "V1"  # index 1, named after V1 here
    with pytest.raises(XcmVersionError, match="V3"):
        versioned_xcm(Xcm.of(ClearOrigin()), XcmVersion.V3, chains.names)

    program = Xcm.of(
        ClaimAsset((Asset(Location.parent(), 3),)),
        InitiateTeleport(Definite((Asset(Location.parent(), 1),)), Location.parent(), Xcm.of(ClearOrigin())),
    )
    value = versioned_xcm(program, V2, chains.names)
    encoded = phala.encode(XCM_TYPE, value)
    assert lists(phala.decode(XCM_TYPE, encoded)) == as_decoded(value)
    # 02 = VersionedXcm::V2, 08 = two instructions (compact 2), 18 = ClaimAsset (instruction index 24).
    assert encoded[:3] == bytes([0x02, 0x08, 0x18])

    # The runtime's own decoder accepts it (undecodable would be DmpQueue.InvalidFormat); running it as the relay
    # fails (nothing was trapped by the relay here), and the tracker reads that from DmpQueue's outcome.
    tracker = XcmTracker(phala)
    block = new_block(phala, dmp=[DownwardMessage(relay_parent_number(phala), encoded)])
    number = phala.block_number(block)
    (outcome,) = [o for o in tracker.scan(number, number) if SentMessage.from_bytes(encoded).ids & o.ids]
    assert outcome.failure is not None and outcome.failure.kind is XcmErrorKind.UNKNOWN_CLAIM
