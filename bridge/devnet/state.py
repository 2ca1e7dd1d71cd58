"""The devnet state file: every endpoint and PID, so other processes (CLI, tests, relayers) can find the devnet.

A PID alone does not name a process for long: once the process is gone (a crash, a reboot) the number goes to
another. So the file also records, for the supervisor and every child, the process's start time (Linux: its
`/proc/<pid>/stat` start, in clock ticks since boot) and the boot it started in: `devnet down` signals a PID only
while both still match (bridge/devnet/control.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# A process (and process group) to signal: never 0 (our own group), -1 (every process we may signal) or 1 (init).
# 4194304 is Linux's largest PID (PID_MAX_LIMIT).
Pid = Annotated[int, Field(gt=1, le=4_194_304)]


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
    pid: Pid  # also the process group id: every child leads its own session
    log: str
    started: int | None = None  # its start, as `process_start` reads it; filled in by `DevnetState.write`


class DevnetState(_Model):
    work_dir: str
    supervisor_pid: Pid
    started_at: float
    ready_seconds: float
    ethereum: EthereumEndpoint
    phala: ParachainEndpoint
    peer: ParachainEndpoint
    broker: BrokerEndpoint
    processes: list[ProcessRecord]
    network_file: str | None = None  # the bridge's description for clients (when the committee runs)
    supervisor_started: int | None = None  # as ProcessRecord.started
    boot_id: str | None = None  # the boot the processes started in (`current_boot_id`)

    def write(self, path: Path) -> None:
        """Written by the supervisor while its processes run: their start times are recorded here."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.with_identities().model_dump_json(indent=2))
        os.replace(tmp, path)

    def with_identities(self) -> DevnetState:
        """This state with the start time of every process (and the boot id) that is not recorded yet."""
        processes = [
            p if p.started is not None else p.model_copy(update={"started": process_start(p.pid)})
            for p in self.processes
        ]
        return self.model_copy(
            update={
                "processes": processes,
                "supervisor_started": self.supervisor_started
                if self.supervisor_started is not None
                else process_start(self.supervisor_pid),
                "boot_id": self.boot_id if self.boot_id is not None else current_boot_id(),
            }
        )

    @classmethod
    def read(cls, path: Path) -> DevnetState:
        return cls.model_validate_json(path.read_text())


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22); None if there is no such
    process or no /proc to ask."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name (field 2) is in parentheses and may hold spaces or ")": split after the last one
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def current_boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


STATE_FILE_NAME = "state.json"
