"""Shared fixtures, and the order the suite runs in.

The devnets are real (anvil, two Chopsticks parachains with XCMP, an MQTT broker, and for the bridge five enclaves
and five relayers). Each one lives only as long as the tests that use it: `devnet` (tests/devnet/conftest.py) and
`bridge_devnet` (tests/e2e/shared/conftest.py) are package-scoped, and the e2e modules that start a committee of their
own run before the ones that share `bridge_devnet` (`pytest_collection_modifyitems` below). A devnet left running
beside another costs every process on the 2-core machine its share: with both shared ones up for the whole run, the
e2e modules' own devnets took ~65 s to start instead of ~36 s.

`make test` runs the suite on two pytest-xdist workers: most of an e2e test is waiting for blocks, confirmations and
grace periods, so one worker's devnet runs while the other's waits. Each devnet still belongs to one worker
(`pytest_xdist_make_scheduler`), so at most two run at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests check logic, not speed: on a loaded 2-core machine input generation can be slow, and a timing-based
# failure would be noise (speed is measured in bench/, never asserted in tests).
settings.register_profile("phala-bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("phala-bridge")


@pytest.fixture(autouse=True)
def _structlog_config_restored() -> Iterator[None]:
    """Whatever a test configures in structlog (a CLI command run in process configures logging to the stderr the
    runner lends it, and closes after), the next test starts from the configuration this one found."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def all_log_levels() -> Iterator[None]:
    """structlog's defaults (every level reaches the processors, so `capture_logs` sees info events) for one test,
    whatever an earlier test configured; the configuration is put back afterwards."""
    import structlog

    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


def _find_postgres() -> str | None:
    """A PostgreSQL server for tests: $PHALA_BRIDGE_TEST_PG, else the machine's 127.0.0.1:5432 (started when it is
    installed but stopped). None when there is no server to be had."""
    import os
    import shutil
    import subprocess

    import psycopg

    url = os.environ.get("PHALA_BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    for attempt in range(2):
        try:
            with psycopg.connect(url, connect_timeout=3):
                return url
        except psycopg.OperationalError:
            if attempt == 0 and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
                for version in os.listdir("/etc/postgresql"):
                    subprocess.run(
                        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                        capture_output=True,
                        check=False,
                    )
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = _find_postgres()
    if url is None:
        pytest.skip("no PostgreSQL server reachable (set PHALA_BRIDGE_TEST_PG)")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the real server, dropped afterwards."""
    import uuid

    import psycopg

    name = f"phala_bridge_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_group(nodeid: str) -> str:
    """The tests that must run in one process, one after another: a package sharing a devnet (tests/devnet, and
    tests/e2e/shared for `bridge_devnet`), else a module (its module-scoped fixtures: an e2e module's own devnet, a
    contracts module's anvil). Read off the test's path alone: the xdist controller that uses it collects nothing."""
    path = nodeid.split("::", 1)[0]
    for package in ("tests/devnet/", "tests/e2e/shared/"):
        if path.startswith(package):
            return package
    return path


# The order in which a parallel run hands out the groups: the shared bridge devnet's package (the longest) to one
# worker and the chains-only devnet package to the other, so that the run does not start with two committee devnets
# starting at once (their start is CPU-bound: ~45 s alone, ~75 s side by side); then the e2e modules with a devnet of
# their own; the short groups last, to even out the workers' ends.
_GROUP_ORDER = ("tests/e2e/shared/", "tests/devnet/", "tests/e2e/", "tests/contracts/", "tests/integration/", "tests/")


def _group_rank(item: pytest.Item) -> int:
    group = run_group(item.nodeid)
    return next(i for i, prefix in enumerate(_GROUP_ORDER) if group.startswith(prefix))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within the e2e package, the modules that start their own committee devnet first, then tests/e2e/shared (the
    modules that share `bridge_devnet`), so the shared one is started once, after the others stopped theirs, and
    stopped with its package. A stable sort: the order inside each group (and everywhere else) is the collection's.

    On an xdist worker (`make test` runs two), the groups are also put longest first: the controller hands them out
    in the order the workers collected them (`pytest_xdist_make_scheduler`)."""
    e2e = [i for i, item in enumerate(items) if item.nodeid.startswith("tests/e2e/")]
    if e2e:
        block = [items[i] for i in e2e]
        block.sort(key=lambda item: item.nodeid.startswith("tests/e2e/shared/"))
        for i, item in zip(e2e, block, strict=True):
            items[i] = item
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_group_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n N`: xdist's scope scheduling with our groups as the scopes (`run_group`), so each devnet is started
    by one worker and shared as in a serial run, and a worker takes the next group when it is nearly done with its
    own. Two committee devnets may then run at once, one per worker. `--dist each` and the like are left to xdist."""
    if config.getvalue("dist") not in ("load", "loadscope", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class DevnetGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type hints
        def _split_scope(self, nodeid: str) -> str:
            return run_group(nodeid)

    config.option.loadscopereorder = False  # keep the workers' order (longest first), not xdist's (most tests first)
    return DevnetGroupScheduling(config, log)
