"""Every Prometheus metric README.md and docs/ name exists, with the labels they show.

Alerts and dashboards are written from the docs; a renamed metric or label must fail here, not in production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.exported_metrics import exported

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _documented() -> list[tuple[str, str, set[str]]]:
    found = []
    for doc in DOCS:
        for name, labels in re.findall(r"(phala_bridge_[a-z_]*[a-z])(?![a-z_])(\{[^}]*\})?", doc.read_text()):
            found.append(
                (f"{doc.relative_to(ROOT)}: {name}{labels}", name, set(re.findall(r"([a-z_]+)(?==|,|})", labels)))
            )
    return found


def test_the_docs_name_metrics() -> None:
    assert {"phala_bridge_messages_total", "phala_bridge_committee_refusals_total"} <= {n for _, n, _ in _documented()}


@pytest.mark.parametrize(("name", "labels"), [pytest.param(n, ls, id=w) for w, n, ls in _documented()])
def test_documented_metric_exists(name: str, labels: set[str]) -> None:
    registered = exported()
    assert name in registered, f"no metric {name}"
    assert labels <= registered[name], f"{name} has labels {sorted(registered[name])}"


def test_the_guard_catches_a_wrong_name_or_label() -> None:
    registered = exported()
    assert registered["phala_bridge_messages_total"] == {"stage", "destination"}
    assert registered["phala_bridge_committee_members_up"] == set()
    assert "phala_bridge_message_total" not in registered
