"""The chains-only devnet the tests here share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet, DevnetState


@pytest.fixture(scope="package")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetState]:
    """One devnet for this package (start-up costs ~4 s): the chains and the broker, no committee. Tests must not
    assume fresh chains. Stopped when the package is done, so it does not run beside the e2e modules' devnets."""
    work_dir: Path = tmp_path_factory.mktemp("devnet")
    with Devnet(DevnetSection(), work_dir=work_dir, committee=False) as state:
        yield state
