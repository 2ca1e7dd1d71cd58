"""The committee protocol modules' public API is what `__all__` says; the local API's schemas are pure (no I/O)."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "bridge.enclave_api",
    "enclave_signer.keystore",
    "enclave_signer.committee.admission",
    "enclave_signer.committee.channel",
    "enclave_signer.committee.heartbeat",
    "enclave_signer.committee.messages",
    "enclave_signer.committee.metrics",
    "enclave_signer.committee.node",
    "enclave_signer.committee.record",
    "enclave_signer.committee.verification",
    "enclave_signer.committee.sessions.common",
    "enclave_signer.committee.sessions.dkg",
    "enclave_signer.committee.sessions.reshare",
    "enclave_signer.committee.sessions.signing",
    "enclave_signer.committee.sessions.tdec",
    "enclave_signer.process",
    "enclave_signer.process.server",
    "relayers.enclave_client",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exact(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported), "duplicates in __all__"
    assert [n for n in exported if not hasattr(module, n)] == []


def test_session_errors_are_the_relayers_port_errors() -> None:
    from bridge.ports import SigningRefused, SigningUnavailable
    from enclave_signer.committee.sessions.common import SessionRefusedError, SessionUnavailableError

    assert issubclass(SessionRefusedError, SigningRefused)
    assert issubclass(SessionUnavailableError, SigningUnavailable)
    assert SessionRefusedError("x").code == "refused" and SessionUnavailableError("x").code == "unavailable"
