"""The tracker's reading of a block's events, without a chain: blocks seen on the devnet (statemine 900, copied
verbatim) and blocks shaped like current runtimes' events (field names checked against Kusama Asset Hub's
metadata below). The live path is tests/devnet/test_xcm_outcomes.py."""

from __future__ import annotations

from collections.abc import Callable

from bridge.xcm import Asset, Location, XcmErrorKind, XcmVersion
from relayers.substrate.events import ChainEvent
from relayers.substrate.xcm_tracker import SentMessage, XcmStatus, outcomes_in_block
from tests.unit.xcm.metadata import Runtime

SOVEREIGN = "FBeL7EHfEn9WgzkkzPnME6JrxgEe3quKM4NBdcAMLwC7cXs"  # sibl(2035) in prefix 2
COLLECTOR = "F3opxRUwkBj1LqjZ7DyiHCRh9Z4zVPLaVjoxfD5ddbip8mt"
BENEFICIARY = "G4G2xJ13fdqYAsZqUPtAjELygLxJeuwV5k6osiwZXPsF2Xw"
ALICE = "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F"  # //Alice in prefix 2 (Kusama), as wallets show it
ALICE_PUBKEY = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
PARENT = {"parents": 1, "interior": "Here"}
SIBLING_2035 = {"parents": 1, "interior": {"X1": {"Parachain": 2035}}}


def ev(pallet: str, name: str, attributes: object, index: int | None = 1) -> ChainEvent:
    return ChainEvent(pallet, name, attributes, index)


# Devnet peer block 4: a version-discovery message answered (its own Success), then a message that withdrew from
# phala's sovereign account, failed BuyExecution with TooExpensive and trapped the rest.
TOO_EXPENSIVE_BLOCK = [
    ev("System", "ExtrinsicSuccess", {"dispatch_info": {"weight": 128420000}}, 0),
    ev("XcmpQueue", "XcmpMessageSent", "0xb95d8d9478342352d5da68c750303a88f402ec59686fc75a65be4ba6f387b64e"),
    ev("XcmpQueue", "Success", "0x0ceab3709204b8d79431fd9052c010e47778220c92b8f999e6ee60a2e262b178"),
    ev("Balances", "Withdraw", {"who": SOVEREIGN, "amount": 1000067954922}),
    ev(
        "PolkadotXcm",
        "AssetsTrapped",
        (
            "0x03f15155be67120ffd483871e634777b8cffc9a3f7baa2b53c7828de9c2b222c",
            SIBLING_2035,
            {"V1": [{"id": {"Concrete": PARENT}, "fun": {"Fungible": 1000067954921}}]},
        ),
    ),
    ev("XcmpQueue", "Fail", ("0x851e5dadf62fca036d2a972bfb453685903c0284d193cddc985764112c48b8f4", "TooExpensive")),
    ev("System", "ExtrinsicSuccess", {"dispatch_info": {"weight": 0}}),
]

# Devnet peer block 5: a claim delivered (deposit to the beneficiary and the fee to the collector).
CLAIM_BLOCK = [
    ev("XcmpQueue", "XcmpMessageSent", "0x0ceab3709204b8d79431fd9052c010e47778220c92b8f999e6ee60a2e262b178", None),
    ev("System", "ExtrinsicSuccess", {"dispatch_info": {"weight": 128420000}}, 0),
    ev("Balances", "Deposit", {"who": BENEFICIARY, "amount": 1000049288260}),
    ev("System", "NewAccount", {"account": BENEFICIARY}),
    ev("Balances", "Deposit", {"who": COLLECTOR, "amount": 10666664}),
    ev("XcmpQueue", "Success", "0x4e0d7aa1c7f2191b0e4ba49e4f36fe5da2411475e1cc1d4418089cf64c233a87"),
]


def test_outcomes_are_matched_by_hash_with_their_own_events() -> None:
    first, second = outcomes_in_block(TOO_EXPENSIVE_BLOCK, "0xblock", 4)
    assert first.succeeded and first.trapped == () and first.deposits == ()
    sent = SentMessage(bytes.fromhex("851e5dadf62fca036d2a972bfb453685903c0284d193cddc985764112c48b8f4"))
    assert sent.ids & second.ids and not sent.ids & first.ids
    assert second.status is XcmStatus.FAILED
    assert second.failure is not None and second.failure.kind is XcmErrorKind.TOO_EXPENSIVE
    (trap,) = second.trapped
    assert trap.origin == Location.sibling(2035)
    assert trap.assets == (Asset(Location.parent(), 1000067954921),)
    assert trap.hash.hex().startswith("03f15155")
    assert trap.local_account is None  # a sibling chain trapped them: it must send the claim itself
    assert [e.name for e in second.events] == ["Withdraw", "AssetsTrapped", "Fail"]


def test_deposits_are_read_as_public_keys() -> None:
    (outcome,) = outcomes_in_block(CLAIM_BLOCK, "0xblock", 5)
    assert outcome.succeeded
    assert [d.amount for d in outcome.deposits] == [1000049288260, 10666664]
    assert all(len(d.account) == 32 and d.asset is None for d in outcome.deposits)
    assert outcome.deposits[0].account != outcome.deposits[1].account

    block = [ev("Balances", "Deposit", {"who": ALICE, "amount": 5}), ev("Assets", "Issued", (1984, ALICE, 7))]
    (outcome,) = outcomes_in_block([*block, ev("XcmpQueue", "Success", "0x" + "00" * 32)], "0xblock", 1)
    assert outcome.deposited_to(ALICE_PUBKEY) == 12
    assert outcome.deposits[1].asset == 1984


def test_an_account_trap_is_claimable_by_a_signed_call() -> None:
    account = {"parents": 0, "interior": {"X1": [{"AccountId32": {"network": None, "id": "0x" + "07" * 32}}]}}
    assets = {"V4": [{"id": PARENT, "fun": {"Fungible": 9}}]}
    block = [ev("PolkadotXcm", "AssetsTrapped", {"hash": "0x" + "aa" * 32, "origin": account, "assets": assets})]
    block.append(
        ev(
            "MessageQueue",
            "Processed",
            {"id": "0x" + "bb" * 32, "origin": "Parent", "weight_used": {}, "success": True},
        )
    )
    (outcome,) = outcomes_in_block(block, "0xblock", 1)
    (trap,) = outcome.trapped
    assert trap.local_account == b"\x07" * 32
    call = trap.claim_call(Location.account32(b"\x08" * 32), XcmVersion.V4)
    assert (call.pallet, call.function) == ("PolkadotXcm", "claim_assets")
    assert call.params["assets"] == {"V4": [[{"id": {"parents": 1, "interior": "Here"}, "fun": {"Fungible": 9}}]]}
    assert "claim_assets" in trap.describe()


def test_message_queue_runtimes_report_the_topic_and_the_reason_apart() -> None:
    topic = "0x" + "cd" * 32
    block = [
        ev(
            "PolkadotXcm",
            "ProcessXcmError",
            {"origin": SIBLING_2035, "error": "UntrustedReserveLocation", "message_id": topic},
            None,
        ),
        ev(
            "MessageQueue",
            "Processed",
            {"id": topic, "origin": {"Sibling": 2035}, "weight_used": {}, "success": False},
            None,
        ),
        ev(
            "MessageQueue",
            "ProcessingFailed",
            {"id": "0x" + "ee" * 32, "origin": "Parent", "error": {"Overweight": {}}},
            None,
        ),
    ]
    first, second = outcomes_in_block(block, "0xblock", 1)
    assert SentMessage(b"\x00" * 32, bytes.fromhex(topic[2:])).ids & first.ids
    assert first.failure is not None and first.failure.kind is XcmErrorKind.UNTRUSTED_RESERVE_LOCATION
    assert second.failure is not None and second.failure.kind is XcmErrorKind.OVERWEIGHT


def test_downward_outcomes_of_every_era() -> None:
    block = [
        ev("DmpQueue", "ExecutedDownward", ("0x" + "01" * 32, {"Complete": 11000000000})),
        ev("DmpQueue", "ExecutedDownward", ("0x" + "02" * 32, {"Incomplete": (5, "FailedToTransactAsset")})),
        ev("DmpQueue", "ExecutedDownward", {"message_hash": "0x" + "03" * 32, "message_id": "0x" + "04" * 32,
            "outcome": {"Incomplete": {"used": {}, "error": {"index": 2, "error": {"Trap": 7}}}}}),
        ev("DmpQueue", "InvalidFormat", "0x" + "05" * 32),
    ]  # fmt: skip
    outcomes = outcomes_in_block(block, "0xblock", 1)
    assert [o.status for o in outcomes] == [XcmStatus.SUCCESS, *[XcmStatus.FAILED] * 3]
    assert [str(o.failure) for o in outcomes[1:]] == ["FailedToTransactAsset", "Trap(7)", "InvalidFormat"]
    assert outcomes[2].ids == {b"\x03" * 32, b"\x04" * 32}


def test_the_shapes_above_are_the_current_runtimes(load_runtime: Callable[[str], Runtime]) -> None:
    rt = load_runtime("asset-hub-kusama-1009003")
    fields = {
        (path.split("::")[0], v["name"]): [f["name"] for f in v["fields"]]
        for t in rt.types
        if (path := "::".join(t["type"]["path"])).endswith("pallet::Event") and "variant" in t["type"]["def"]
        for v in t["type"]["def"]["variant"]["variants"]
    }
    assert fields[("pallet_message_queue", "Processed")] == ["id", "origin", "weight_used", "success"]
    assert fields[("pallet_message_queue", "ProcessingFailed")] == ["id", "origin", "error"]
    assert fields[("pallet_xcm", "ProcessXcmError")] == ["origin", "error", "message_id"]
    assert fields[("pallet_xcm", "AssetsTrapped")] == ["hash", "origin", "assets"]
    assert fields[("pallet_assets", "Issued")] == ["asset_id", "owner", "amount"]
    assert fields[("pallet_balances", "Deposit")] == ["who", "amount"]


def test_every_executor_error_of_the_metadata_is_a_known_kind(load_runtime: Callable[[str], Runtime]) -> None:
    names = set()
    for runtime_name in ("polkadot-1002005", "polkadot-2000000"):
        for t in load_runtime(runtime_name).types:
            path = "::".join(t["type"]["path"])
            if path.startswith("xcm::v") and path.endswith("traits::Error"):
                names |= {v["name"] for v in t["type"]["def"]["variant"]["variants"]}
    assert len(names) > 40
    assert names <= {k.value for k in XcmErrorKind}


def test_a_trap_with_an_unmodelled_origin_does_not_hide_the_block() -> None:
    from structlog.testing import capture_logs

    odd_origin = {
        "parents": 1,
        "interior": {"X2": [{"Parachain": 2000}, {"GeneralKey": {"length": 1, "data": "0x" + "00" * 32}}]},
    }
    assets = {"V4": [{"id": PARENT, "fun": {"Fungible": 9}}]}
    theirs = {"hash": "0x" + "aa" * 32, "origin": odd_origin, "assets": assets}
    bad_assets = {"hash": "0x" + "ab" * 32, "origin": SIBLING_2035, "assets": {"V4": [{"id": PARENT, "fun": 5}]}}
    block = [
        ev("PolkadotXcm", "AssetsTrapped", theirs),
        ev("PolkadotXcm", "AssetsTrapped", bad_assets),
        ev("PolkadotXcm", "AssetsTrapped", {"hash": "0xzz", "origin": PARENT, "assets": assets}),
        ev(
            "MessageQueue",
            "Processed",
            {"id": "0x" + "bb" * 32, "origin": "Parent", "weight_used": {}, "success": False},
        ),
        ev("Balances", "Deposit", {"who": ALICE, "amount": 5}),
        ev(
            "MessageQueue",
            "Processed",
            {"id": "0x" + "cc" * 32, "origin": "Parent", "weight_used": {}, "success": True},
        ),
    ]
    with capture_logs() as logs:
        first, ours = outcomes_in_block(block, "0xblock", 7)
    assert ours.succeeded and ours.deposited_to(ALICE_PUBKEY) == 5  # the bridge's message is still tracked
    odd, unparsed_assets = first.trapped  # the unreadable third is dropped, its event kept
    assert odd.origin is None and odd.raw_origin == odd_origin and odd.assets == (Asset(Location.parent(), 9),)
    assert odd.local_account is None and "GeneralKey" in odd.describe()
    assert unparsed_assets.origin == Location.sibling(2035) and unparsed_assets.assets == ()
    assert len(first.events) == 4
    assert [(e["event"], e.get("part")) for e in logs] == [
        ("xcm_trap_unparsed", "origin"),
        ("xcm_trap_unparsed", "assets"),
        ("xcm_trap_unreadable", None),
    ]
    assert logs[0]["block"] == 7 and logs[0]["trap"] == "0x" + "aa" * 32 and "GeneralKey" in logs[0]["error"]
