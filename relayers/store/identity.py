"""The deployment a store is bound to: per chain, the values its cursors mean something under.

A cursor says "everything of interest up to block B of chain C has been observed, and (Phala) S deposits were
counted by then". That holds only for the chain, bridge, start block and numbering rules it was made under: pointed
at another deployment, the relayer would resume from the old cursors and never observe the events between the new
`start_block` and the old cursor, and message ids (source domain, nonce) of the new deployment would collide with
the old ones (the store ignores an id it already has). So the store records, the first time it is used, the
identity of each chain, and a relayer whose config (or enclave, for the Phala bridge account) says otherwise does
not start (`IdentityMismatch`, naming each field, old and new).

What is bound is what a cursor's meaning depends on and nothing that changes legitimately while the deployment
lives: not the Ethereum group key or its epoch (rotated on the bridge by the committee itself), not the committee's
membership (resharing keeps both group keys, hence the Phala bridge account), not the endpoints or any per-node
setting. A new DKG does change the Phala bridge account, and with it which transfers are deposits and how they are
numbered: that is a new deployment of the Phala side.

Values are compared as text (the canonical forms the identity builders in bridge.cli.store_identity produce).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from relayers.store.base import PendingMessages, Rebound, SqlStore, StoreError

log = structlog.get_logger("relayer.store")

MISSING_CHAIN = "(chain)"  # the field naming a recorded chain that the config no longer has

# (recorded value, current value, block up to which the chain was counted, None before any) -> may the current value
# replace the recorded one? For a rule that changes only from a block on (a deposit-minimum schedule): the values
# agree on everything the store's messages were counted under.
Successor = Callable[[str, str, int | None], bool]


@dataclass(frozen=True)
class ChainIdentity:
    chain: str  # the [chains] name
    fields: Mapping[str, str]  # field -> canonical text, in display order
    cursors: tuple[str, ...] = ()  # the watchers (cursor names) that read this chain
    # Fields whose value may change while the deployment lives, under a rule; the cursor whose block bounds what was
    # counted (`counted_by`, one of `cursors`) is what the rule is judged against.
    successors: Mapping[str, Successor] = field(default_factory=dict)
    counted_by: str | None = None


@dataclass(frozen=True)
class Difference:
    chain: str
    field: str
    recorded: str
    current: str

    def __str__(self) -> str:
        return f"{self.chain}.{self.field}: recorded {self.recorded}, now {self.current}"


@dataclass(frozen=True)
class Comparison:
    differences: tuple[Difference, ...]
    new_chains: tuple[ChainIdentity, ...]  # in the config, not recorded yet
    added_fields: tuple[tuple[str, str, str], ...]  # (chain, field, value): recorded chain, field new to this build
    updated_fields: tuple[tuple[str, str, str, str], ...] = ()  # (chain, field, recorded, current): a successor

    @property
    def matches(self) -> bool:
        return not self.differences


RecordedIdentity = Mapping[str, Mapping[str, str]]  # chain -> field -> value


def compare(
    recorded: RecordedIdentity, current: Sequence[ChainIdentity], counted: Mapping[str, int | None] | None = None
) -> Comparison:
    """Differences between what the store recorded and the current identity. A field the record lacks (added by a
    later build) is not a difference: it is recorded on first use like a new store's. A recorded chain the config no
    longer names is one (a renamed chain would otherwise look new, and its cursors start over beside the old ids).
    A changed field with a successor rule is not a difference when the rule takes it at the block its chain was
    counted up to (`counted`: cursor name -> block): it is an update."""
    diffs: list[Difference] = []
    new: list[ChainIdentity] = []
    added: list[tuple[str, str, str]] = []
    updated: list[tuple[str, str, str, str]] = []
    counted = counted or {}
    names = {c.chain for c in current}
    for ident in current:
        old = recorded.get(ident.chain)
        if old is None:
            new.append(ident)
            continue
        for name, value in ident.fields.items():
            if name not in old:
                added.append((ident.chain, name, value))
            elif old[name] != value:
                rule = ident.successors.get(name)
                # Judged only where the counted block is known (None: nothing counted yet); unknown: a difference.
                known = ident.counted_by is not None and ident.counted_by in counted
                block = counted.get(ident.counted_by) if ident.counted_by is not None else None
                if rule is not None and known and rule(old[name], value, block):
                    updated.append((ident.chain, name, old[name], value))
                else:
                    diffs.append(Difference(ident.chain, name, old[name], value))
    for chain in sorted(set(recorded) - names):
        diffs.append(Difference(chain, MISSING_CHAIN, "recorded", "not in the config's [chains]"))
    return Comparison(tuple(diffs), tuple(new), tuple(added), tuple(updated))


class IdentityMismatch(StoreError):
    """The store was made for another deployment; nothing was changed."""

    def __init__(self, store: str, differences: Sequence[Difference], config: str = "node.toml") -> None:
        self.differences = tuple(differences)
        lines = "\n".join(f"  {d}" for d in self.differences)
        super().__init__(
            f"the store {store} was made for another deployment ({len(self.differences)} difference(s)):\n{lines}\n"
            "Nothing was changed. If the config (or the endpoint, or the enclave) is wrong, fix it and start again. "
            "If this is a new deployment, give it a store of its own: point [store] url at a new database, or run "
            f"`phala-bridge store rebind --config {config}`, which moves this store's messages aside and records "
            "the new identity (`phala-bridge store show` prints what is recorded; docs/operations.md, "
            '"The store\'s deployment").'
        )


@dataclass(frozen=True)
class Binding:
    recorded: tuple[str, ...]  # chains recorded now for the first time (a new store, or a chain added)
    adopted: tuple[str, ...]  # chains whose cursors predate the record: adopted unchecked
    added_fields: tuple[tuple[str, str, str], ...]


def bind(store: SqlStore, current: Sequence[ChainIdentity], *, store_name: str, config: str = "node.toml") -> Binding:
    """Check the store against `current`; record what is not recorded yet. A difference raises `IdentityMismatch`
    before anything is written."""
    counted: dict[str, int | None] = {}
    for ident in current:
        if ident.counted_by is not None:
            cursor = store.cursor(ident.counted_by)
            counted[ident.counted_by] = None if cursor is None else cursor.block_number
    comparison = compare(store.deployment(), current, counted)
    if not comparison.matches:
        for d in comparison.differences:
            log.error("store_identity_mismatch", chain=d.chain, field=d.field, recorded=d.recorded, current=d.current)
        raise IdentityMismatch(store_name, comparison.differences, config)
    rows: list[tuple[str, str, str, str]] = []
    recorded: list[str] = []
    adopted: list[str] = []
    for ident in comparison.new_chains:
        # A chain with a cursor but no record: a store from before the record (or the table) existed. Its cursors
        # cannot be checked, so the current config is taken as the one they were made under, once.
        old = any(store.cursor(name) is not None for name in ident.cursors)
        origin = "adopted" if old else "recorded"
        (adopted if old else recorded).append(ident.chain)
        rows.extend((ident.chain, k, v, origin) for k, v in ident.fields.items())
    rows.extend((chain, k, v, "added") for chain, k, v in comparison.added_fields)
    if rows:
        store.record_deployment(rows)
    if comparison.updated_fields:
        store.update_deployment([(chain, k, now, "updated") for chain, k, _, now in comparison.updated_fields])
        for chain, k, was, now in comparison.updated_fields:
            log.warning("store_identity_updated", store=store_name, chain=chain, field=k, recorded=was, current=now)
    for ident in comparison.new_chains:
        if ident.chain in adopted:
            log.warning("store_identity_adopted", store=store_name, chain=ident.chain, **dict(ident.fields))
        else:
            log.info("store_identity_recorded", store=store_name, chain=ident.chain, **dict(ident.fields))
    for chain, k, v in comparison.added_fields:
        log.info("store_identity_field_added", store=store_name, chain=chain, field=k, value=v)
    if not rows and not comparison.updated_fields:
        log.info("store_identity_checked", store=store_name, chains=[c.chain for c in current])
    return Binding(tuple(recorded), tuple(adopted), comparison.added_fields)


def rebind(store: SqlStore, current: Sequence[ChainIdentity], *, force: bool, store_name: str) -> Rebound:
    """Bind the store to `current`: move every message aside (with the identity it was observed under), drop the
    cursors and checkpoints, record `current`. Refuses, changing nothing, while messages are pending and not
    `force` (they would be abandoned by this relayer: the new deployment's watchers never see them again)."""
    archived_under = json.dumps(
        {
            "identity": {c: dict(f) for c, f in store.deployment().items()},
            "cursors": {c.chain: [c.block_number, c.block_hash, c.sequence] for c in store.cursors()},
            "archived_at": time.time(),
        },
        sort_keys=True,
    )
    rows = [(c.chain, k, v, "rebound") for c in current for k, v in c.fields.items()]
    result = store.rebind_deployment(rows, archived_under=archived_under, allow_pending=force)
    log.warning(
        "store_rebound",
        store=store_name,
        archived=result.archived,
        pending_abandoned=sum(result.pending.values()),
        cursors_reset=result.cursors,
        checkpoints_removed=result.checkpoints,
        chains=[c.chain for c in current],
    )
    return result


__all__ = [
    "MISSING_CHAIN",
    "Binding",
    "ChainIdentity",
    "Comparison",
    "Difference",
    "IdentityMismatch",
    "PendingMessages",
    "Rebound",
    "Successor",
    "bind",
    "compare",
    "rebind",
]
