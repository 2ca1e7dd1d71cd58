"""TOML text -> validated model, with every mistake turned into a ConfigProblem (never a traceback)."""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bridge.config.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=BaseModel)


def parse_config(text: str, model: type[M], *, source: str) -> M:
    """Parse TOML `text` (read from `source`, used only in messages) into `model`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("", f"not valid TOML: {exc}")]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_problem(err) for err in exc.errors()]) from None


def _problem(err: object) -> ConfigProblem:
    assert isinstance(err, dict)
    loc = [str(part) for part in err.get("loc", ())]
    kind = err.get("type", "")
    # Discriminated unions add the tag to the location ("chains.eth.ethereum.rpc_url"); drop it.
    if len(loc) >= 3 and loc[0] == "chains" and loc[2] in ("ethereum", "substrate"):
        loc = loc[:2] + loc[3:]
    value = err.get("input")
    if kind == "extra_forbidden":
        return ConfigProblem(".".join(loc[:-1]), f"unknown key {loc[-1]!r}")
    if kind == "missing":
        return ConfigProblem(".".join(loc), "missing value")
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return ConfigProblem(".".join([*loc, "kind"]), f"must be 'ethereum' or 'substrate' (got {_tag(value)!r})")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"wrong type: {msg.lower()} (got {type(value).__name__} {value!r})"
    return ConfigProblem(".".join(loc), msg)


def _tag(value: object) -> object:
    return value.get("kind") if isinstance(value, dict) else value
