"""`phala-bridge store requeue`: a `failed` message back to `verified`; any other state, an unknown id or a bad id is
refused with one line and exit 2, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app
from bridge.lifecycle import MessageState
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from relayers.store import open_store

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()


def _msg(nonce: int) -> BridgeMessage:
    return BridgeMessage(
        source_domain=1, dest_domain=2, nonce=nonce, kind=MessageKind.TRANSFER, sender=b"\x11" * 20,
        recipient=b"\x22" * 32, resource_id=b"\x33" * 32, source_amount=nonce * 10**18, amount=nonce * 10**12,
        source=SourceRef(block_number=10 + nonce, block_hash=b"\x44" * 32, tx_hash=bytes([nonce]) * 32, index=0),
    )  # fmt: skip


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "node.db"
    cfg = tmp_path / "node.toml"
    url = f"sqlite:///{db}"
    lines = EXAMPLE.splitlines()
    at = lines.index("[store]")
    assert lines[at + 1].startswith("url = ")
    lines[at + 1] = f'url = "{url}"'
    cfg.write_text("\n".join(lines) + "\n")
    store = open_store(url)
    store.add_observed([_msg(1), _msg(2), _msg(3)])
    store.transition([_msg(1).id_hex], MessageState.FAILED, reason="refused by policy: existential deposit")
    store.transition([_msg(2).id_hex], MessageState.VERIFIED)
    store.transition([_msg(3).id_hex], MessageState.EXECUTED)
    store.close()
    return cfg, url


def _state(url: str, mid: str) -> tuple[MessageState, str | None]:
    store = open_store(url)
    try:
        rec = store.get(mid)
        assert rec is not None
        return rec.state, rec.reason
    finally:
        store.close()


def test_requeues_a_failed_message(node: tuple[Path, str]) -> None:
    cfg, url = node
    mid = _msg(1).id_hex
    result = CliRunner().invoke(app, ["store", "requeue", mid.upper().replace("0X", "0x"), "--config", str(cfg),
                                      "--reason", "account now holds the existential deposit"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"requeued {mid}: failed -> verified" in result.output
    assert "existential deposit" in result.output  # the reason it had failed
    state, reason = _state(url, mid)
    assert state is MessageState.VERIFIED
    assert reason is not None and "requeued by " in reason and "account now holds" in reason and "UTC" in reason
    assert "it had failed: refused by policy: existential deposit" in reason


@pytest.mark.parametrize(("nonce", "state"), [(2, "verified"), (3, "executed")])
def test_refuses_a_message_that_is_not_failed(node: tuple[Path, str], nonce: int, state: str) -> None:
    cfg, url = node
    mid = _msg(nonce).id_hex
    before = _state(url, mid)
    result = CliRunner().invoke(app, ["store", "requeue", mid, "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert f"only a failed message can be requeued; this one is {state}" in lines[0] and "nothing changed" in lines[0]
    assert _state(url, mid) == before


def test_refuses_an_unknown_or_malformed_id(node: tuple[Path, str]) -> None:
    cfg, _ = node
    unknown = "0x" + "ab" * 32
    result = CliRunner().invoke(app, ["store", "requeue", unknown, "--config", str(cfg)])
    assert result.exit_code == 2 and f"error: no message {unknown} in the store" in result.output
    for bad in ("0x1234", "xyz", "0x" + "zz" * 32):
        result = CliRunner().invoke(app, ["store", "requeue", bad, "--config", str(cfg)])
        assert result.exit_code == 2 and "0x + 64 hex message id" in result.output, result.output


def test_a_missing_store_is_one_line_exit_1(tmp_path: Path, node: tuple[Path, str]) -> None:
    cfg, url = node
    cfg.write_text(cfg.read_text().replace(url, f"sqlite:///{tmp_path}/absent.db"))
    result = CliRunner().invoke(app, ["store", "requeue", _msg(1).id_hex, "--config", str(cfg)])
    assert result.exit_code == 1 and "error: no store at" in result.output
