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

from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage
from bridge.ports import Rejection


class StoreError(RuntimeError):
    pass


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


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,
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
        updated_at DOUBLE PRECISION NOT NULL
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
)


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

    def close(self) -> None:
        self._conn.close()

    # ---- messages --------------------------------------------------------------------------------------------

    def add_observed(self, messages: Iterable[BridgeMessage]) -> int:
        """Record newly observed messages; ones already known (any state) are left untouched. Returns how many
        were new. Idempotent, so a watcher re-scanning blocks after a restart cannot duplicate anything."""
        now = time.time()
        new = 0
        try:
            for m in messages:
                cur = self._exec(
                    f"{self.upsert_ignore} messages (id, source_domain, dest_domain, nonce, kind, state, body, "
                    f"source_tx, observed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?){self.conflict_suffix}",
                    (
                        m.id_hex,
                        m.source_domain,
                        m.dest_domain,
                        str(m.nonce),
                        m.kind.value,
                        MessageState.OBSERVED.value,
                        m.model_dump_json(),
                        "0x" + m.source.tx_hash.hex(),
                        now,
                        now,
                    ),
                )
                new += max(cur.rowcount, 0)
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return new

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
        row = self._exec(_SELECT + " WHERE id = ?", (message_id.lower(),)).fetchone()
        return _record(row) if row else None

    def by_source_tx(self, tx_hash: str) -> list[MessageRecord]:
        rows = self._exec(_SELECT + " WHERE source_tx = ? ORDER BY nonce", (tx_hash.lower(),)).fetchall()
        return [_record(r) for r in rows]

    def in_state(
        self, state: MessageState, *, dest_domain: int | None = None, limit: int = 1000
    ) -> list[MessageRecord]:
        if dest_domain is None:
            rows = self._exec(_SELECT + " WHERE state = ? ORDER BY observed_at LIMIT ?", (state.value, limit))
        else:
            rows = self._exec(
                _SELECT + " WHERE state = ? AND dest_domain = ? ORDER BY observed_at LIMIT ?",
                (state.value, dest_domain, limit),
            )
        return [_record(r) for r in rows.fetchall()]

    def counts(self) -> dict[str, int]:
        rows = self._exec("SELECT state, COUNT(*) FROM messages GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

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
            self._exec(sql + " ORDER BY recorded_at").fetchall()
            if chain is None
            else self._exec(sql + " WHERE chain = ? ORDER BY recorded_at", (chain,)).fetchall()
        )
        return [(r[0], r[1], int(r[2]), r[3], int(r[4]), r[5]) for r in rows]

    # ---- cursors ---------------------------------------------------------------------------------------------

    def cursor(self, chain: str) -> Cursor | None:
        row = self._exec(
            "SELECT chain, block_number, block_hash, sequence FROM cursors WHERE chain = ?", (chain,)
        ).fetchone()
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
        row = self._exec(
            "SELECT id, dest_domain, message_ids, state, tx_hash, created_at, updated_at FROM batches WHERE id = ?",
            (batch_id,),
        ).fetchone()
        if not row:
            return None
        return BatchRecord(row[0], int(row[1]), tuple(json.loads(row[2])), row[3], row[4], float(row[5]), float(row[6]))


_SELECT = "SELECT body, state, reason, batch_id, dest_tx, observed_at, updated_at FROM messages"


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
