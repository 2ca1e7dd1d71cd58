"""Domain ids: the bridge's own small numbers for chains (1 byte on the wire, in nonce keys and message ids)."""

from __future__ import annotations

from enum import IntEnum

from bridge.errors import UnknownChainError


class Domain(IntEnum):
    ETHEREUM = 1
    PHALA = 2


def domain_by_name(name: str) -> Domain:
    try:
        return Domain[name.strip().upper()]
    except KeyError:
        known = ", ".join(d.name.lower() for d in Domain)
        raise UnknownChainError(f"unknown chain {name!r}; known chains: {known}") from None


def domain_by_id(domain_id: int) -> Domain:
    try:
        return Domain(domain_id)
    except ValueError:
        raise UnknownChainError(f"unknown domain id {domain_id}") from None
