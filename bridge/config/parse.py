"""TOML text -> validated model, with every mistake turned into a ConfigProblem (never a traceback)."""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bridge.config.errors import ConfigError, ConfigProblem
from bridge.config.redact import redact_urls

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
        return ConfigProblem(".".join([*loc, "kind"]), f"must be 'ethereum' or 'substrate' (got {_shown(_tag(value))})")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"wrong type: {msg.lower()} (got {_shown(value)})"
    return ConfigProblem(".".join(loc), msg)


def _tag(value: object) -> object:
    return value.get("kind") if isinstance(value, dict) else value


# TOML's names for what tomllib returns
_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}


def _shown(value: object) -> str:
    """A wrong value as the message names it: its TOML type, and the value itself when it is a scalar (a string with
    any URL in it redacted: the value may be an endpoint with its key, put under the wrong key)."""
    name = _TOML_TYPES.get(type(value), type(value).__name__)
    if isinstance(value, bool):
        return f"{name} {str(value).lower()}"
    if isinstance(value, str):
        text = redact_urls(value)
        return f"{name} {(text if len(text) <= 80 else text[:77] + '...')!r}"
    if isinstance(value, int | float):
        return f"{name} {value!r}"
    return name
