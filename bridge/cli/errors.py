"""Turn known failures into one clear line on stderr and an exit code; never a traceback for a user mistake."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from bridge.config import ConfigError
from bridge.devnet.manager import DevnetError
from bridge.devnet.tools import ToolMissingError
from relayers.store import StoreError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input: config, arguments


class UsageError(ValueError):
    """A bad argument caught by our own checks (typer catches the syntactic ones)."""


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, UsageError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
        except (DevnetError, ToolMissingError, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILURE) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper
