"""Start, stop and inspect the whole devnet."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import structlog

from bridge.config.schema import DevnetSection
from bridge.devnet.accounts import substrate_dev_accounts
from bridge.devnet.anvil import AnvilNode, start_anvil
from bridge.devnet.broker import BrokerNode, start_broker
from bridge.devnet.chopsticks import ParachainNetwork, ParachainSpec, start_parachains
from bridge.devnet.committee import BridgeCommittee
from bridge.devnet.processes import ProcessStartError, ProcessSupervisor
from bridge.devnet.state import (
    STATE_FILE_NAME,
    BrokerEndpoint,
    DevnetState,
    EthereumEndpoint,
    ParachainEndpoint,
    ProcessRecord,
)
from bridge.devnet.tools import PROJECT_ROOT, ToolMissingError

log = structlog.get_logger("devnet")


class DevnetError(RuntimeError):
    """The devnet could not start (a tool is missing, a process died, a readiness wait ran out)."""


class Devnet:
    """Owns the devnet's processes. Use as a context manager, or `start()` / `stop()`.

    Children are killed if this process dies (see processes.py), so create it from a thread that lives as long as
    the devnet should (the main thread, in practice).
    """

    def __init__(
        self,
        config: DevnetSection | None = None,
        *,
        work_dir: Path | None = None,
        committee: bool | None = None,
        enclave_builds: Mapping[int, Path] | None = None,
        relayer_builds: Mapping[int, Path] | None = None,
        committee_settings: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config or DevnetSection()
        # The bridge (enclaves + relayers) on top of the chains: on for `devnet up`, off for chain-only fixtures.
        self.with_committee = self.config.committee.enabled if committee is None else committee
        # Tests only (see BridgeCommittee): members whose enclave runs another copy of enclave_signer. Deliberately
        # not in DevnetSection, so no config file can ask for it.
        self.enclave_builds = dict(enclave_builds or {})
        self.relayer_builds = dict(relayer_builds or {})
        self.committee_settings = dict(committee_settings or {})
        base = Path(work_dir or self.config.work_dir)
        self.work_dir = (base if base.is_absolute() else PROJECT_ROOT / base).resolve()
        self.state_path = self.work_dir / STATE_FILE_NAME
        self.supervisor: ProcessSupervisor | None = None
        self.state: DevnetState | None = None
        self.anvil: AnvilNode | None = None
        self.parachains: ParachainNetwork | None = None
        self.broker: BrokerNode | None = None
        self.committee: BridgeCommittee | None = None

    def start(self, timeout: float = 90.0) -> DevnetState:
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = ProcessSupervisor(self.work_dir / "logs")
        cfg = self.config
        try:
            # Chopsticks is by far the slowest to come up, but start_parachains waits for it, so anvil and the
            # broker go first (each ready in well under a second).
            fixture = self._fixture_path()
            self.anvil = start_anvil(
                self.supervisor, chain_id=cfg.ethereum.chain_id, load_state=fixture, block_time=cfg.ethereum.block_time
            )
            self.broker = start_broker(self.supervisor, work_dir=self.work_dir, preference=cfg.broker.kind)
            funded = [a.public_key for a in substrate_dev_accounts()]
            self.parachains = start_parachains(
                self.supervisor,
                work_dir=self.work_dir,
                chains=[ParachainSpec("phala", cfg.phala.para_id), ParachainSpec("peer", cfg.peer.para_id)],
                funded_accounts=funded,
                timeout=timeout,
            )
        except (ProcessStartError, ToolMissingError, OSError) as exc:
            self.stop()
            raise DevnetError(str(exc)) from exc
        ready = time.monotonic() - started
        self.state = self._make_state(ready, fixture)
        if self.with_committee:
            self.state = self._start_committee(self.state, fixture)
        self.state.write(self.state_path)
        log.info("devnet_ready", seconds=round(ready, 2), state_file=str(self.state_path))
        return self.state

    def _start_committee(self, state: DevnetState, fixture: Path | None) -> DevnetState:
        from bridge.devnet.committee import BridgeCommittee, CommitteeError

        assert self.supervisor is not None
        if fixture is None:
            self.stop()
            raise DevnetError("the bridge needs the contracts: anvil-fixtures/devnet-state.json is missing")
        try:
            self.committee = BridgeCommittee(
                state, self.supervisor, self.work_dir, members=self.config.committee.members,
                threshold=self.config.committee.threshold, enclave_builds=self.enclave_builds,
                relayer_builds=self.relayer_builds, committee_settings=self.committee_settings,
            )  # fmt: skip
            self.committee.start()
        except (CommitteeError, ProcessStartError, OSError) as exc:
            self.stop()
            raise DevnetError(f"the bridge committee did not start: {exc}") from exc
        processes = [ProcessRecord(name=p.name, pid=p.pid, log=str(p.log_path)) for p in self.supervisor.processes]
        return state.model_copy(update={"processes": processes, "network_file": str(self.work_dir / "network.json")})

    def _fixture_path(self) -> Path | None:
        if not self.config.ethereum.fixture:
            return None
        path = Path(self.config.ethereum.fixture)
        path = path if path.is_absolute() else PROJECT_ROOT / path
        return path if path.exists() else None

    def _make_state(self, ready: float, fixture: Path | None) -> DevnetState:
        assert self.anvil and self.parachains and self.broker and self.supervisor
        nodes = self.parachains.nodes
        return DevnetState(
            work_dir=str(self.work_dir),
            supervisor_pid=os.getpid(),
            started_at=time.time(),
            ready_seconds=round(ready, 3),
            ethereum=EthereumEndpoint(
                rpc_url=self.anvil.rpc_url, chain_id=self.anvil.chain_id, fixture=str(fixture) if fixture else None
            ),
            phala=ParachainEndpoint(
                name="phala",
                para_id=nodes["phala"].para_id,
                ws_url=nodes["phala"].ws_url,
                http_url=nodes["phala"].http_url,
            ),
            peer=ParachainEndpoint(
                name="peer", para_id=nodes["peer"].para_id, ws_url=nodes["peer"].ws_url, http_url=nodes["peer"].http_url
            ),
            broker=BrokerEndpoint(kind=self.broker.kind, host=self.broker.host, port=self.broker.port),
            processes=[ProcessRecord(name=p.name, pid=p.pid, log=str(p.log_path)) for p in self.supervisor.processes],
        )

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop_all()
        if self.state is not None and self.state_path.exists():
            try:
                if DevnetState.read(self.state_path).supervisor_pid == os.getpid():
                    self.state_path.unlink()
            except (OSError, ValueError):
                pass
        self.state = None

    def __enter__(self) -> DevnetState:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
