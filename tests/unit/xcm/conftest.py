"""Fixtures: real runtime metadata (see metadata.py), each loaded once per session (~1.5 s)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.xcm import metadata


@pytest.fixture(scope="session")
def load_runtime() -> Callable[[str], metadata.Runtime]:
    if not metadata.available():
        pytest.skip(f"no {metadata.METADATA_DIR}: run `make setup` (npm ci)")
    return metadata.load
