"""Reanchoring: a location (or asset id) as seen from one chain, re-expressed as seen from another.

`context` is the universal location of the chain the value is expressed on, e.g. `(GlobalConsensus(Polkadot),
Parachain(2035))` for phala. `target` is where the other chain is, as seen from that same chain. This is the XCM
executor's `Location::reanchor` (V3-V5): invert the target, prepend it, then drop parents the target's interior
makes unnecessary. Where Rust pads a too-short context with `OnlyChild` (giving a location nobody can use), this
refuses with `ReanchorError`.
"""

from __future__ import annotations

from bridge.xcm.asset import Asset
from bridge.xcm.errors import ReanchorError
from bridge.xcm.location import MAX_JUNCTIONS, Junction, Location

Context = tuple[Junction, ...]


def reanchored(loc: Location, target: Location, context: Context) -> Location:
    """`loc` (seen from the chain at `context`) as seen from `target` (also seen from that chain)."""
    return simplified(prepended(loc, invert_target(context, target)), target.interior)


def reanchored_asset(asset: Asset, target: Location, context: Context) -> Asset:
    return Asset(reanchored(asset.id, target, context), asset.amount)


def invert_target(context: Context, target: Location) -> Location:
    """How `target` addresses the chain at `context`: up through target's interior, down through the part of
    `context` that target's parents climbed over."""
    if target.parents > len(context):
        raise ReanchorError(f"context {context} is too short to see {target}: give the full universal location")
    climbed = context[len(context) - target.parents :]
    return Location(len(target.interior), climbed)


def prepended(loc: Location, prefix: Location) -> Location:
    """`loc` interpreted from `prefix` (Rust's `prepend_with`): loc's parents cancel prefix's last junctions."""
    cancel = min(loc.parents, len(prefix.interior))
    interior = prefix.interior[: len(prefix.interior) - cancel] + loc.interior
    parents = prefix.parents + loc.parents - cancel
    if len(interior) > MAX_JUNCTIONS or parents > 255:
        raise ReanchorError(f"{loc} prefixed with {prefix} does not fit in a location")
    return Location(parents, interior)


def simplified(loc: Location, context: Context) -> Location:
    """Drop parents that climb out of `context` only to come straight back down (Rust's `simplify`)."""
    if len(context) < loc.parents:
        return loc
    parents, interior = loc.parents, loc.interior
    while parents > 0 and interior and context[len(context) - parents] == interior[0]:
        parents, interior = parents - 1, interior[1:]
    return Location(parents, interior)


def universal(loc: Location, context: Context) -> Context:
    """The absolute junctions `loc` names, seen from the chain at `context` (fails if it climbs above the root)."""
    if loc.parents > len(context):
        raise ReanchorError(f"{loc} climbs above the context {context}")
    return context[: len(context) - loc.parents] + loc.interior
