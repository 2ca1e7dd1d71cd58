"""Every config key the docs name (`[section] key` in code spans, and ```toml blocks) is a key of the schema.

The schema refuses unknown keys, so an operator who copies a renamed key from the docs gets a refusal; this makes
the docs fail first. Values are not checked (the docs show placeholders such as "0x..."); the shipped configs are
parsed in full by test_config_errors.py."""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bridge.config.schema import DevnetConfig, NodeConfig

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return []


def _resolve(path: list[str]) -> bool:
    """Whether a dotted key path names a field of node.toml or devnet.toml (a dict level takes any name)."""

    def walk(model: type[BaseModel], rest: list[str]) -> bool:
        if not rest:
            return True
        field = model.model_fields.get(rest[0])
        if field is None:
            return False
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:  # e.g. chains.<name>, resources.<name>
            value_models = _models(typing.get_args(annotation)[1])
            return len(rest) == 1 or any(walk(m, rest[2:]) for m in value_models) or not value_models
        if typing.get_origin(annotation) is list:  # an array of tables, e.g. [[...min_deposit.<chain>.changes]]
            annotation = typing.get_args(annotation)[0]
        models = _models(annotation)
        return len(rest) == 1 or any(walk(m, rest[1:]) for m in models)

    return walk(NodeConfig, path) or walk(DevnetConfig, path)


def _documented() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for doc in DOCS:
        text = doc.read_text()
        name = str(doc.relative_to(ROOT))
        for section, keys in re.findall(r"`\[([a-z_.]+)\]([^`]*)`", text):
            head = section.split(".")
            found.append((f"{name}: [{section}]", head))
            for key in re.findall(r"(?:^|,)\s*([a-z_]+)", keys.split("=")[0]):
                found.append((f"{name}: [{section}] {key}", [*head, key]))
        for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S):
            for path in _paths(tomllib.loads(block)):
                found.append((f"{name}: toml block key {'.'.join(path)}", path))
    return found


def _paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[list[str]]:
    out: list[list[str]] = []
    for key, value in table.items():
        path = [*prefix, key]
        out.append(path)
        if isinstance(value, dict):
            out.extend(_paths(value, tuple(path)))
        elif isinstance(value, list):  # an array of tables: each table's keys under the array's name
            for item in value:
                if isinstance(item, dict):
                    out.extend(_paths(item, tuple(path)))
    return out


def test_the_docs_name_keys() -> None:
    where = " ".join(w for w, _ in _documented())
    assert "[checkpoints] every_blocks" in where and "toml block key chains.phala.gateway.reserve_account" in where


@pytest.mark.parametrize("path", [pytest.param(p, id=w) for w, p in _documented()])
def test_documented_key_exists(path: list[str]) -> None:
    assert _resolve(path)


def test_the_guard_catches_a_wrong_key() -> None:
    assert _resolve(["chains", "phala", "gateway", "parachains", "peer", "min_fee"])
    assert _resolve(["devnet", "committee", "threshold"])
    assert not _resolve(["chains", "phala", "gateway", "parachains", "peer", "min_fees"])
    assert not _resolve(["checkpoints", "every_block"])
    assert not _resolve(["chains", "phala", "bridge_account"])
    assert not _resolve(["committee", "verifyer"])
    assert _resolve(["chains", "phala", "min_deposit", "ethereum", "changes", "from_block"])
    assert not _resolve(["chains", "phala", "min_deposit", "ethereum", "changes", "from_blok"])
    assert ["chains", "phala", "min_deposit", "ethereum", "changes", "from_block"] in [p for _, p in _documented()]
