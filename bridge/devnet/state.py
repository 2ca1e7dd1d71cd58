"""The devnet state file: every endpoint and PID, so other processes (CLI, tests, relayers) can find the devnet."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EthereumEndpoint(_Model):
    rpc_url: str
    chain_id: int
    fixture: str | None = None  # the anvil state dump loaded at start, if any


class ParachainEndpoint(_Model):
    name: str
    para_id: int
    ws_url: str
    http_url: str


class BrokerEndpoint(_Model):
    kind: str
    host: str
    port: int


class ProcessRecord(_Model):
    name: str
    pid: int  # also the process group id: every child leads its own session
    log: str


class DevnetState(_Model):
    work_dir: str
    supervisor_pid: int
    started_at: float
    ready_seconds: float
    ethereum: EthereumEndpoint
    phala: ParachainEndpoint
    peer: ParachainEndpoint
    broker: BrokerEndpoint
    processes: list[ProcessRecord]
    network_file: str | None = None  # the bridge's description for clients (when the committee runs)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> DevnetState:
        return cls.model_validate_json(path.read_text())


STATE_FILE_NAME = "state.json"
