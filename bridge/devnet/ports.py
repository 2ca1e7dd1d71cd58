"""Free TCP ports on loopback, for the devnet's listeners.

A port is chosen now and bound later by another process (anvil, Chopsticks, a relayer's status server), sometimes
tens of seconds later. Ports the kernel hands out for outgoing connections (its ephemeral range) are therefore
avoided: the devnet itself opens hundreds of client connections (RPC, WebSocket subscriptions, MQTT), and one of
them landing on a port chosen this way made a relayer fail with "address already in use". Below the ephemeral
range only another listener can take the port, and `free_port` checks that none does at the time of the choice.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000  # clear of well-known and registered services commonly run on developer machines
_DEFAULT_EPHEMERAL_START = 32768  # Linux's default, when /proc does not say


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1", *, rng: random.Random | None = None) -> int:
    """A port nobody listens on right now, outside the kernel's range for outgoing connections when there is room
    below it (else any free port the kernel picks). Still racy against other listeners; callers retry on a clash."""
    pick = rng or random.SystemRandom()
    top = _ephemeral_start()
    if top - _LOWEST >= 1000:
        for _ in range(64):
            port = pick.randrange(_LOWEST, top)
            if _bindable(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
