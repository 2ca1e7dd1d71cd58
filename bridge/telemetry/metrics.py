"""Prometheus metrics. Each daemon owns its registry (no process-global default registry), so tests and several
in-process components never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def build_info(registry: CollectorRegistry, version: str, component: str) -> Gauge:
    gauge = Gauge("phala_bridge_build_info", "Build information", ["version", "component"], registry=registry)
    gauge.labels(version=version, component=component).set(1)
    return gauge


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
