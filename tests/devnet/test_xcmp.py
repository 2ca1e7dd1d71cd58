"""Real XCMP between the two Chopsticks parachains: phala (2035) sends, the peer (1000) executes.

The route that delivers on this runtime (docs/xcm.md): a downward message from the relay carries a `Transact` with
origin `Superuser`, which calls `PolkadotXcm.send(sibling 1000, [WithdrawAsset, BuyExecution, DepositAsset])` as
root on phala. The peer runs that as phala's sovereign account: it withdraws the relay token from it, pays the fee
and credits the beneficiary. The outcome is matched to the message by hash: `XcmpQueue.XcmpMessageSent(hash)` on
phala, `XcmpQueue.Success(hash)` or `XcmpQueue.Fail(hash, error)` on the peer.

Each test uses a fresh beneficiary and a distinct amount, so its message (and hash) is its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from scalecodec.utils.ss58 import ss58_decode

from bridge.devnet import DevnetState
from bridge.devnet.accounts import sibling_sovereign_account as devnet_sibling_account
from bridge.xcm import (
    AccountKey20,
    AllAssets,
    AllOf,
    Asset,
    BuyExecution,
    ClearError,
    ClearOrigin,
    Definite,
    DepositAsset,
    DepositReserveAsset,
    DescendOrigin,
    GeneralIndex,
    InitiateReserveWithdraw,
    Location,
    NetworkId,
    OriginKind,
    PalletInstance,
    ReceiveTeleportedAsset,
    RefundSurplus,
    ReportError,
    ReserveAssetDeposited,
    SetAppendix,
    SetErrorHandler,
    Transact,
    TransferAsset,
    TransferReserveAsset,
    Trap,
    Weight,
    WithdrawAsset,
    Xcm,
    pay_from_sovereign,
    sibling_sovereign_account,
    superuser_transact,
    versioned_assets,
    versioned_location,
    versioned_xcm,
    xcm_message_hash,
)
from bridge.xcm.v2 import asset as v2_asset
from relayers.substrate import (
    ChainEvent,
    DownwardMessage,
    SubstrateClient,
    keypair_from_uri,
    new_block,
    relay_parent_number,
)

pytestmark = pytest.mark.devnet

UNIT = 10**12
XCM_TYPE = "xcm::VersionedXcm"
TRANSACT_WEIGHT = Weight(10**10)  # PolkadotXcm.send weighs ~1e8 here; the relay's Transact must allow it


@dataclass(frozen=True)
class Pair:
    phala: SubstrateClient
    peer: SubstrateClient
    phala_id: int
    peer_id: int


@pytest.fixture(scope="module")
def chains(devnet: DevnetState) -> Iterator[Pair]:
    # One after the other: constructing two SubstrateInterface objects at once raced (TOOLCHAIN.md).
    with SubstrateClient(devnet.phala.ws_url) as phala, SubstrateClient(devnet.peer.ws_url) as peer:
        yield Pair(phala, peer, devnet.phala.para_id, devnet.peer.para_id)


def pubkey(ss58_address: str) -> bytes:
    return bytes.fromhex(ss58_decode(ss58_address))


def message_hash(event: ChainEvent) -> bytes:
    # XcmpQueue events carry Option<H256>: the hash alone, or (hash, error) for Fail.
    raw = event.attributes[0] if isinstance(event.attributes, tuple) else event.attributes
    return bytes.fromhex(str(raw).removeprefix("0x"))


def send_as_root_via_relay(pair: Pair, program: Xcm) -> tuple[bytes, list[ChainEvent]]:
    """Put one downward message into a new phala block; return the sent message's bytes and that block's events."""
    phala = pair.phala
    message = phala.encode(XCM_TYPE, versioned_xcm(program))
    dest = versioned_location(Location.sibling(pair.peer_id))
    send = phala.compose_call("PolkadotXcm", "send", {"dest": dest, "message": versioned_xcm(program)})
    downward = phala.encode(XCM_TYPE, versioned_xcm(superuser_transact(bytes(send.data.data), TRANSACT_WEIGHT)))
    block = new_block(phala, dmp=[DownwardMessage(relay_parent_number(phala), downward)])
    events = phala.events(block)

    # The relay's message ran completely on phala, as root, and its id is the blake2-256 of its bytes.
    (executed,) = [e for e in events if e.is_("DmpQueue", "ExecutedDownward")]
    message_id, outcome = executed.attributes
    assert bytes.fromhex(message_id[2:]) == hashlib.blake2b(downward, digest_size=32).digest()
    assert "Complete" in outcome, outcome
    (sent,) = [e for e in events if e.is_("PolkadotXcm", "Sent")]
    origin, sent_to, sent_program = sent.attributes
    assert origin == {"parents": 0, "interior": "Here"}  # root
    assert sent_to == {"parents": 1, "interior": {"X1": {"Parachain": pair.peer_id}}}
    assert sent_program == phala.decode(XCM_TYPE, message)["V2"]  # our program went out unchanged
    return message, events


def test_sovereign_account_matches_the_devnet_funding() -> None:
    assert "0x" + sibling_sovereign_account(2035).hex() == devnet_sibling_account(2035)


def test_root_send_over_xcmp_credits_the_beneficiary_on_the_peer(chains: Pair) -> None:
    peer = chains.peer
    sovereign = sibling_sovereign_account(chains.phala_id)
    beneficiary = os.urandom(32)
    amount = UNIT + secrets.randbelow(10**9)  # distinct per run: identical messages would share a hash
    sovereign_before = peer.free_balance(sovereign)
    peer_head = peer.block_number()

    program = pay_from_sovereign(Asset(Location.parent(), amount), Location.account32(beneficiary))
    message, phala_events = send_as_root_via_relay(chains, program)

    # Correlation key: the hash phala reports for the message is blake2-256 of the bytes we built.
    sent_hashes = [message_hash(e) for e in phala_events if e.is_("XcmpQueue", "XcmpMessageSent")]
    expected = xcm_message_hash(message)
    assert expected in sent_hashes

    # No dev_newBlock on the peer: in Instant mode Chopsticks builds a peer block as soon as the message arrives.
    block, success = peer.wait_for_event(
        lambda e: e.is_("XcmpQueue", "Success") and message_hash(e) == expected, after_block=peer_head, timeout=15
    )
    peer_events = peer.events(block)
    withdrawn = [
        (pubkey(e.attributes["who"]), e.attributes["amount"]) for e in peer_events if e.is_("Balances", "Withdraw")
    ]
    assert withdrawn == [(sovereign, amount)]  # phala's sovereign account paid, nobody else
    credited = [
        e.attributes["amount"]
        for e in peer_events
        if e.is_("Balances", "Deposit") and pubkey(e.attributes["who"]) == beneficiary
    ]
    assert len(credited) == 1
    fee = amount - credited[0]
    assert 0 < fee < UNIT // 1000  # BuyExecution took the fee out of the withdrawn asset
    assert peer.free_balance(beneficiary) == credited[0]
    assert peer.free_balance(sovereign) == sovereign_before - amount
    # Inbound XCMP runs inside the unsigned set_validation_data inherent, not in any signed extrinsic: a watcher
    # must read all of a block's events to see outcomes.
    inherent = peer.interface.get_block(block)["extrinsics"][success.extrinsic_index].value["call"]
    assert (inherent["call_module"], inherent["call_function"]) == ("ParachainSystem", "set_validation_data")


def test_failing_message_is_reported_on_the_peer_under_the_same_hash(chains: Pair) -> None:
    peer = chains.peer
    sovereign = sibling_sovereign_account(chains.phala_id)
    beneficiary = os.urandom(32)
    too_much = peer.free_balance(sovereign) + 1 + secrets.randbelow(10**9)
    peer_head = peer.block_number()

    program = pay_from_sovereign(Asset(Location.parent(), too_much), Location.account32(beneficiary))
    message, phala_events = send_as_root_via_relay(chains, program)
    expected = xcm_message_hash(message)
    assert expected in [message_hash(e) for e in phala_events if e.is_("XcmpQueue", "XcmpMessageSent")]

    _, fail = peer.wait_for_event(
        lambda e: e.is_("XcmpQueue", "Fail") and message_hash(e) == expected, after_block=peer_head, timeout=15
    )
    assert fail.attributes[1] == "FailedToTransactAsset"  # WithdrawAsset: the sovereign account cannot pay
    assert peer.free_balance(beneficiary) == 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("send", "BadOrigin"),  # PolkadotXcm.send is root only on this runtime
        ("execute", "PolkadotXcm.Filtered"),  # the runtime's XcmExecuteFilter lets no signed execute through
    ],
)
def test_signed_xcm_calls_are_refused_on_phala(chains: Pair, call: str, error: str) -> None:
    phala = chains.phala
    alice = keypair_from_uri("//Alice", phala.ss58_format)
    program = versioned_xcm(pay_from_sovereign(Asset(Location.parent(), UNIT), Location.account32(os.urandom(32))))
    params = (
        {"dest": versioned_location(Location.sibling(chains.peer_id)), "message": program}
        if call == "send"
        else {"message": program, "max_weight": 10**10}
    )

    outcome = phala.submit(phala.compose_call("PolkadotXcm", call, params), alice)

    assert str(outcome.failure).startswith(error)
    assert outcome.find("XcmpQueue", "XcmpMessageSent") == []


def test_signed_reserve_transfer_arrives_as_untrusted_reserve(chains: Pair) -> None:
    """Why the gateway cannot use a plain reserve transfer here: the peer trusts only the relay as reserve of the
    relay token, so it refuses the deposit (and the sender's funds stay in the peer's sovereign account on phala)."""
    phala, peer = chains.phala, chains.peer
    alice = keypair_from_uri("//Alice", phala.ss58_format)
    beneficiary = os.urandom(32)
    amount = UNIT + secrets.randbelow(10**9)
    peer_sovereign_on_phala = sibling_sovereign_account(chains.peer_id)
    parked_before = phala.free_balance(peer_sovereign_on_phala)
    peer_head = peer.block_number()

    transfer = phala.compose_call(
        "PolkadotXcm",
        "limited_reserve_transfer_assets",
        {
            "dest": versioned_location(Location.sibling(chains.peer_id)),
            "beneficiary": versioned_location(Location.account32(beneficiary)),
            "assets": versioned_assets((Asset(Location.parent(), amount),)),
            "fee_asset_item": 0,
            "weight_limit": "Unlimited",
        },
    )
    outcome = phala.submit(transfer, alice).raise_for_failure()
    (sent,) = outcome.find("XcmpQueue", "XcmpMessageSent")  # the hash is the only handle on the outcome

    _, fail = peer.wait_for_event(
        lambda e: e.is_("XcmpQueue", "Fail") and message_hash(e) == message_hash(sent),
        after_block=peer_head,
        timeout=15,
    )
    assert fail.attributes[1] == "UntrustedReserveLocation"
    assert peer.free_balance(beneficiary) == 0
    assert phala.free_balance(peer_sovereign_on_phala) == parked_before + amount


LOCAL_ASSET = Location(0, (PalletInstance(50), GeneralIndex(1984)))  # an Assets-pallet asset, seen from here

EVERY_INSTRUCTION = Xcm.of(
    WithdrawAsset((Asset(Location.parent(), 5), Asset(LOCAL_ASSET, 7))),  # deliberately out of canonical order
    ReserveAssetDeposited((Asset(Location.parent(), 1),)),
    ReceiveTeleportedAsset((Asset(Location.parent(), 1),)),
    ClearOrigin(),
    DescendOrigin((PalletInstance(50),)),
    BuyExecution(Asset(Location.parent(), 1), Weight(10**9)),
    DepositAsset(AllOf(Location.parent()), Location(0, (AccountKey20(b"\x11" * 20, NetworkId.POLKADOT),)), 2),
    DepositReserveAsset(Definite((Asset(LOCAL_ASSET, 1),)), Location.sibling(1000), Xcm.of(ClearOrigin())),
    InitiateReserveWithdraw(AllAssets(), Location.parent(), Xcm.of(ClearOrigin())),
    TransferAsset((Asset(Location.parent(), 1),), Location.account32(b"\x22" * 32, NetworkId.KUSAMA)),
    TransferReserveAsset((Asset(Location.parent(), 1),), Location.sibling(2000), Xcm.of(RefundSurplus())),
    Transact(OriginKind.SOVEREIGN_ACCOUNT, b"\x00\x01", Weight(1)),
    RefundSurplus(),
    SetErrorHandler(Xcm.of(ClearError())),
    SetAppendix(Xcm.of(Trap(1))),
    ReportError(7, Location.parent(), Weight(5)),
    ClearError(),
    Trap(9),
)


def downward_events(phala: SubstrateClient, message: bytes) -> list[str]:
    block = new_block(phala, dmp=[DownwardMessage(relay_parent_number(phala), message)])
    return [e.name for e in phala.events(block) if e.pallet == "DmpQueue"]


def test_every_v2_builder_encodes_to_what_the_runtime_decodes(chains: Pair) -> None:
    phala = chains.phala
    encoded = phala.encode(XCM_TYPE, versioned_xcm(EVERY_INSTRUCTION))

    decoded = phala.decode(XCM_TYPE, encoded)["V2"]
    names = [i if isinstance(i, str) else next(iter(i)) for i in decoded]
    assert names == [type(i).__name__ for i in EVERY_INSTRUCTION]
    withdrawn = decoded[0]["WithdrawAsset"]
    assert [a["id"]["Concrete"]["parents"] for a in withdrawn] == [0, 1]  # sorted: the local asset first
    deposit = decoded[6]["DepositAsset"]
    assert deposit["beneficiary"]["interior"]["X1"]["AccountKey20"] == {"network": "Polkadot", "key": "0x" + "11" * 20}
    assert decoded[5]["BuyExecution"]["weight_limit"] == {"Limited": 10**9}

    # The runtime itself decodes it (a message it cannot decode is InvalidFormat, see below); executing it as the
    # relay merely fails (the relay's account on phala owns nothing), which is all right.
    assert downward_events(phala, encoded) == ["ExecutedDownward"]


def test_runtime_refuses_unsorted_assets_and_the_encoder_sorts_them(chains: Pair) -> None:
    phala = chains.phala
    parent_asset, local_asset = (v2_asset(Asset(loc, 1)) for loc in (Location.parent(), LOCAL_ASSET))
    unsorted = phala.encode(XCM_TYPE, {"V2": [[{"WithdrawAsset": [[parent_asset, local_asset]]}]]})
    assert downward_events(phala, unsorted) == ["InvalidFormat"]

    ours = versioned_xcm(Xcm.of(WithdrawAsset((Asset(Location.parent(), 1), Asset(LOCAL_ASSET, 1)))))
    assert downward_events(phala, phala.encode(XCM_TYPE, ours)) == ["ExecutedDownward"]
