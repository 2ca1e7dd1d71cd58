"""Decoded chain events and dispatch errors, as plain values (no substrate-interface objects leak out)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# (pallet index, error index) -> (pallet name, error name, docs); answered from the runtime's metadata.
ModuleErrorLookup = Callable[[int, int], tuple[str, str, str]]


@dataclass(frozen=True)
class ChainEvent:
    pallet: str
    name: str
    attributes: Any  # as decoded by scalecodec: a dict for named fields, a tuple or single value otherwise
    extrinsic_index: int | None  # None for events emitted while initializing or finalizing the block

    def is_(self, pallet: str, name: str) -> bool:
        return self.pallet == pallet and self.name == name


@dataclass(frozen=True)
class DispatchFailure:
    """Why a dispatched call failed. For module errors `pallet` and `error` name it, e.g. Balances.InsufficientBalance;
    otherwise `kind` is the `DispatchError` variant (BadOrigin, Token, Arithmetic, ...) and `error` its detail."""

    kind: str
    pallet: str | None
    error: str
    docs: str = ""

    def __str__(self) -> str:
        if self.pallet:
            name = f"{self.pallet}.{self.error}"
        else:
            name = self.kind if self.error == self.kind else f"{self.kind}: {self.error}"
        return f"{name} ({self.docs})" if self.docs else name


def parse_events(raw: Iterable[Any]) -> list[ChainEvent]:
    """From substrate-interface's `get_events` records."""
    out = []
    for record in raw:
        value = record.value
        out.append(ChainEvent(value["module_id"], value["event_id"], value["attributes"], value["extrinsic_idx"]))
    return out


def decode_dispatch_error(value: Any, lookup: ModuleErrorLookup) -> DispatchFailure:
    """`value` is the decoded `DispatchError` from `System.ExtrinsicFailed` (or a `Utility` batch event)."""
    if isinstance(value, str):
        return DispatchFailure(kind=value, pallet=None, error=value)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, detail),) = value.items()
        if kind == "Module":
            pallet, error, docs = lookup(int(detail["index"]), _error_index(detail["error"]))
            return DispatchFailure(kind="Module", pallet=pallet, error=error, docs=docs)
        return DispatchFailure(kind=kind, pallet=None, error=str(detail))
    return DispatchFailure(kind="Unknown", pallet=None, error=repr(value))


def _error_index(raw: Any) -> int:
    # Older runtimes encode the module error as a u8; newer ones as [u8; 4] whose first byte is the index.
    if isinstance(raw, int):
        return raw
    return bytes.fromhex(str(raw).removeprefix("0x"))[0]
