"""`[chains.phala] para_id` is checked against the node's `ParachainInfo.ParachainId` on each new connection."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from relayers.substrate.chain import ChainReader
from relayers.substrate.errors import ParaIdMismatch, SubstrateConnectionError
from relayers.substrate.session import ClientSession


class FakeReader:
    def __init__(self, para_id: int | None) -> None:
        self.served = para_id
        self.asked = 0
        self.client = self

    def para_id(self) -> int | None:
        self.asked += 1
        return self.served

    def close(self) -> None:
        pass


def _session(reader: FakeReader, para_id: int | None) -> ClientSession:
    session = ClientSession("ws://phala.example:9944", para_id=para_id)
    session._reader = cast(ChainReader, reader)  # an open connection, without a node
    return session


def test_the_configured_parachain_passes_and_is_asked_once_per_connection() -> None:
    reader = FakeReader(2035)
    session = _session(reader, 2035)
    assert session.run_sync(lambda r: "read") == "read"
    assert session.run_sync(lambda r: "again") == "again"
    assert reader.asked == 1


def test_another_parachain_is_refused_before_anything_is_read() -> None:
    reads: list[Any] = []
    session = _session(FakeReader(1000), 2035)
    with pytest.raises(ParaIdMismatch) as info:
        session.run_sync(reads.append)
    assert reads == []
    assert str(info.value) == (
        "the node at ws://phala.example:9944 serves parachain 1000, but the configuration says para_id 2035"
    )
    assert not info.value.retryable
    with pytest.raises(ParaIdMismatch):  # and stays refused
        session.run_sync(reads.append)


def test_a_chain_without_a_parachain_id_is_refused() -> None:
    with pytest.raises(ParaIdMismatch, match="serves no parachain id"):
        _session(FakeReader(None), 2035).run_sync(lambda r: None)


def test_a_reconnection_checks_again() -> None:
    reader = FakeReader(2035)
    session = _session(reader, 2035)
    session.run_sync(lambda r: None)

    def broken(_: Any) -> None:
        raise SubstrateConnectionError("gone")

    with pytest.raises(SubstrateConnectionError):
        session.run_sync(broken)
    assert session._reader is None
    reader.served = 1000  # the endpoint now serves another chain
    session._reader = cast(ChainReader, reader)
    with pytest.raises(ParaIdMismatch):
        session.run_sync(lambda r: None)


def test_without_para_id_nothing_is_checked() -> None:
    reader = FakeReader(None)
    assert _session(reader, None).run_sync(lambda r: 1) == 1
    assert reader.asked == 0


def test_the_relayer_stops_at_start_on_another_parachain_and_not_on_an_outage() -> None:
    from types import SimpleNamespace

    from bridge.cli.relayer_cmd import _check_phala_endpoint, _StartError

    wrong = SimpleNamespace(session=_session(FakeReader(1000), 2035))
    with pytest.raises(_StartError, match="serves parachain 1000, but the configuration says para_id 2035"):
        asyncio.run(_check_phala_endpoint(cast(Any, wrong)))
    down = ClientSession("ws://127.0.0.1:1", timeout=1.0, para_id=2035)  # nothing listens on port 1
    asyncio.run(_check_phala_endpoint(cast(Any, SimpleNamespace(session=down))))  # logged; the stages retry
