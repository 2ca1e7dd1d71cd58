"""The enclave modules' public API is what `__all__` says: every listed name exists, and nothing secret is in it."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "enclave_signer.identity",
    "enclave_signer.sealing",
    "enclave_signer.measurement",
    "enclave_signer.attestation",
    "enclave_signer.attestation.errors",
    "enclave_signer.attestation.platform",
    "enclave_signer.attestation.quote",
    "enclave_signer.attestation.roster",
    "enclave_signer.attestation.verifier",
    "enclave_signer.committee",
    "enclave_signer.committee.envelope",
    "enclave_signer.committee.errors",
    "enclave_signer.committee.memory_transport",
    "enclave_signer.committee.mqtt_transport",
    "enclave_signer.committee.replay",
    "enclave_signer.committee.transport",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exact(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported), "duplicates in __all__"
    assert [n for n in exported if not hasattr(module, n)] == []


def test_error_trees_subclass_builtins() -> None:
    from enclave_signer import attestation, committee, sealing

    assert issubclass(committee.EnvelopeRejectedError, ValueError)
    assert issubclass(committee.TransportError, RuntimeError)
    assert issubclass(attestation.QuoteRejectedError, ValueError)
    assert issubclass(sealing.UnsealError, ValueError)
    assert issubclass(sealing.InsecurePermissionsError, PermissionError)
    reasons = {
        cls.reason
        for cls in vars(committee).values()
        if isinstance(cls, type) and issubclass(cls, committee.EnvelopeRejectedError)
    }
    assert len(reasons) == 13  # one stable metric label per rejection kind (and the base)
