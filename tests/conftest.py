"""Shared fixtures. `devnet` is the real thing: anvil, two Chopsticks parachains with XCMP, an MQTT broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet, DevnetState

# Property tests check logic, not speed: on a loaded 2-core machine input generation can be slow, and a timing-based
# failure would be noise (speed is measured in bench/, never asserted in tests).
settings.register_profile("phala-bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("phala-bridge")


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetState]:
    """One devnet for the whole session (start-up costs ~4 s): the chains and the broker, no committee. Tests must
    not assume fresh chains."""
    work_dir: Path = tmp_path_factory.mktemp("devnet")
    with Devnet(DevnetSection(), work_dir=work_dir, committee=False) as state:
        yield state


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


@pytest.fixture(scope="session")
def bridge_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The whole bridge: chains, broker, 5 enclaves (3-of-5) and 5 relayers, as `phala-bridge devnet up` runs it."""
    work_dir: Path = tmp_path_factory.mktemp("bridge")
    devnet = Devnet(DevnetSection(), work_dir=work_dir, committee=True)
    devnet.start()
    try:
        yield devnet
    finally:
        devnet.stop()
