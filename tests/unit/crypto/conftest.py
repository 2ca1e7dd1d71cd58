"""Fixtures for the threshold-crypto tests."""

from __future__ import annotations

import pytest

from enclave_signer.frost import Ciphersuite
from tests.unit.crypto.helpers import SUITES


@pytest.fixture(params=sorted(SUITES))
def suite(request: pytest.FixtureRequest) -> Ciphersuite:
    return SUITES[request.param]
