"""Our encoders against real metadata (Polkadot relay spec 1002005 and 2000000, Kusama Asset Hub spec 1009003):
every value is encoded to SCALE with the runtime's own type registry, decoded back and compared; small messages
are also compared with byte strings checked by hand (explained inline). V2 on the devnet's runtime is checked live
in tests/devnet/test_xcm_outcomes.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.xcm import (
    DEFAULT_NAMES,
    AccountId32,
    AccountKey20,
    Asset,
    EthereumNetwork,
    GeneralIndex,
    GlobalConsensus,
    Location,
    NetworkId,
    OriginKind,
    PalletInstance,
    Parachain,
    PayFees,
    SetAssetClaimer,
    SetTopic,
    Transact,
    Weight,
    Xcm,
    XcmEncodeError,
    XcmVersion,
    XcmVersionError,
    assets_from_value,
    pay_from_sovereign,
    versioned_assets,
    versioned_location,
    versioned_xcm,
    with_topic,
)
from bridge.xcm.versioned import encoder
from tests.unit.xcm import metadata
from tests.unit.xcm.metadata import PAIR_IDS, PAIRS, V2, V3, V4, V5, Runtime
from tests.unit.xcm.programs import CALL, EVERY_INSTRUCTION, as_decoded, lists, metadata_name

Load = Callable[[str], Runtime]
XCM = "xcm::VersionedXcm"
LOCATION = "xcm::VersionedLocation"
ASSETS = "xcm::VersionedAssets"


def test_declared_support_matches_the_metadata(load_runtime: Load) -> None:
    for name, (_, versions) in metadata.RUNTIMES.items():
        assert load_runtime(name).versions() == frozenset(versions), name


def test_variant_names_come_from_the_metadata(load_runtime: Load) -> None:
    old, new = load_runtime("polkadot-1002005"), load_runtime("polkadot-2000000")
    # The V2-era location variant has index 1 everywhere; the devnet calls it "V1", Polkadot "V2".
    assert old.names.name("location", V2) == "V2" != DEFAULT_NAMES.name("location", V2) == "V1"
    assert old.names.version_of("location", "V2") == V2
    with pytest.raises(XcmVersionError) as refused:  # spec 2000000 dropped V2
        versioned_location(Location.parent(), V2, new.names)
    assert refused.value.version == 2 and "V3, V4, V5" in str(refused.value)
    with pytest.raises(XcmVersionError, match="V5"):  # spec 1002005 predates V5
        versioned_xcm(pay_from_sovereign(Asset(Location.parent(), 1), Location.parent()), V5, old.names)


@pytest.mark.parametrize(("runtime_name", "version"), PAIRS, ids=PAIR_IDS)
def test_an_instruction_is_refused_exactly_when_the_metadata_lacks_it(
    load_runtime: Load, runtime_name: str, version: XcmVersion
) -> None:
    in_metadata = load_runtime(runtime_name).instruction_names(version)
    for instruction in EVERY_INSTRUCTION:
        name = metadata_name(instruction)
        try:
            encoder(version).xcm(Xcm.of(instruction))
        except XcmVersionError as exc:
            assert exc.version == int(version)
            assert name not in in_metadata, f"V{int(version)} refused {name}, which the metadata has"
        else:
            assert name in in_metadata, f"V{int(version)} encoded {name}, which the metadata lacks"


@pytest.mark.parametrize(("runtime_name", "version"), PAIRS, ids=PAIR_IDS)
def test_every_instruction_round_trips_through_the_runtime_types(
    load_runtime: Load, runtime_name: str, version: XcmVersion
) -> None:
    rt = load_runtime(runtime_name)
    supported = tuple(i for i in EVERY_INSTRUCTION if metadata_name(i) in rt.instruction_names(version))
    assert len(supported) >= 20  # the check below is not vacuous
    value = versioned_xcm(Xcm(supported), version, rt.names)

    encoded = rt.encode(XCM, value)
    decoded = rt.decode(XCM, encoded)

    assert lists(decoded) == as_decoded(value)
    assert rt.encode(XCM, value) == encoded  # deterministic
    assert encoded[0] == int(version)  # the VersionedXcm index is the version number


@pytest.mark.parametrize(("runtime_name", "version"), PAIRS, ids=PAIR_IDS)
def test_assets_are_sent_in_the_order_the_runtime_decodes(
    load_runtime: Load, runtime_name: str, version: XcmVersion
) -> None:
    # Rust's derived Ord (the only order MultiAssets decodes in): parents first, then the number of junctions,
    # then junction by junction: variant index (Parachain 0 < AccountId32 1 < AccountKey20 3 < PalletInstance 4 <
    # GeneralIndex 5 < GlobalConsensus 9), then fields; a V3+ network is an Option (None < Some), a V2 one an enum
    # (Any 0 < Polkadot 2 < Kusama 3). Expected order written out by hand:
    key = b"\x01" * 32
    expected = [
        Location(0, (PalletInstance(50),)),
        Location(0, (PalletInstance(50), GeneralIndex(7))),
        Location(0, (PalletInstance(50), GeneralIndex(1984))),
        Location(1),
        Location(1, (Parachain(1000),)),
        Location(1, (Parachain(2000),)),
        Location(1, (AccountId32(key),)),
        Location(1, (AccountId32(key, NetworkId.POLKADOT),)),
        Location(1, (AccountId32(key, NetworkId.KUSAMA),)),
        Location(1, (Parachain(1000), PalletInstance(1))),
    ]
    if version >= V3:
        expected.append(Location(2, (GlobalConsensus(NetworkId.POLKADOT),)))
        expected.append(Location(2, (GlobalConsensus(EthereumNetwork(1)),)))
        expected.append(Location(2, (GlobalConsensus(EthereumNetwork(11155111)),)))
    shuffled = [Asset(loc, n + 1) for n, loc in enumerate(expected)][::-1]
    rt = load_runtime(runtime_name)

    value = versioned_assets(tuple(shuffled), version, rt.names)

    assert assets_from_value(rt.decode(ASSETS, rt.encode(ASSETS, value))[rt.names.name("assets", version)]) == tuple(
        Asset(loc, n + 1) for n, loc in enumerate(expected)
    )


def test_one_id_twice_is_refused() -> None:
    for version in XcmVersion:
        with pytest.raises(XcmEncodeError, match="twice"):
            versioned_assets((Asset(Location.parent(), 1), Asset(Location.parent(), 2)), version)


# pay_from_sovereign(10^12 of the relay token, to 0x22..22) with SetTopic(0x11..11), checked by hand. Compact
# 10^12 = 0xe8d4a51000 takes 5 bytes: prefix ((5 - 4) << 2) | 0b11 = 0x07, then little-endian 00 10 a5 d4 e8.
BENEFICIARY = b"\x22" * 32
TOPIC = b"\x11" * 32
AMOUNT = "070010a5d4e8"
HAND_CHECKED = {
    V3: (
        "03 14"  # VersionedXcm::V3, 5 instructions (compact 5 = 0x14)
        f"00 04 00 0100 00 {AMOUNT}"  # WithdrawAsset([{Concrete(0x00) {1, Here}, Fungible(0x00) 10^12}])
        "0a"  # ClearOrigin (index 10)
        f"13 00 0100 00 {AMOUNT} 00"  # BuyExecution(index 19) { fees, Unlimited }
        f"0d 01 02 04 00 01 01 00 {BENEFICIARY.hex()}"  # DepositAsset(Wild(AllCounted(1)), {0, X1(AccountId32{None}})
        f"2c {TOPIC.hex()}"  # SetTopic (index 44)
    ),
    # V4: the asset id is the location itself (no Concrete byte); `X1([j])` is an array of one, which SCALE
    # writes exactly like V3's `X1(j)`. V5 is V4 with version byte 05.
    V4: f"04 14 00 04 0100 00 {AMOUNT} 0a 13 0100 00 {AMOUNT} 00 0d 01 02 04 00 01 01 00 {BENEFICIARY.hex()} 2c "
    + TOPIC.hex(),
    V5: f"05 14 00 04 0100 00 {AMOUNT} 0a 13 0100 00 {AMOUNT} 00 0d 01 02 04 00 01 01 00 {BENEFICIARY.hex()} 2c "
    + TOPIC.hex(),
}


@pytest.mark.parametrize(("runtime_name", "version"), [p for p in PAIRS if p[1] >= V3], ids=lambda p: str(p))
def test_a_small_message_matches_hand_checked_bytes(load_runtime: Load, runtime_name: str, version: XcmVersion) -> None:
    rt = load_runtime(runtime_name)
    program = with_topic(pay_from_sovereign(Asset(Location.parent(), 10**12), Location.account32(BENEFICIARY)), TOPIC)
    expected = bytes.fromhex(HAND_CHECKED[version].replace(" ", ""))

    assert rt.encode(XCM, versioned_xcm(program, version, rt.names)) == expected
    assert lists(rt.decode(XCM, expected)) == as_decoded(versioned_xcm(program, version, rt.names))


@pytest.mark.parametrize(
    ("value", "hex_by_version"),
    [
        # {1, X1(Parachain(1000))}: parents 01, X1 01, Parachain 00, compact 1000 = (1000 << 2) | 0b01 = 0x0fa1.
        (Location.sibling(1000), {V3: "03 01 01 00 a10f", V4: "04 01 01 00 a10f", V5: "05 01 01 00 a10f"}),
        # {2, X1(GlobalConsensus(Ethereum { chain_id: 1 }))}: GlobalConsensus 09, Ethereum 07, compact 1 = 0x04.
        (Location(2, (GlobalConsensus(EthereumNetwork(1)),)), {V3: "03 02 01 09 07 04", V5: "05 02 01 09 07 04"}),
        # V4 {0, X2(AccountKey20{Some(Polkadot), k}, GeneralIndex(5))}: Some 01, Polkadot 02, GeneralIndex 05.
        (
            Location(0, (AccountKey20(b"\x44" * 20, NetworkId.POLKADOT), GeneralIndex(5))),
            {V4: f"04 00 02 03 01 02 {'44' * 20} 05 14"},
        ),
    ],
)
def test_locations_match_hand_checked_bytes(
    load_runtime: Load, value: Location, hex_by_version: dict[XcmVersion, str]
) -> None:
    rt = load_runtime("polkadot-2000000")
    for version, hex_string in hex_by_version.items():
        assert rt.encode(LOCATION, versioned_location(value, version, rt.names)).hex() == hex_string.replace(" ", "")


@pytest.mark.parametrize(("runtime_name", "version"), PAIRS, ids=PAIR_IDS)
def test_transact_weights_follow_the_version(load_runtime: Load, runtime_name: str, version: XcmVersion) -> None:
    rt = load_runtime(runtime_name)
    weighed = Transact(OriginKind.SUPERUSER, CALL, Weight(10**9, 65_536))
    unweighed = Transact(OriginKind.SUPERUSER, CALL)
    encoded = rt.encode(XCM, versioned_xcm(Xcm.of(weighed), version, rt.names))
    # index 06, OriginKind::Superuser 02, then the weight: V2 compact u64 (1e9: 4-byte mode, (1e9 << 2) | 0b10
    # = 0xee6b2802 LE), V3/V4 Weight { ref_time, proof_size } both compact (65536 -> 02 00 04 00), V5 an
    # Option<Weight> (Some = 01); then the call as compact-length bytes (10 = 4 << 2, then ff fe 00 01).
    weight = {V2: "02286bee", V3: "02286bee 02000400", V4: "02286bee 02000400", V5: "01 02286bee 02000400"}[version]
    assert encoded.hex() == f"{int(version):02x} 04 06 02 {weight} 10 fffe0001".replace(" ", "")
    if version == V5:
        unweighed_bytes = rt.encode(XCM, versioned_xcm(Xcm.of(unweighed), version, rt.names))
        assert unweighed_bytes.hex() == "05 04 06 02 00 10 fffe0001".replace(" ", "")  # fallback_max_weight: None
    else:
        with pytest.raises(XcmVersionError, match=f"V{int(version)} cannot express Transact without"):
            versioned_xcm(Xcm.of(unweighed), version, rt.names)


@pytest.mark.parametrize(
    ("version", "value", "feature"),
    [
        (V2, Xcm.of(SetTopic(b"\x00" * 32)), "SetTopic"),
        (V2, Location(1, (GlobalConsensus(NetworkId.KUSAMA),)), "GlobalConsensus"),
        (V2, Location.account32(b"\x00" * 32, NetworkId.WESTEND), "network Westend"),
        (V2, Location.account20(b"\x00" * 20, EthereumNetwork(1)), "network EthereumNetwork"),
        (V3, Xcm.of(PayFees(Asset(Location.parent(), 1))), "PayFees"),
        (V4, Xcm.of(SetAssetClaimer(Location.parent())), "SetAssetClaimer"),
        (V5, Location(1, (GlobalConsensus(NetworkId.ROCOCO),)), "network Rococo"),
    ],
)
def test_what_a_version_cannot_say_is_refused_naming_the_version(
    version: XcmVersion, value: Xcm | Location, feature: str
) -> None:
    with pytest.raises(XcmVersionError) as refused:
        if isinstance(value, Xcm):
            versioned_xcm(value, version)
        else:
            versioned_location(value, version)
    assert refused.value.version == int(version)
    assert str(refused.value).startswith(f"XCM V{int(version)} cannot express {feature}")
