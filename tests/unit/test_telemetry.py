"""Logging renders events with fields (JSON for machines) and redacts secret-looking fields; metrics registries
are per component (no global registry)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from prometheus_client import Counter

from bridge.telemetry import configure_logging, new_registry
from bridge.telemetry.metrics import build_info, render


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_json_logs_are_one_object_per_event_with_fields() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    structlog.get_logger("t").info("batch_signed", message_id="0xabc", session_id=7)
    structlog.get_logger("t").debug("hidden_at_info_level")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "batch_signed"
    assert event["message_id"] == "0xabc" and event["session_id"] == 7
    assert event["level"] == "info" and "timestamp" in event


def test_secret_looking_fields_are_redacted() -> None:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    structlog.get_logger("t").info("oops", secret_share="deadbeef", private_key="0x01", seed="s", member=3)
    event = json.loads(out.getvalue())
    assert event["secret_share"] == event["private_key"] == event["seed"] == "[redacted]"
    assert "deadbeef" not in out.getvalue()
    assert event["member"] == 3


def test_console_format_and_bad_level() -> None:
    out = io.StringIO()
    configure_logging("console", "warning", stream=out)
    structlog.get_logger("t").warning("relayer_lagging", chain="ethereum", blocks=12)
    assert "relayer_lagging" in out.getvalue() and "blocks=12" in out.getvalue()
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("console", "loud")


def test_registries_are_independent() -> None:
    a, b = new_registry(), new_registry()
    Counter("phala_bridge_things_total", "things", registry=a).inc(3)
    Counter("phala_bridge_things_total", "things", registry=b)  # no clash: separate registries
    build_info(a, "0.1.0", "relayer")
    text = render(a).decode()
    assert "phala_bridge_things_total 3.0" in text
    assert 'phala_bridge_build_info{component="relayer",version="0.1.0"} 1.0' in text
    assert "phala_bridge_things_total 0.0" in render(b).decode()
