"""config/alerts.yml, the Prometheus rules operators load: every expression parses as PromQL (promql-parser, a port
of Prometheus's own parser), and every metric and label it selects, and every label its texts name, is one the
relayer exports. A renamed metric or label fails here instead of silently never alerting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.unit.exported_metrics import TARGET_LABELS, exported

RULES = Path(__file__).resolve().parents[3] / "config" / "alerts.yml"
BUILTIN = {"up": TARGET_LABELS}  # Prometheus's own series per target


def _exported() -> dict[str, frozenset[str]]:
    return {name: labels | TARGET_LABELS for name, labels in exported().items()}


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _selectors(node: Any) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) of every vector selector in a parsed expression."""
    if type(node).__name__ == "VectorSelector":
        return [(node.name, {m.name for m in node.matchers.matchers})]
    found: list[tuple[str, set[str]]] = []
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            found += _selectors(child)
    for arg in getattr(node, "args", None) or ():
        found += _selectors(arg)
    return found


def test_the_rules_file_is_a_prometheus_rule_group() -> None:
    rules = _rules()
    assert len(rules) >= 5
    names = [r["alert"] for r in rules]
    assert len(set(names)) == len(names)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: str(r["alert"]))
def test_each_rule_selects_what_the_relayer_exports(rule: dict[str, Any]) -> None:
    exported = {**_exported(), **BUILTIN}
    selectors = _selectors(promql_parser.parse(rule["expr"]))  # ValueError on a syntax error
    assert selectors, rule["expr"]
    for name, labels in selectors:
        assert name in exported, f"{rule['alert']}: no metric {name}"
        assert labels <= exported[name], f"{rule['alert']}: {name} has no label {labels - exported[name]}"
    # The texts name only labels the selected series carry (else Prometheus renders them empty).
    carried = set.intersection(*(set(exported[name]) for name, _ in selectors))
    for text in rule["annotations"].values():
        for label in _label_refs(text):
            assert label in carried, f"{rule['alert']}: its text names {label}, which {selectors} do not carry"


def _label_refs(text: str) -> set[str]:
    import re

    return set(re.findall(r"\$labels\.(\w+)", text))


def test_a_wrong_expression_or_metric_is_caught() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("increase(phala_bridge_stage_errors_total[15m] > 0")
    assert ("phala_bridge_oldest_waiting", {"destination"}) in _selectors(
        promql_parser.parse('phala_bridge_oldest_waiting{destination="phala"} > 600')
    )
    assert "phala_bridge_oldest_waiting" not in _exported()  # the name without its unit: caught by the test above
