"""Shared fixtures. `devnet` is the real thing: anvil, two Chopsticks parachains with XCMP, an MQTT broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet, DevnetState


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetState]:
    """One devnet for the whole session (start-up costs ~4 s). Tests must not assume fresh chains."""
    work_dir: Path = tmp_path_factory.mktemp("devnet")
    with Devnet(DevnetSection(), work_dir=work_dir) as state:
        yield state
