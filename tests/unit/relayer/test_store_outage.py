"""The logic of riding out a store outage, with a fake clock and a store that fails on demand: what is logged when
(once, then throttled, then recovered), the gauge, and the backoff a paused stage probes with. The real thing, against
PostgreSQL: tests/integration/test_store_outage.py."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from bridge.policy import BridgePolicy
from relayers.daemon.metrics import RelayerMetrics
from relayers.daemon.pipeline import Pipeline, PipelineConfig
from relayers.daemon.store_health import StoreHealth
from relayers.store import StoreUnavailable
from relayers.store.sqlite import SqliteStore
from tests.unit.relayer.test_pipeline import PHA, FakeSigner


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_an_outage_is_logged_once_then_throttled_then_recovered() -> None:
    clock = Clock()
    metrics = RelayerMetrics(CollectorRegistry())
    health = StoreHealth(metrics, clock, log_every=30.0)
    assert health.up and metrics.store_up._value.get() == 1 and health.snapshot() == {"up": True}
    with structlog.testing.capture_logs() as logs:
        health.succeeded("verify")  # up already: nothing to say
        began = health.failed("verify", StoreUnavailable("store x: lost its connection (boom)"), retry_in=1.0)
        for _ in range(20):  # every stage and probe for 29 s
            clock.now += 29.0 / 20
            assert health.failed("submit:phala", StoreUnavailable("store x: cannot reconnect"), retry_in=2.0) == began
        assert metrics.store_up._value.get() == 0
        assert health.snapshot() == {"up": False, "down_for": 29.0, "error": "store x: cannot reconnect"}
        clock.now += 1.5
        health.failed("confirm:phala", StoreUnavailable("store x: cannot reconnect"))
        clock.now += 3.0
        health.succeeded("confirm:phala")
        health.succeeded("verify")
    down = _events(logs, "store_unavailable")
    assert down[0] == {
        "event": "store_unavailable", "log_level": "warning", "stage": "verify",
        "error": "store x: lost its connection (boom)", "retry_in": 1.0,
    }  # fmt: skip
    assert len(down) == 2 and down[1]["down_for"] == 30.5 and down[1]["failures"] == 22
    assert _events(logs, "store_recovered") == [
        {"event": "store_recovered", "log_level": "info", "stage": "confirm:phala", "down_for": 33.5, "failures": 22}
    ]
    assert health.up and metrics.store_up._value.get() == 1
    health.failed("verify", StoreUnavailable("again"))
    assert health.down_since == clock.now  # a new outage


class FlakyStore(SqliteStore):
    """Its probe fails `down` more times (StoreUnavailable), as a database restarting would."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.down = 0
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if self.down:
            self.down -= 1
            raise StoreUnavailable("store x: cannot reconnect to it: the server did not answer")
        super().ping()


def test_a_paused_stage_probes_with_backoff_then_resumes_and_a_new_outage_starts_the_backoff_again(
    tmp_path: Path,
) -> None:
    store = FlakyStore(tmp_path / "s.db")
    p = Pipeline(
        store=store,
        policy=BridgePolicy.of([PHA]),
        watchers=[],
        destinations=[],
        signer=FakeSigner(),
        config=PipelineConfig(retry_backoff=0.01, max_backoff=0.05),
    )
    p.store_health.log_every = 0.0  # every failure logged: its retry_in shows the backoff
    runs: list[str] = []
    resumed: list[int] = []

    async def stage() -> None:
        runs.append("run")
        if len(runs) in (1, 2):  # two outages: the stage finds the store gone on its first two runs
            if len(runs) == 2:
                store.down = 1
            raise StoreUnavailable("store x: lost its connection (terminating connection)")

    store.down = 5
    with structlog.testing.capture_logs() as logs:
        asyncio.run(p._guard("verify", stage, asyncio.Event(), on_resume=lambda: resumed.append(store.pings)))
    retry_in = [e["retry_in"] for e in _events(logs, "store_unavailable")]
    # First outage: 0.01 (the stage), then the probes 0.02, 0.04, 0.05 (the cap), 0.05, 0.05 (5 failed probes).
    # Second outage: the backoff starts again at 0.01, then one failed probe at 0.02.
    assert retry_in == [0.01, 0.02, 0.04, 0.05, 0.05, 0.05, 0.01, 0.02], retry_in
    assert runs == ["run", "run", "run"]  # resumed after each outage, then returned (no third failure)
    assert resumed == [6, 8]  # on_resume runs once per outage, after a probe went through
    assert len(_events(logs, "store_recovered")) == 2 and not _events(logs, "stage_crashed")
    assert p.healthy == {"verify": True}
    assert p.metrics.failures.labels("verify", "store_unavailable")._value.get() == 2
    store.close()


def test_anything_else_still_stops_the_daemon(tmp_path: Path) -> None:
    p = Pipeline(
        store=SqliteStore(tmp_path / "s.db"),
        policy=BridgePolicy.of([PHA]),
        watchers=[],
        destinations=[],
        signer=FakeSigner(),
    )
    stop = asyncio.Event()

    async def stage() -> None:
        raise ValueError("a bug")

    with structlog.testing.capture_logs() as logs, pytest.raises(ValueError, match="a bug"):
        asyncio.run(p._guard("verify", stage, stop))
    assert stop.is_set() and _events(logs, "stage_crashed")[0]["error"] == "a bug"
    p.store.close()


def test_relayer_run_says_the_store_failure_that_stopped_its_pipeline_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store error that is not waited out (a SQLite file locked or failing under the running relayer) stops the
    daemon through its task groups: `relayer run` prints the store's one line, not the task group's."""
    from typer.testing import CliRunner

    from bridge.cli import relayer_cmd
    from bridge.cli.main import app
    from relayers.store import StoreError

    line = f"store sqlite:///{tmp_path}/s.db: cannot read or write it: database is locked: locked by another process"

    async def opened(url: str, stop: asyncio.Event) -> SqliteStore:
        return SqliteStore(tmp_path / "s.db")

    async def crashed(*_args: object) -> None:
        inner = ExceptionGroup("unhandled errors in a TaskGroup", [StoreError(line)])
        raise ExceptionGroup("unhandled errors in a TaskGroup", [inner])

    monkeypatch.setattr(relayer_cmd, "_open_store", opened)
    monkeypatch.setattr(relayer_cmd, "_start", crashed)
    config = Path(__file__).resolve().parents[3] / "config" / "node.example.toml"
    result = CliRunner().invoke(app, ["relayer", "run", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert [x for x in result.output.splitlines() if x.strip()] == [f"error: {line}"], result.output
