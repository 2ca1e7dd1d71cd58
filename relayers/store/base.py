"""SQL shared by the SQLite and PostgreSQL stores.

State changes are single guarded UPDATEs (`WHERE state IN (allowed predecessors)`), so two stages or a restarted node
racing on one message cannot move it backwards or skip the lifecycle. Nothing secret is ever stored here: messages,
cursors, batch signatures (public) and transaction hashes only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from bridge.errors import TransitionError
from bridge.lifecycle import PRE_SIGN, REQUEUE_TO, SET_ASIDE_PREFIX, TERMINAL, MessageState, check_requeue
from bridge.messages import BridgeMessage
from bridge.ports import Rejection

log = structlog.get_logger("store")


def _observed_columns(m: BridgeMessage) -> tuple[object, ...]:
    """source_domain, dest_domain, nonce, kind, state, body, source_tx of `m` as a newly observed row."""
    return (
        m.source_domain,
        m.dest_domain,
        str(m.nonce),
        m.kind.value,
        MessageState.OBSERVED.value,
        m.model_dump_json(),
        "0x" + m.source.tx_hash.hex(),
    )


class StoreError(RuntimeError):
    """A store failure, said in one line naming the store (password masked), what failed and what to do."""


class StoreUnavailable(StoreError):
    """The database server did not answer (down, restarting, refusing connections): worth retrying."""


class UnknownMessage(StoreError):
    """No message with this id in the store."""


class PendingMessages(StoreError):
    """A rebind would abandon messages still in flight; nothing was changed."""

    def __init__(self, pending: dict[str, int]) -> None:
        self.pending = dict(pending)
        total = sum(self.pending.values())
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.pending.items()))
        super().__init__(
            f"{total} message(s) in this store are still pending ({states}): rebinding would abandon them (this "
            "relayer would never relay them). Let them finish under the old deployment first (run the relayer "
            "with the old config until `phala-bridge store show` lists none pending), or pass --force to move them "
            "aside anyway (they stay in the table archived_messages, with the identity they were observed under)."
        )


@dataclass(frozen=True)
class Rebound:
    archived: int  # messages moved to archived_messages
    pending: dict[str, int]  # of them, those neither executed nor failed, by state
    cursors: int  # cursors removed: the watchers start again from their start block
    checkpoints: int  # snapshots removed (always safe: the views rebuild from the chain)


@dataclass(frozen=True)
class Cursor:
    chain: str
    block_number: int
    block_hash: str
    sequence: int = 0  # source messages counted up to this block (see bridge.ports.ChainPosition)


@dataclass(frozen=True)
class MessageRecord:
    message: BridgeMessage
    state: MessageState
    reason: str | None
    batch_id: str | None
    dest_tx: str | None
    observed_at: float
    updated_at: float

    @property
    def id_hex(self) -> str:
        return self.message.id_hex


@dataclass(frozen=True)
class ArchivedRecord:
    """A message a rebind moved aside (`archived_messages`), as it was then."""

    record: MessageRecord
    archived_at: float


@dataclass(frozen=True)
class Replaced:
    """A message observed again with another body (a source reorg deeper than the confirmation depth) while it was
    still `observed` or `verified`: the new body replaced the old one and the message is `observed` again."""

    id: str
    old_block: int
    new_block: int
    old_state: MessageState


@dataclass(frozen=True)
class Observed:
    """What `record_observed` did: `new` messages inserted, bodies `replaced`, set-aside messages `restored` (seen
    again with the same body), and `conflicting` ids seen with another body when already signed or later (kept)."""

    new: int = 0
    replaced: tuple[Replaced, ...] = ()
    restored: tuple[str, ...] = ()
    conflicting: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchRecord:
    id: str
    dest_domain: int
    message_ids: tuple[str, ...]
    state: str
    tx_hash: str | None
    created_at: float
    updated_at: float


def predecessors(new: MessageState) -> tuple[MessageState, ...]:
    from bridge.lifecycle import can_transition

    return tuple(s for s in MessageState if can_transition(s, new))


class _Conn(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


# The columns of a message (after its id), in the live table and in the archive of a deployment rebound away from:
# one list, so the archive's INSERT ... SELECT (`_MESSAGE_COLUMNS`, derived below) stays in step with the live table.
_MESSAGE_COLUMN_DEFS = """
        source_domain INTEGER NOT NULL,
        dest_domain INTEGER NOT NULL,
        nonce TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT,
        batch_id TEXT,
        dest_tx TEXT,
        source_tx TEXT NOT NULL,
        observed_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL"""

SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,{_MESSAGE_COLUMN_DEFS}
    )""",
    "CREATE INDEX IF NOT EXISTS messages_state ON messages (state, dest_domain)",
    "CREATE INDEX IF NOT EXISTS messages_source_tx ON messages (source_tx)",
    """CREATE TABLE IF NOT EXISTS cursors (
        chain TEXT PRIMARY KEY,
        block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL,
        sequence BIGINT NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS rejections (
        chain TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        block_number BIGINT NOT NULL,
        idx INTEGER NOT NULL,
        sender TEXT,
        amount TEXT NOT NULL,
        reason TEXT NOT NULL,
        recorded_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chain, tx_hash, idx)
    )""",
    """CREATE TABLE IF NOT EXISTS batches (
        id TEXT PRIMARY KEY,
        dest_domain INTEGER NOT NULL,
        message_ids TEXT NOT NULL,
        state TEXT NOT NULL,
        tx_hash TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # Added later: CREATE ... IF NOT EXISTS is the whole migration, an older store gains the table on open.
    # Snapshots of local chain views (relayers.substrate.index_checkpoint), one row per name, replaced whole.
    """CREATE TABLE IF NOT EXISTS checkpoints (
        name TEXT PRIMARY KEY,
        block_number BIGINT NOT NULL,
        body {blob} NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # The deployment the store is bound to (relayers.store.identity), one row per chain and field. Added later like
    # checkpoints: a store from before it gains the table on open and adopts the config it is next started with.
    """CREATE TABLE IF NOT EXISTS deployment (
        chain TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        origin TEXT NOT NULL,
        recorded_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chain, field)
    )""",
    # Messages of a deployment the store was rebound away from (`phala-bridge store rebind`), with that deployment.
    f"""CREATE TABLE IF NOT EXISTS archived_messages (
        id TEXT NOT NULL,{_MESSAGE_COLUMN_DEFS},
        archived_at DOUBLE PRECISION NOT NULL,
        deployment TEXT NOT NULL,
        PRIMARY KEY (archived_at, id)
    )""",
)

_MESSAGE_COLUMNS = ", ".join(["id", *(line.split()[0] for line in _MESSAGE_COLUMN_DEFS.strip().splitlines())])
_PENDING = tuple(s.value for s in MessageState if s not in (MessageState.EXECUTED, MessageState.FAILED))


class SqlStore:
    """Dialect-neutral store; subclasses provide the connection and the placeholder style."""

    placeholder = "?"
    blob_type = "BLOB"  # PostgreSQL: BYTEA
    upsert_ignore = "INSERT OR IGNORE INTO"  # PostgreSQL: INSERT INTO ... ON CONFLICT DO NOTHING
    conflict_suffix = ""
    conflict_suffix_rejections = ""

    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self._checkpoint_lock = threading.Lock()  # checkpoints are saved from chain sessions' worker threads
        for stmt in SCHEMA:
            self._conn.execute(stmt.replace("{blob}", self.blob_type))
        self._conn.commit()

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._q(sql), params)

    def _read_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a read, its transaction ended: PostgreSQL opens one for every statement, and a relayer polling
        an idle bridge would otherwise sit "idle in transaction" until its next write (holding its table locks
        against DDL, and cut by a server's `idle_in_transaction_session_timeout`)."""
        rows = list(self._exec(sql, params).fetchall())
        self._conn.commit()
        return rows

    def _read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read_all(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        self._conn.close()

    def ping(self) -> None:
        """One round trip to the database; raises as any call would (`StoreUnavailable` while it does not answer)."""
        self._exec("SELECT 1").fetchone()
        self._conn.commit()

    # ---- messages --------------------------------------------------------------------------------------------

    def add_observed(self, messages: Iterable[BridgeMessage]) -> int:
        """Record observed messages; returns how many were new. See `record_observed`."""
        return self.record_observed(messages).new

    def record_observed(self, messages: Iterable[BridgeMessage]) -> Observed:
        """Record observed messages, in one transaction. A message already known with the same body is left as it is
        (a watcher re-scanning blocks after a restart duplicates nothing), except that one set aside after a reorg is
        ready for the verify stage again. One known with ANOTHER body (the same id, i.e. source domain and nonce, in
        another block or transaction after a source reorg deeper than the confirmation depth) gets the new body and
        goes back to `observed` (the policy checks the new body) while it is `observed` or `verified`; once signed or
        later it is kept as it is (`conflicting`): what was signed is the destination's to judge."""
        now = time.time()
        new = 0
        replaced: list[Replaced] = []
        restored: list[str] = []
        conflicting: list[str] = []
        pre_sign = [s.value for s in PRE_SIGN]
        marks = ", ".join("?" for _ in pre_sign)  # placeholders only: the values travel as parameters
        try:
            for m in messages:
                cur = self._exec(
                    f"{self.upsert_ignore} messages (id, source_domain, dest_domain, nonce, kind, state, body, "
                    f"source_tx, observed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?){self.conflict_suffix}",
                    (m.id_hex, *_observed_columns(m), now, now),
                )
                if cur.rowcount > 0:
                    new += 1
                    continue
                row = self._exec("SELECT body, state, reason FROM messages WHERE id = ?", (m.id_hex,)).fetchone()
                if row is None:  # pragma: no cover - the INSERT found it a moment ago, in this transaction
                    continue
                old_body, state, reason = str(row[0]), MessageState(row[1]), row[2]
                old = BridgeMessage.model_validate_json(old_body)
                if old == m:
                    if state is MessageState.OBSERVED and reason is not None and reason.startswith(SET_ASIDE_PREFIX):
                        self._exec(
                            "UPDATE messages SET reason = NULL, updated_at = ? "
                            "WHERE id = ? AND state = ? AND reason = ?",
                            (now, m.id_hex, state.value, reason),
                        )
                        restored.append(m.id_hex)
                    continue
                if state not in PRE_SIGN:
                    conflicting.append(m.id_hex)
                    continue
                cur = self._exec(
                    "UPDATE messages SET source_domain = ?, dest_domain = ?, nonce = ?, kind = ?, state = ?, body = ?, "  # noqa: S608
                    "source_tx = ?, reason = NULL, updated_at = ? WHERE id = ? AND body = ? AND state IN ("
                    + marks
                    + ")",
                    (
                        *_observed_columns(m),
                        now,
                        m.id_hex,
                        old_body,
                        *pre_sign,
                    ),
                )
                if cur.rowcount > 0:
                    replaced.append(Replaced(m.id_hex, old.source.block_number, m.source.block_number, state))
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        for r in replaced:
            log.warning(
                "message_body_replaced", message_id=r.id[:18], old_block=r.old_block, new_block=r.new_block,
                old_state=r.old_state.value,
            )  # fmt: skip
        for mid in conflicting:
            log.error("message_body_differs_after_signing", message_id=mid[:18])
        return Observed(new, tuple(replaced), tuple(restored), tuple(conflicting))

    def set_aside_after_reorg(self, source_domain: int, from_block: int, keep: Iterable[str] = ()) -> list[str]:
        """After a source reorg from `from_block` (deeper than the confirmation depth): every `observed` or
        `verified` message of `source_domain` from a block at or after it, except the ids in `keep` (observed again
        by the re-scan), goes back to `observed` with a reason starting with `SET_ASIDE_PREFIX`: the verify stage
        skips it until the watcher observes it again (`record_observed`). Nothing is deleted. Returns the ids."""
        kept = {k.lower() for k in keep}
        pre_sign = [s.value for s in PRE_SIGN]
        marks = ", ".join("?" for _ in pre_sign)
        reason = f"{SET_ASIDE_PREFIX} from block {from_block}: waits for the watcher to observe it again"
        now = time.time()
        moved: list[str] = []
        try:
            rows = self._exec(
                _SELECT_ID + " WHERE source_domain = ? AND state IN (" + marks + ")",
                (source_domain, *pre_sign),
            ).fetchall()
            for row in rows:
                rec = _record(row[1:])
                if rec.id_hex in kept or rec.message.source.block_number < from_block:
                    continue
                if rec.state is MessageState.OBSERVED and rec.reason and rec.reason.startswith(SET_ASIDE_PREFIX):
                    continue  # set aside already
                cur = self._exec(
                    "UPDATE messages SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?",
                    (MessageState.OBSERVED.value, reason, now, row[0], rec.state.value),
                )
                if cur.rowcount > 0:
                    moved.append(str(row[0]))
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return moved

    def to_verify(self, limit: int = 1000) -> list[MessageRecord]:
        """`observed` messages the verify stage should check: all but those set aside after a reorg."""
        rows = self._read_all(
            _SELECT + " WHERE state = ? AND (reason IS NULL OR reason NOT LIKE ?) ORDER BY observed_at LIMIT ?",
            (MessageState.OBSERVED.value, SET_ASIDE_PREFIX + "%", limit),
        )
        return [_record(r) for r in rows]

    def requeue(self, message_id: str, *, reason: str, by: str) -> MessageRecord:
        """The operator's requeue (bridge.lifecycle): a `failed` message back to `verified`, its reason recording
        who, when and why (and the reason it had failed). `UnknownMessage` for an unknown id, `TransitionError` for a
        message that is not `failed` (nothing changed). Returns the message as it was before."""
        mid = message_id.lower()
        try:
            row = self._exec(_SELECT + " WHERE id = ?", (mid,)).fetchone()
            if row is None:
                raise UnknownMessage(f"no message {mid} in this store")
            before = _record(row)
            check_requeue(before.state)
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + " UTC"
            note = f"requeued by {by} at {when}: {reason} (it had failed: {before.reason or 'no reason recorded'})"
            cur = self._exec(
                "UPDATE messages SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?",
                (REQUEUE_TO.value, note, time.time(), mid, before.state.value),
            )
            if cur.rowcount != 1:  # pragma: no cover - moved by someone else between the read and the update
                raise TransitionError(f"message {mid} changed state meanwhile; nothing changed")
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        log.warning(
            "message_requeued", message_id=mid, by=by, reason=reason, failed_reason=before.reason,
            state=REQUEUE_TO.value,
        )  # fmt: skip
        return before

    def transition(
        self,
        ids: Sequence[str],
        new_state: MessageState,
        *,
        reason: str | None = None,
        batch_id: str | None = None,
        dest_tx: str | None = None,
    ) -> list[str]:
        """Move messages to `new_state` where the lifecycle allows it; returns the ids that moved."""
        allowed = [s.value for s in predecessors(new_state)]
        if not allowed or not ids:
            return []
        marks = ", ".join("?" for _ in allowed)  # placeholders only: the values travel as parameters
        sql = (
            "UPDATE messages SET state = ?, reason = COALESCE(?, reason), batch_id = COALESCE(?, batch_id), "  # noqa: S608
            "dest_tx = COALESCE(?, dest_tx), updated_at = ? WHERE id = ? AND state IN (" + marks + ")"
        )
        moved: list[str] = []
        now = time.time()
        try:
            for mid in ids:
                cur = self._exec(
                    sql,
                    (new_state.value, reason, batch_id, dest_tx, now, mid, *allowed),
                )
                if cur.rowcount > 0:
                    moved.append(mid)
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return moved

    def get(self, message_id: str) -> MessageRecord | None:
        row = self._read_one(_SELECT + " WHERE id = ?", (message_id.lower(),))
        return _record(row) if row else None

    def by_source_tx(self, tx_hash: str) -> list[MessageRecord]:
        rows = self._read_all(_SELECT + " WHERE source_tx = ? ORDER BY nonce", (tx_hash.lower(),))
        return [_record(r) for r in rows]

    def in_state(
        self, state: MessageState, *, dest_domain: int | None = None, limit: int = 1000
    ) -> list[MessageRecord]:
        if dest_domain is None:
            rows = self._read_all(_SELECT + " WHERE state = ? ORDER BY observed_at LIMIT ?", (state.value, limit))
        else:
            rows = self._read_all(
                _SELECT + " WHERE state = ? AND dest_domain = ? ORDER BY observed_at LIMIT ?",
                (state.value, dest_domain, limit),
            )
        return [_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._read_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def oldest_waiting(self) -> dict[int, float]:
        """Per destination domain, when this store first saw (`observed_at`, wall clock) its oldest message that is
        not final yet (neither executed nor failed). A destination with nothing waiting is absent."""
        waiting = [s.value for s in MessageState if s not in TERMINAL]
        marks = ", ".join("?" for _ in waiting)  # placeholders only: the values travel as parameters
        rows = self._read_all(
            "SELECT dest_domain, MIN(observed_at) FROM messages WHERE state IN (" + marks + ") GROUP BY dest_domain",  # noqa: S608
            waiting,
        )
        return {int(dest): float(first) for dest, first in rows}

    # ---- rejections (funds that arrived in a form the bridge cannot carry) -------------------------------------

    def add_rejections(self, chain: str, rejections: Iterable[Rejection]) -> int:
        now = time.time()
        added = 0
        try:
            for r in rejections:
                cur = self._exec(
                    f"{self.upsert_ignore} rejections (chain, tx_hash, block_number, idx, sender, amount, reason, "
                    f"recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?){self.conflict_suffix_rejections}",
                    (
                        chain,
                        r.extrinsic_hash.lower(),
                        r.block_number,
                        r.extrinsic_index,
                        None if r.sender is None else "0x" + r.sender.hex(),
                        str(r.amount),
                        r.reason,
                        now,
                    ),
                )
                added += max(cur.rowcount, 0)
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return added

    def rejections(self, chain: str | None = None) -> list[tuple[str, str, int, str | None, int, str]]:
        """(chain, tx hash, block, sender, amount, reason), oldest first."""
        sql = "SELECT chain, tx_hash, block_number, sender, amount, reason FROM rejections"
        rows = (
            self._read_all(sql + " ORDER BY recorded_at")
            if chain is None
            else self._read_all(sql + " WHERE chain = ? ORDER BY recorded_at", (chain,))
        )
        return [(r[0], r[1], int(r[2]), r[3], int(r[4]), r[5]) for r in rows]

    # ---- cursors ---------------------------------------------------------------------------------------------

    def cursor(self, chain: str) -> Cursor | None:
        row = self._read_one("SELECT chain, block_number, block_hash, sequence FROM cursors WHERE chain = ?", (chain,))
        return Cursor(row[0], int(row[1]), row[2], int(row[3])) if row else None

    def set_cursor(self, cursor: Cursor) -> None:
        try:
            self._exec("DELETE FROM cursors WHERE chain = ?", (cursor.chain,))
            self._exec(
                "INSERT INTO cursors (chain, block_number, block_hash, sequence, updated_at) VALUES (?, ?, ?, ?, ?)",
                (cursor.chain, cursor.block_number, cursor.block_hash, cursor.sequence, time.time()),
            )
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    # ---- checkpoints (relayers.substrate.index_checkpoint.CheckpointStore) -----------------------------------

    def load_checkpoint(self, name: str) -> bytes | None:
        with self._checkpoint_lock:
            row = self._exec("SELECT body FROM checkpoints WHERE name = ?", (name,)).fetchone()
            self._conn.commit()  # end the read transaction (PostgreSQL opens one for every statement)
        return None if row is None else bytes(row[0])

    def save_checkpoint(self, name: str, data: bytes, block_number: int) -> None:
        """Replace `name`'s snapshot in one transaction: a crash leaves the old one or the new one."""
        with self._checkpoint_lock:
            try:
                self._exec("DELETE FROM checkpoints WHERE name = ?", (name,))
                self._exec(
                    "INSERT INTO checkpoints (name, block_number, body, updated_at) VALUES (?, ?, ?, ?)",
                    (name, block_number, data, time.time()),
                )
                self._conn.commit()
            except Exception:
                self._conn.rollback()
                raise

    # ---- the deployment (relayers.store.identity) -------------------------------------------------------------

    def deployment(self) -> dict[str, dict[str, str]]:
        """The recorded identity: chain -> field -> value."""
        out: dict[str, dict[str, str]] = {}
        for chain, name, value in self._exec("SELECT chain, field, value FROM deployment ORDER BY chain").fetchall():
            out.setdefault(chain, {})[name] = value
        self._conn.commit()
        return out

    def deployment_rows(self) -> list[tuple[str, str, str, str, float]]:
        """(chain, field, value, origin, recorded at), as recorded."""
        rows = self._exec(
            "SELECT chain, field, value, origin, recorded_at FROM deployment ORDER BY chain, recorded_at"
        ).fetchall()
        self._conn.commit()
        return [(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]

    def record_deployment(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Add (chain, field, value, origin) rows in one transaction; a field already recorded is an error."""
        try:
            self._insert_deployment(rows, time.time())
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def _insert_deployment(self, rows: Iterable[tuple[str, str, str, str]], now: float) -> None:
        for chain, name, value, origin in rows:
            self._exec(
                "INSERT INTO deployment (chain, field, value, origin, recorded_at) VALUES (?, ?, ?, ?, ?)",
                (chain, name, value, origin, now),
            )

    def update_deployment(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Replace recorded (chain, field) values with (value, origin) in one transaction; a field not recorded is an
        error (nothing is changed)."""
        now = time.time()
        try:
            for chain, name, value, origin in rows:
                cur = self._exec(
                    "UPDATE deployment SET value = ?, origin = ?, recorded_at = ? WHERE chain = ? AND field = ?",
                    (value, origin, now, chain, name),
                )
                if cur.rowcount != 1:
                    raise StoreError(f"no recorded {chain}.{name} to update")
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def rebind_deployment(
        self, rows: Sequence[tuple[str, str, str, str]], *, archived_under: str, allow_pending: bool
    ) -> Rebound:
        """One transaction: move every message to `archived_messages` (tagged `archived_under`), drop cursors and
        checkpoints, replace the recorded identity by `rows`. Pending messages and not `allow_pending`:
        `PendingMessages`, nothing changed. Rejections and batches stay (funds to return, transactions sent)."""
        now = time.time()
        try:
            marks = ", ".join("?" for _ in _PENDING)
            found = self._exec(
                "SELECT state, COUNT(*) FROM messages WHERE state IN (" + marks + ") GROUP BY state",  # noqa: S608
                _PENDING,
            ).fetchall()
            pending = {str(s): int(n) for s, n in found}
            if pending and not allow_pending:
                raise PendingMessages(pending)
            archived = self._exec(
                f"INSERT INTO archived_messages ({_MESSAGE_COLUMNS}, archived_at, deployment) "  # noqa: S608
                f"SELECT {_MESSAGE_COLUMNS}, ?, ? FROM messages",
                (now, archived_under),
            ).rowcount
            self._exec("DELETE FROM messages")
            cursors = self._exec("DELETE FROM cursors").rowcount
            with self._checkpoint_lock:
                checkpoints = self._exec("DELETE FROM checkpoints").rowcount
            self._exec("DELETE FROM deployment")
            self._insert_deployment(rows, now)
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return Rebound(max(archived, 0), pending, max(cursors, 0), max(checkpoints, 0))

    def archived(self) -> list[tuple[float, str, int, dict[str, int]]]:
        """Per rebind: (archived at, the deployment it was, messages, of them pending by state)."""
        rows = self._exec(
            "SELECT archived_at, deployment, state, COUNT(*) FROM archived_messages "
            "GROUP BY archived_at, deployment, state ORDER BY archived_at"
        ).fetchall()
        self._conn.commit()
        out: dict[float, tuple[str, int, dict[str, int]]] = {}
        for at, dep, state, n in rows:
            _, total, pending = out.setdefault(float(at), (dep, 0, {}))
            if state in _PENDING:
                pending[state] = int(n)
            out[float(at)] = (dep, total + int(n), pending)
        return [(at, dep, total, pending) for at, (dep, total, pending) in out.items()]

    def archived_get(self, message_id: str) -> list[ArchivedRecord]:
        """Every archived copy of a message (one per rebind that moved it aside), newest first."""
        rows = self._exec(_SELECT_ARCHIVED + " WHERE id = ? ORDER BY archived_at DESC", (message_id.lower(),))
        found = [_archived(r) for r in rows.fetchall()]
        self._conn.commit()
        return found

    def archived_by_source_tx(self, tx_hash: str) -> list[ArchivedRecord]:
        rows = self._exec(
            _SELECT_ARCHIVED + " WHERE source_tx = ? ORDER BY archived_at DESC, nonce", (tx_hash.lower(),)
        )
        found = [_archived(r) for r in rows.fetchall()]
        self._conn.commit()
        return found

    def cursors(self) -> list[Cursor]:
        rows = self._exec("SELECT chain, block_number, block_hash, sequence FROM cursors ORDER BY chain").fetchall()
        self._conn.commit()
        return [Cursor(r[0], int(r[1]), r[2], int(r[3])) for r in rows]

    def checkpoint_list(self) -> list[tuple[str, int, float]]:
        """(name, block, saved at) of every snapshot."""
        rows = self._exec("SELECT name, block_number, updated_at FROM checkpoints ORDER BY name").fetchall()
        self._conn.commit()
        return [(r[0], int(r[1]), float(r[2])) for r in rows]

    # ---- batches ---------------------------------------------------------------------------------------------

    def save_batch(self, batch: BatchRecord) -> None:
        try:
            self._exec("DELETE FROM batches WHERE id = ?", (batch.id,))
            self._exec(
                "INSERT INTO batches (id, dest_domain, message_ids, state, tx_hash, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.id,
                    batch.dest_domain,
                    json.dumps(list(batch.message_ids)),
                    batch.state,
                    batch.tx_hash,
                    batch.created_at,
                    time.time(),
                ),
            )
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def batch(self, batch_id: str) -> BatchRecord | None:
        row = self._read_one(
            "SELECT id, dest_domain, message_ids, state, tx_hash, created_at, updated_at FROM batches WHERE id = ?",
            (batch_id,),
        )
        if not row:
            return None
        return BatchRecord(row[0], int(row[1]), tuple(json.loads(row[2])), row[3], row[4], float(row[5]), float(row[6]))


_SELECT = "SELECT body, state, reason, batch_id, dest_tx, observed_at, updated_at FROM messages"
_SELECT_ID = "SELECT id, body, state, reason, batch_id, dest_tx, observed_at, updated_at FROM messages"


_SELECT_ARCHIVED = (
    "SELECT body, state, reason, batch_id, dest_tx, observed_at, updated_at, archived_at FROM archived_messages"
)


def _archived(row: Sequence[Any]) -> ArchivedRecord:
    return ArchivedRecord(_record(row), float(row[7]))


def _record(row: Sequence[Any]) -> MessageRecord:
    return MessageRecord(
        message=BridgeMessage.model_validate_json(row[0]),
        state=MessageState(row[1]),
        reason=row[2],
        batch_id=row[3],
        dest_tx=row[4],
        observed_at=float(row[5]),
        updated_at=float(row[6]),
    )
