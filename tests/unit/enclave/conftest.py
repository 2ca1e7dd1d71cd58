"""Fixtures for the enclave unit tests (helpers live in helpers.py, shared with the devnet transport test)."""

from __future__ import annotations

import pytest

from tests.unit.enclave.helpers import Committee, build_committee


@pytest.fixture
def committee() -> Committee:
    return build_committee()
