"""Read what a command is given from disk and validate it: config files (the file I/O the pure `bridge.config`
leaves to its callers), the network file the devnet writes, and key files."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError

from bridge.cli.errors import UsageError
from bridge.config import ConfigError, parse_config
from bridge.config.errors import ConfigProblem
from bridge.errors import validation_problems
from bridge.network import NetworkInfo

M = TypeVar("M", bound=BaseModel)

DEFAULT_NETWORK = Path(".devnet/network.json")
NetworkOpt = typer.Option(DEFAULT_NETWORK, "--network", help="the bridge's network file (the devnet writes one)")


def load_config(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigProblem("", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [ConfigProblem("", "is a directory, not a file")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [ConfigProblem("", "not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, model, source=str(path))


def load_network(path: Path) -> NetworkInfo:
    try:
        return NetworkInfo.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no network file (start the devnet with `phala-bridge devnet up`)") from None
    except ValidationError as exc:
        # Where and what, never the value (a network file is not secret, but the rule holds for every input).
        raise UsageError(f"{path}: not a valid network file: {validation_problems(exc)}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a valid network file ({exc.__class__.__name__})") from None


def read_key_file(key_file: Path | None) -> str | None:
    """A secret from a file (a hex private key or a secret URI); never echoed in an error."""
    if key_file is None:
        return None
    try:
        return key_file.read_text().strip()
    except OSError as exc:
        raise UsageError(f"{key_file}: cannot read the key file ({exc.strerror})") from None
