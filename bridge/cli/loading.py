"""Read a config file from disk and validate it (the file I/O the pure `bridge.config` leaves to its callers)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from bridge.config import ConfigError, parse_config
from bridge.config.errors import ConfigProblem

M = TypeVar("M", bound=BaseModel)


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
