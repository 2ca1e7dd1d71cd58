"""Turn known failures into one clear line on stderr and an exit code; never a traceback for a user mistake.

Exit codes: 2 for bad input (config, arguments, files the user names: fix it and run again), 1 for a failure of
something the command needed (the enclave, a chain, the store, the devnet: see to it, or wait, and run again), 130
for Ctrl-C."""

from __future__ import annotations

import functools
import math
import sys
import traceback
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import structlog
import typer

from bridge.config import ConfigError
from bridge.config.redact import redact_urls
from bridge.devnet.manager import DevnetError
from bridge.devnet.tools import ToolMissingError
from bridge.errors import InputError, one_line
from relayers.store import StoreError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input: config, arguments

log = structlog.get_logger("cli")


class UsageError(ValueError):
    """A bad argument caught by our own checks (typer catches the syntactic ones)."""


def at_least(value: float, minimum: float, option: str, unit: str = "") -> None:
    """Refuse a numeric option below `minimum` (NaN too) in one line, as every other bad argument is refused (a
    typer `min=` answers with a usage panel instead)."""
    if math.isnan(value) or value < minimum:
        raise UsageError(f"{option} must be at least {minimum:g}{unit}, got {value:g}")


# Failures of what a command talks to, not of this code: our chain, enclave and store clients' errors, the OS's
# (connections, timeouts), and the client libraries' own (matched by module, so that importing the CLI does not
# import them all).
_CLIENT_LIBRARIES = ("web3", "eth_abi", "substrateinterface", "scalecodec", "websocket", "websockets", "requests",
                     "urllib3", "aiohttp", "paho", "aiomqtt", "psycopg")  # fmt: skip
_OUR_CLIENT_ERRORS = ("SubstrateError", "EthereumAdapterError", "BridgeContractError", "EnclaveClientError")


def _external_failure(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError):
        return True
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] in _CLIENT_LIBRARIES or cls.__name__ in _OUR_CLIENT_ERRORS:
            return True
    return False


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, UsageError, InputError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
        except (DevnetError, ToolMissingError, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILURE) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # the last resort: one line naming it
            # Client libraries put the endpoint in their messages ("Max retries exceeded with url: /v3/<key>",
            # "connect: wss://host/<key>"): the endpoint's path, query and user info may be its credentials.
            text = redact_urls(one_line(exc))
            if _external_failure(exc):
                # A chain or an endpoint failing under the command (a refused connection, a timeout, an RPC error):
                # `--log-level debug` shows where it came from (the frames, redacted as the line is).
                # (`exception` is what structlog renders exc_info as: the traceback, here redacted.)
                log.debug("cli_failed", error=text, exception=redact_urls("".join(traceback.format_exception(exc))))
            else:
                # Anything else may be a bug: its traceback is logged at error level (a daemon's JSON log keeps it
                # for the report).
                log.error("cli_crashed", error=text, exc_info=True)
            print(f"error: {exc.__class__.__name__}: {text}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper
