"""Batching by size, time and gas budget: pure logic, the caller supplies the clock.

A batch closes when it holds `max_messages`, when adding the next message would exceed `max_gas`, or when its
oldest message has waited `max_wait` seconds. Messages keep their arrival order within a destination.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class BatchPolicy:
    max_messages: int = 100
    # Seconds a batch may wait for more messages. 0 (the default) closes it once nothing more is queued: the
    # pipeline signs one batch per destination at a time, so what arrives meanwhile forms the next batch, and a
    # watcher hands over whole finalized blocks at once; waiting only adds latency (docs/performance.md).
    max_wait: float = 0.0
    max_gas: int = 8_000_000
    base_gas: int = 60_000  # fixed cost of one batch transaction (signature check, calldata floor)

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.max_wait < 0 or self.max_gas <= self.base_gas:
            raise ValueError(f"invalid batch policy: {self}")


@dataclass
class _Open(Generic[T]):
    items: list[T] = field(default_factory=list)
    gas: int = 0
    opened_at: float = 0.0


class Batcher(Generic[T]):
    """Accumulates items per destination and hands out closed batches."""

    def __init__(self, policy: BatchPolicy, gas_of: Callable[[T], int]) -> None:
        self.policy = policy
        self._gas_of = gas_of
        self._open: dict[int, _Open[T]] = {}

    def add(self, destination: int, item: T, now: float) -> list[list[T]]:
        """Add one item; returns the batches this closed (zero or one)."""
        closed: list[list[T]] = []
        gas = self._gas_of(item)
        batch = self._open.get(destination)
        if batch is not None and batch.items and self.policy.base_gas + batch.gas + gas > self.policy.max_gas:
            closed.append(self._close(destination))
            batch = None
        if batch is None:
            batch = self._open[destination] = _Open(opened_at=now)
        batch.items.append(item)
        batch.gas += gas
        if len(batch.items) >= self.policy.max_messages:
            closed.append(self._close(destination))
        return closed

    def due(self, now: float) -> list[tuple[int, list[T]]]:
        """Batches whose oldest item has waited long enough."""
        ready = [d for d, b in self._open.items() if b.items and now - b.opened_at >= self.policy.max_wait]
        return [(d, self._close(d)) for d in ready]

    def next_deadline(self) -> float | None:
        times = [b.opened_at + self.policy.max_wait for b in self._open.values() if b.items]
        return min(times) if times else None

    def pending(self) -> int:
        return sum(len(b.items) for b in self._open.values())

    def _close(self, destination: int) -> list[T]:
        return self._open.pop(destination).items
