"""The devnet's MQTT broker: the machine's Mosquitto when installed (own config, own port), else an embedded one.

The committee treats the broker as untrusted transport, so a plain loopback listener without auth is fine here;
production points nodes at its own broker (see docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bridge.devnet.ports import free_port, port_is_open
from bridge.devnet.processes import ManagedProcess, ProcessStartError, ProcessSupervisor

BrokerKind = Literal["mosquitto", "embedded"]


@dataclass(frozen=True)
class BrokerNode:
    kind: BrokerKind
    host: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or (shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin"))


def choose_kind(preference: Literal["auto", "mosquitto", "embedded"]) -> BrokerKind:
    if preference == "auto":
        return "mosquitto" if mosquitto_binary() else "embedded"
    return preference


def start_broker(
    supervisor: ProcessSupervisor,
    *,
    work_dir: Path,
    preference: Literal["auto", "mosquitto", "embedded"] = "auto",
    port: int | None = None,
    name: str = "broker",
    timeout: float = 10.0,
) -> BrokerNode:
    kind = choose_kind(preference)
    port = port or free_port()
    if kind == "mosquitto":
        binary = mosquitto_binary()
        if binary is None:
            raise ProcessStartError(name, "mosquitto was requested but is not installed", "")
        conf = work_dir / f"{name}-mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {port} 127.0.0.1",
                    "allow_anonymous true",
                    # Stay the invoking user: dropping privileges would clear PR_SET_PDEATHSIG (see processes.py).
                    f"user {_current_user()}",
                    "persistence false",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "max_queued_messages 100000",
                    "set_tcp_nodelay true",  # committee rounds are latency-bound: ~91 ms -> ~11 ms p50
                    "",
                ]
            )
        )
        proc = supervisor.spawn(name, [binary, "-c", str(conf)])
    else:
        proc = supervisor.spawn(name, [sys.executable, "-m", "bridge.devnet.embedded_broker", "--port", str(port)])
    _wait_port(proc, port, timeout)
    return BrokerNode(kind=kind, host="127.0.0.1", port=port, process=proc)


def _wait_port(proc: ManagedProcess, port: int, timeout: float) -> None:
    proc.wait_for_log(lambda _text: port_is_open(port), timeout)


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
