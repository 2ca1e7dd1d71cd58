"""Logging (structlog) and metrics (Prometheus) foundations. Configure once, at a process's entry point."""

from bridge.telemetry.logging import configure_logging
from bridge.telemetry.metrics import new_registry

__all__ = ["configure_logging", "new_registry"]
