"""Shared by the store and status integration tests: a real store of each kind, and a plain transfer message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.messages import BridgeMessage, MessageKind, SourceRef
from relayers.store import SqlStore, open_store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on a fresh SQLite file, then on a fresh PostgreSQL database (skipped where there is no server)."""
    url = f"sqlite:///{tmp_path}/store.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = open_store(url)
    yield s
    s.close()


def transfer_message(nonce: int) -> BridgeMessage:
    """A transfer from Ethereum into Phala, to a plain account, whose every field follows from `nonce`."""
    return BridgeMessage(
        source_domain=1, dest_domain=2, nonce=nonce, kind=MessageKind.TRANSFER, sender=b"\x11" * 20,
        recipient=b"\x22" * 32, resource_id=b"\x33" * 32, source_amount=nonce * 10**18, amount=nonce * 10**12,
        source=SourceRef(block_number=10 + nonce, block_hash=b"\x44" * 32, tx_hash=bytes([nonce]) * 32, index=0),
    )  # fmt: skip
