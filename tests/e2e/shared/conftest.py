"""The one bridge devnet the modules of this package share (`bridge_devnet`): they only add to it (transfers, calls,
auctions, deployed targets) and each leaves it whole. Modules that break a devnet (faults, misbehaving leaders, a
rogue build, member restarts) start their own, one level up in tests/e2e/.

A package of its own so that the devnet's scope is a directory: pytest stops it after the package's last test, and
a parallel run (tests/conftest.py) gives the whole package to one worker by its path.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet


@pytest.fixture(scope="package")
def bridge_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The whole bridge: chains, broker, 5 enclaves (3-of-5) and 5 relayers, as `phala-bridge devnet up` runs it,
    shared by this package's modules (they run after the e2e modules with a devnet of their own: tests/conftest.py)."""
    devnet = Devnet(DevnetSection(), work_dir=tmp_path_factory.mktemp("bridge"), committee=True)
    devnet.start()
    try:
        yield devnet
    finally:
        devnet.stop()
