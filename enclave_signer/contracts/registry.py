"""The contracts this enclave build runs, by contract id. The code is part of the enclave's measurement; the
deployment parameters (e.g. the auction's settlement address) are part of each contract's id."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from enclave_signer.contracts.base import ConfidentialContract

__all__ = ["AnyContract", "Registry"]

AnyContract = ConfidentialContract[Any, Any]


class Registry:
    def __init__(self, contracts: Iterable[AnyContract] = ()) -> None:
        self._by_id: dict[bytes, AnyContract] = {}
        for c in contracts:
            if len(c.contract_id) != 32:
                raise ValueError(f"contract {c.name}: an id is 32 bytes")
            if c.contract_id in self._by_id:
                raise ValueError(f"contract {c.name}: id {c.contract_id.hex()} registered twice")
            self._by_id[c.contract_id] = c

    def get(self, contract_id: bytes) -> AnyContract | None:
        return self._by_id.get(contract_id)

    def __contains__(self, contract_id: object) -> bool:
        return contract_id in self._by_id

    def __iter__(self) -> Iterator[AnyContract]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
