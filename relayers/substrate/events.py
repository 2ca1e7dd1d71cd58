"""Decoded chain events and dispatch errors, as plain values (no substrate-interface objects leak out)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

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
    """`value` is the decoded `DispatchError` from `System.ExtrinsicFailed` (or a `Utility` batch event). Never
    raises on the value's shape: one this module does not know is reported with a bounded repr of it."""
    if isinstance(value, str):
        return DispatchFailure(kind=value[:_MAX_TEXT], pallet=None, error=value[:_MAX_TEXT])
    if isinstance(value, dict) and len(value) == 1:
        ((kind, detail),) = value.items()
        if kind == "Module":
            indices = _module_indices(detail)
            if indices is None:
                return DispatchFailure(kind="Module", pallet=None, error=_show(detail))
            pallet, error, docs = lookup(*indices)
            return DispatchFailure(kind="Module", pallet=pallet, error=error, docs=docs)
        return DispatchFailure(kind=str(kind)[:_MAX_TEXT], pallet=None, error=str(detail)[:_MAX_TEXT])
    return DispatchFailure(kind="Unknown", pallet=None, error=_show(value))


_MAX_TEXT = 200  # the value comes from the chain: keep what we carry and log bounded


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _module_indices(detail: Any) -> tuple[int, int] | None:
    """(pallet index, error index) of a `ModuleError { index: u8, error }`; None for any other shape."""
    if not isinstance(detail, dict):
        return None
    index, error = detail.get("index"), _error_index(detail.get("error"))
    if not _is_u8(index) or error is None:
        return None
    return index, error


def _error_index(raw: Any) -> int | None:
    # Older runtimes encode the module error as a u8; newer ones as [u8; 4] whose first byte is the index.
    if isinstance(raw, str):
        try:
            raw = bytes.fromhex(raw.removeprefix("0x"))
        except ValueError:
            return None
    if isinstance(raw, bytes | list | tuple):  # [u8; 4] as hex, bytes or a list
        raw = raw[0] if raw else None
    return raw if _is_u8(raw) else None


def _is_u8(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255
