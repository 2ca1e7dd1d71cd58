"""structlog set-up: console output for people, JSON lines for machines. Events are names with fields, not prose.

A redaction processor drops any field whose name marks it as secret, as a last line of defence: code must not log
key material in the first place.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

_SECRET_MARKERS = ("secret", "private", "seed", "share_value", "password", "mnemonic", "signing_key", "nonce_secret")


def redact_secrets(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event[key] = "[redacted]"
    return event


def configure_logging(
    fmt: Literal["console", "json"] = "console",
    level: str = "info",
    stream: TextIO | None = None,
) -> None:
    out = stream or sys.stderr
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
