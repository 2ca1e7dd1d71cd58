"""The relayer store against real SQLite and a real PostgreSQL server: the same contract for both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from relayers.store import BatchRecord, Cursor, SqlStore, StoreError, open_store


def _msg(nonce: int, tx: int = 1) -> BridgeMessage:
    return BridgeMessage(
        source_domain=1,
        dest_domain=2,
        nonce=nonce,
        kind=MessageKind.TRANSFER,
        sender=b"\x11" * 20,
        recipient=b"\x22" * 32,
        resource_id=b"\x33" * 32,
        source_amount=nonce * 10**18,
        amount=nonce * 10**12,
        source=SourceRef(block_number=10 + nonce, block_hash=b"\x44" * 32, tx_hash=bytes([tx]) * 32, index=nonce),
    )


def test_observe_is_idempotent(store: SqlStore) -> None:
    assert store.add_observed([_msg(1), _msg(2)]) == 2
    assert store.add_observed([_msg(1), _msg(2), _msg(3)]) == 1  # re-scan after a restart: nothing duplicated
    assert store.counts() == {"observed": 3}
    rec = store.get(_msg(2).id_hex)
    assert rec is not None and rec.message == _msg(2) and rec.state is MessageState.OBSERVED


def test_transitions_follow_the_lifecycle(store: SqlStore) -> None:
    store.add_observed([_msg(1), _msg(2)])
    ids = [_msg(1).id_hex, _msg(2).id_hex]
    assert store.transition(ids, MessageState.SUBMITTED) == []  # cannot skip verify and sign
    assert store.transition(ids, MessageState.VERIFIED) == ids
    assert store.transition(ids[:1], MessageState.SIGNED, batch_id="b1") == ids[:1]
    assert store.transition(ids[:1], MessageState.SUBMITTED, dest_tx="0xabc") == ids[:1]
    assert store.transition(ids[:1], MessageState.EXECUTED) == ids[:1]
    assert store.transition(ids[:1], MessageState.VERIFIED) == []  # executed is final
    assert store.transition(ids[1:], MessageState.FAILED, reason="over the rate limit") == ids[1:]
    done = store.get(ids[0])
    assert done is not None and done.state is MessageState.EXECUTED
    assert done.batch_id == "b1" and done.dest_tx == "0xabc"
    failed = store.get(ids[1])
    assert failed is not None and failed.reason == "over the rate limit"
    assert [r.id_hex for r in store.in_state(MessageState.EXECUTED, dest_domain=2)] == ids[:1]
    assert store.in_state(MessageState.EXECUTED, dest_domain=1) == []


def test_oldest_waiting_is_the_first_seen_message_not_final_per_destination(store: SqlStore) -> None:
    assert store.oldest_waiting() == {}
    to_eth = BridgeMessage.model_validate({**_msg(9).model_dump(), "source_domain": 2, "dest_domain": 1})
    store.add_observed([_msg(1)])
    store.add_observed([_msg(2), to_eth])
    store.add_observed([_msg(3)])
    seen = {m.nonce: rec.observed_at for m in (_msg(1), _msg(2), _msg(3), to_eth) if (rec := store.get(m.id_hex))}
    assert store.oldest_waiting() == {2: seen[1], 1: seen[9]}
    # Final messages stop waiting, whatever their age: executed, failed.
    store.transition([_msg(1).id_hex, to_eth.id_hex], MessageState.VERIFIED)
    store.transition([_msg(1).id_hex], MessageState.EXECUTED)
    store.transition([to_eth.id_hex], MessageState.FAILED, reason="refused by policy")
    assert store.oldest_waiting() == {2: seen[2]}
    # Every state short of final still waits: verified, signed, submitted.
    store.transition([_msg(2).id_hex], MessageState.VERIFIED)
    store.transition([_msg(2).id_hex], MessageState.SIGNED, batch_id="b")
    assert store.oldest_waiting() == {2: seen[2]}
    store.transition([_msg(2).id_hex], MessageState.SUBMITTED, dest_tx="0x1")
    assert store.oldest_waiting() == {2: seen[2]}
    store.transition([_msg(2).id_hex], MessageState.EXECUTED)
    assert store.oldest_waiting() == {2: seen[3]}


def test_lookup_by_source_tx(store: SqlStore) -> None:
    store.add_observed([_msg(1, tx=7), _msg(2, tx=7), _msg(3, tx=8)])
    found = store.by_source_tx("0x" + "07" * 32)
    assert [r.message.nonce for r in found] == [1, 2]


def test_cursors_and_batches(store: SqlStore) -> None:
    assert store.cursor("ethereum") is None
    store.set_cursor(Cursor("ethereum", 100, "0xaa"))
    store.set_cursor(Cursor("ethereum", 105, "0xbb", 7))
    assert store.cursor("ethereum") == Cursor("ethereum", 105, "0xbb", 7)
    b = BatchRecord("b1", 2, ("0x01", "0x02"), "signed", None, 1.0, 1.0)
    store.save_batch(b)
    store.save_batch(BatchRecord("b1", 2, ("0x01", "0x02"), "submitted", "0xtx", 1.0, 2.0))
    got = store.batch("b1")
    assert (
        got is not None and got.state == "submitted" and got.tx_hash == "0xtx" and got.message_ids == ("0x01", "0x02")
    )


def test_state_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    s = open_store(url)
    s.add_observed([_msg(1)])
    s.transition([_msg(1).id_hex], MessageState.VERIFIED)
    s.set_cursor(Cursor("phala", 9, "0x09"))
    s.close()
    s2 = open_store(url)
    rec = s2.get(_msg(1).id_hex)
    assert rec is not None and rec.state is MessageState.VERIFIED
    assert s2.cursor("phala") == Cursor("phala", 9, "0x09")
    s2.close()


def test_bad_urls() -> None:
    with pytest.raises(StoreError, match="unsupported store URL scheme 'mysql'"):
        open_store("mysql://x")
    with pytest.raises(StoreError, match=r"store postgresql://u:\*\*\*@127\.0\.0\.1:1/db: cannot open it: the server"):
        open_store("postgresql://u:hunter2@127.0.0.1:1/db")


def test_rejections_are_recorded_once(store: SqlStore) -> None:
    from bridge.ports import Rejection

    r = Rejection(5, "0xbb", 2, "0xAA", b"\x01" * 32, 10**12, "transfer without a deposit intent")
    assert store.add_rejections("phala", [r, r]) == 1
    assert store.add_rejections("phala", [r]) == 0
    assert store.rejections("phala") == [("phala", "0xaa", 5, "0x" + "01" * 32, 10**12, r.reason)]
    assert store.rejections("ethereum") == []


def test_checkpoints_are_replaced_whole(store: SqlStore) -> None:
    assert store.load_checkpoint("phala/executed-index/destination") is None
    store.save_checkpoint("phala/executed-index/destination", b"\x00first\xff", 10)
    store.save_checkpoint("phala/executed-index/replies", b"other", 11)
    store.save_checkpoint("phala/executed-index/destination", b"\x00second\xff" * 1000, 20)
    assert store.load_checkpoint("phala/executed-index/destination") == b"\x00second\xff" * 1000
    assert store.load_checkpoint("phala/executed-index/replies") == b"other"


def test_an_older_store_gains_the_checkpoint_table(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # a store as the previous release left it: no checkpoints table
    old.execute("CREATE TABLE cursors (chain TEXT PRIMARY KEY, block_number BIGINT NOT NULL, block_hash TEXT NOT "
                "NULL, sequence BIGINT NOT NULL DEFAULT 0, updated_at DOUBLE PRECISION NOT NULL)")  # fmt: skip
    old.execute("INSERT INTO cursors VALUES ('phala', 9, '0x09', 3, 0)")
    old.commit()
    old.close()
    s = open_store(f"sqlite:///{path}")
    assert s.cursor("phala") == Cursor("phala", 9, "0x09", 3)
    s.save_checkpoint("x", b"snapshot", 9)
    assert s.load_checkpoint("x") == b"snapshot"
    s.close()


def test_reads_leave_no_postgres_transaction_open(postgres_url: str) -> None:
    """A relayer polling an idle bridge only reads: each read ends its transaction, so the server never sees it
    "idle in transaction" (holding table locks, cut by `idle_in_transaction_session_timeout`)."""
    import psycopg

    store = open_store(postgres_url)
    try:
        store.add_observed([_msg(1)])
        store.set_cursor(Cursor("ethereum", 5, "0x" + "ab" * 32, 0))
        store.save_batch(BatchRecord("0x01", 2, (_msg(1).id_hex,), "submitted", "0xtx", 1.0, 0.0))
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:

            def open_transactions() -> list[str]:
                rows = admin.execute(
                    "SELECT state FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
                ).fetchall()
                return [r[0] for r in rows if r[0] and r[0].startswith("idle in transaction")]

            reads: dict[str, Callable[[], object]] = {
                "get": lambda: store.get(_msg(1).id_hex),
                "by_source_tx": lambda: store.by_source_tx("0x" + "01" * 32),
                "in_state": lambda: store.in_state(MessageState.OBSERVED),
                "counts": store.counts,
                "cursor": lambda: store.cursor("ethereum"),
                "batch": lambda: store.batch("0x01"),
            }
            for name, read in reads.items():
                assert read(), name  # each read found what was written
                assert open_transactions() == [], f"{name} left its transaction open"
            assert store.rejections() == []
            assert open_transactions() == [], "rejections left its transaction open"
    finally:
        store.close()
