"""Reanchoring: the cases polkadot-sdk's own tests and the asset-transfer routes pin down, and properties checked
against an independent oracle (resolving both sides to universal locations)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.xcm import (
    AccountId32,
    Asset,
    GeneralIndex,
    GlobalConsensus,
    Location,
    NetworkId,
    PalletInstance,
    Parachain,
    ReanchorError,
    reanchored,
    reanchored_asset,
    universal,
)
from bridge.xcm.reanchor import Context

POLKADOT = GlobalConsensus(NetworkId.POLKADOT)
KUSAMA = GlobalConsensus(NetworkId.KUSAMA)
PHALA = (POLKADOT, Parachain(2035))
ASSET_HUB = (POLKADOT, Parachain(1000))
USDT_ON_ASSET_HUB = Location(0, (PalletInstance(50), GeneralIndex(1984)))
ALICE = AccountId32(b"\x01" * 32)


@pytest.mark.parametrize(
    ("loc", "target", "context", "expected"),
    [
        # polkadot-sdk xcm v4 location.rs `reanchor_works`: a sibling's asset, seen from that sibling.
        (
            Location(1, (Parachain(1000), GeneralIndex(42))),
            Location.sibling(1000),
            (Parachain(2000),),
            Location(0, (GeneralIndex(42),)),
        ),
        # The relay token is (1, Here) on every parachain of the relay, including a sibling.
        (Location.parent(), Location.sibling(1000), PHALA, Location.parent()),
        # ... and Here on the relay itself.
        (Location.parent(), Location.parent(), PHALA, Location.here()),
        # USDT (Asset Hub's Assets pallet) as phala must name it when talking about it.
        (
            USDT_ON_ASSET_HUB,
            Location.sibling(2035),
            ASSET_HUB,
            Location(1, (Parachain(1000), *USDT_ON_ASSET_HUB.interior)),
        ),
        # ... and back: phala's name for USDT, seen from Asset Hub, is local again (the parents are simplified).
        (Location(1, (Parachain(1000), *USDT_ON_ASSET_HUB.interior)), Location.sibling(1000), PHALA, USDT_ON_ASSET_HUB),
        # PHA (phala's native token, `Here` on phala) seen from Asset Hub and from the relay.
        (Location.here(), Location.sibling(1000), PHALA, Location.sibling(2035)),
        (Location.here(), Location.parent(), PHALA, Location(0, (Parachain(2035),))),
        # A local account, seen from the relay.
        (Location(0, (ALICE,)), Location.parent(), PHALA, Location(0, (Parachain(2035), ALICE))),
        # Across consensus systems (a bridge hub's view): DOT seen from Kusama Asset Hub.
        (Location.parent(), Location(2, (KUSAMA, Parachain(1000))), ASSET_HUB, Location(2, (POLKADOT,))),
    ],
)
def test_known_reanchors(loc: Location, target: Location, context: Context, expected: Location) -> None:
    assert reanchored(loc, target, context) == expected


def test_an_asset_keeps_its_amount() -> None:
    usdt = Asset(USDT_ON_ASSET_HUB, 5_000_000)
    seen_from_phala = reanchored_asset(usdt, Location.sibling(2035), ASSET_HUB)
    assert seen_from_phala == Asset(Location(1, (Parachain(1000), PalletInstance(50), GeneralIndex(1984))), 5_000_000)


def test_a_context_too_short_for_the_target_is_refused() -> None:
    # Two levels up from a context of one junction: Rust would invent OnlyChild; we refuse.
    with pytest.raises(ReanchorError, match="too short"):
        reanchored(Location.here(), Location(2, (KUSAMA,)), (Parachain(2035),))


def test_a_result_longer_than_eight_junctions_is_refused() -> None:
    deep = Location(0, tuple(GeneralIndex(i) for i in range(8)))  # one more above it makes nine
    with pytest.raises(ReanchorError, match="does not fit"):
        reanchored(deep, Location.parent(), (POLKADOT, Parachain(2035), PalletInstance(1)))


# -- properties ------------------------------------------------------------------------------------------------------

UNIVERSE = st.sampled_from([POLKADOT, KUSAMA])
STEPS = st.one_of(
    st.builds(Parachain, st.sampled_from([1000, 2000, 2035])),
    st.builds(PalletInstance, st.sampled_from([10, 50])),
    st.builds(GeneralIndex, st.sampled_from([1, 1984])),
)
UNIVERSAL = st.tuples(UNIVERSE, st.lists(STEPS, max_size=3)).map(lambda t: (t[0], *t[1]))


def relative(frm: Context, to: Context) -> Location:
    """The plain way from `frm` to `to` (both universal): up to the common prefix, then down."""
    common = 0
    while common < min(len(frm), len(to)) and frm[common] == to[common]:
        common += 1
    return Location(len(frm) - common, to[common:])


@settings(max_examples=300, deadline=None)
@given(here=UNIVERSAL, there=UNIVERSAL, thing=UNIVERSAL)
def test_reanchoring_names_the_same_universal_location(here: Context, there: Context, thing: Context) -> None:
    loc, target = relative(here, thing), relative(here, there)

    seen_from_there = reanchored(loc, target, here)

    # The oracle: both names resolve to the same absolute location, each from its own chain.
    assert universal(seen_from_there, there) == universal(loc, here) == thing
    # ... and the result is the shortest way there (what the executor's simplify aims at).
    assert seen_from_there == relative(there, thing)


@settings(max_examples=200, deadline=None)
@given(here=UNIVERSAL, there=UNIVERSAL, thing=UNIVERSAL)
def test_reanchoring_there_and_back_is_the_identity(here: Context, there: Context, thing: Context) -> None:
    loc = relative(here, thing)
    there_from_here, here_from_there = relative(here, there), relative(there, here)
    assert reanchored(reanchored(loc, there_from_here, here), here_from_there, there) == loc
