"""The devnet's listener ports stay out of the kernel's range for outgoing connections (bridge/devnet/ports.py)."""

from __future__ import annotations

import random
import socket

import pytest

from bridge.devnet import ports


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    start = ports._ephemeral_start()
    for _ in range(20):
        port = ports.free_port()
        assert ports._LOWEST <= port < start
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))  # raises if the choice was taken


def test_a_port_with_a_listener_is_never_chosen() -> None:
    seed = 7
    first = ports.free_port(rng=random.Random(seed))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        again = ports.free_port(rng=random.Random(seed))  # the same draws: the first is now taken
        assert again != first


def test_without_room_below_the_range_the_kernel_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = ports._ephemeral_start()
    monkeypatch.setattr(ports, "_ephemeral_start", lambda: ports._LOWEST + 10)
    assert ports.free_port() >= real_start  # bound to port 0: the kernel's own choice, from its range
