"""On real SQLite and PostgreSQL: the operator's requeue (failed -> verified, recorded; any other state refused,
nothing changed), a body seen again differently after a deep source reorg (replaced before signing, kept after),
and messages the re-scan did not see again (set aside, skipped by the verify stage, back when observed again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app
from bridge.errors import TransitionError
from bridge.lifecycle import SET_ASIDE_PREFIX, MessageState
from bridge.messages import BridgeMessage
from relayers.store import SqlStore, UnknownMessage, open_store
from tests.integration.conftest import transfer_message

ROOT = Path(__file__).resolve().parents[2]


def _refork(m: BridgeMessage, block: int, **fields: object) -> BridgeMessage:
    src = m.source.model_copy(update={"block_number": block, "block_hash": b"\x99" * 32, "tx_hash": b"\x77" * 32})
    return m.model_copy(update={"source": src, **fields})


def test_requeue(store: SqlStore) -> None:
    failed, verified, executed = transfer_message(1), transfer_message(2), transfer_message(3)
    store.add_observed([failed, verified, executed])
    store.transition([failed.id_hex], MessageState.FAILED, reason="refused by phala: below the existential deposit")
    store.transition([verified.id_hex], MessageState.VERIFIED)
    store.transition([executed.id_hex], MessageState.EXECUTED)

    before = store.requeue(failed.id_hex, reason="the account holds the deposit now", by="ops")
    assert before.state is MessageState.FAILED and before.reason is not None
    rec = store.get(failed.id_hex)
    assert rec is not None and rec.state is MessageState.VERIFIED
    assert rec.reason is not None and rec.reason.startswith("requeued by ops at ")
    assert "the account holds the deposit now" in rec.reason and "below the existential deposit" in rec.reason
    assert rec.updated_at >= before.updated_at
    assert {r.id_hex for r in store.in_state(MessageState.VERIFIED)} == {failed.id_hex, verified.id_hex}

    for m in (failed, verified, executed):  # `failed` is verified now: refused like the others
        was = store.get(m.id_hex)
        with pytest.raises(TransitionError):
            store.requeue(m.id_hex, reason="again", by="ops")
        assert store.get(m.id_hex) == was
    with pytest.raises(UnknownMessage):
        store.requeue("0x" + "cd" * 32, reason="x", by="ops")
    # The store still works after a refused requeue (its transaction was rolled back).
    assert store.transition([failed.id_hex], MessageState.SIGNED, batch_id="0xb") == [failed.id_hex]


def test_body_replaced_before_signing_only(store: SqlStore) -> None:
    a, b, c = transfer_message(1), transfer_message(2), transfer_message(3)
    store.add_observed([a, b, c])
    store.transition([b.id_hex, c.id_hex], MessageState.VERIFIED)
    store.transition([c.id_hex], MessageState.SIGNED, batch_id="0xb")
    a2 = _refork(a, 50)
    b2 = _refork(b, 51, recipient=b"\x66" * 32, amount=7 * 10**12, source_amount=7 * 10**18)
    c2 = _refork(c, 52)
    done = store.record_observed([a2, b2, c2])
    assert done.new == 0 and done.conflicting == (c.id_hex,)
    assert [(r.id, r.old_block, r.new_block, r.old_state) for r in done.replaced] == [
        (a.id_hex, 11, 50, MessageState.OBSERVED),
        (b.id_hex, 12, 51, MessageState.VERIFIED),
    ]
    for new in (a2, b2):
        rec = store.get(new.id_hex)
        assert rec is not None and rec.message == new and rec.state is MessageState.OBSERVED
    assert {r.id_hex for r in store.by_source_tx("0x" + "77" * 32)} == {a.id_hex, b.id_hex}
    rec = store.get(c.id_hex)
    assert rec is not None and rec.message == c and rec.state is MessageState.SIGNED
    assert store.record_observed([a2, b2]).replaced == ()


def test_set_aside_after_reorg(store: SqlStore) -> None:
    early, kept, gone, verified_gone = (transfer_message(n) for n in (1, 20, 21, 22))
    store.add_observed([early, kept, gone, verified_gone])
    store.transition([early.id_hex, verified_gone.id_hex], MessageState.VERIFIED)
    moved = store.set_aside_after_reorg(1, 30, keep=[kept.id_hex])  # blocks: early 11, the others 30..32
    assert sorted(moved) == sorted([gone.id_hex, verified_gone.id_hex])
    assert store.set_aside_after_reorg(2, 0) == []  # another source's reorg touches nothing here
    assert {r.id_hex for r in store.to_verify()} == {kept.id_hex}
    rec = store.get(verified_gone.id_hex)
    assert rec is not None and rec.state is MessageState.OBSERVED and rec.reason is not None
    assert rec.reason.startswith(SET_ASIDE_PREFIX)
    assert store.counts() == {"observed": 3, "verified": 1}  # nothing deleted
    assert store.record_observed([verified_gone]).restored == (verified_gone.id_hex,)
    assert {r.id_hex for r in store.to_verify()} == {kept.id_hex, verified_gone.id_hex}
    # Re-observed with another body: replaced, and back for the verify stage as well.
    gone2 = _refork(gone, 60)
    assert [r.id for r in store.record_observed([gone2]).replaced] == [gone.id_hex]
    assert {r.id_hex for r in store.to_verify()} == {kept.id_hex, gone.id_hex, verified_gone.id_hex}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_requeue_command(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """`phala-bridge store requeue` on each kind of store: exit 0 and the message verified; again: exit 2, one line."""
    url = f"sqlite:///{tmp_path}/node.db" if kind == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(url)
    m = transfer_message(5)
    store.add_observed([m])
    store.transition([m.id_hex], MessageState.FAILED, reason="refused by policy: token disabled")
    store.close()
    lines = (ROOT / "config" / "node.example.toml").read_text().splitlines()
    at = lines.index("[store]")
    lines[at + 1] = f'url = "{url}"'
    cfg = tmp_path / "node.toml"
    cfg.write_text("\n".join(lines) + "\n")
    args = ["store", "requeue", m.id_hex, "--config", str(cfg), "--reason", "token enabled"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 2 and "this one is verified" in second.output, second.output
    store = open_store(url)
    try:
        rec = store.get(m.id_hex)
        assert rec is not None and rec.state is MessageState.VERIFIED and rec.reason is not None
        assert "token enabled" in rec.reason
    finally:
        store.close()
