"""Validated scalar types shared by the config models.

A rejected URL is named in its message only as `redact_url` shows it (scheme, host and port): an endpoint's user info,
path or query may hold a password or an API key, and messages end up in terminals, logs and bug reports."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from bridge.config.redact import redact_url

ZERO_ADDRESS = "0x" + "00" * 20


def _url(schemes: tuple[str, ...], *, keep_path: bool = False) -> AfterValidator:
    return AfterValidator(lambda value: _check_url(value, schemes, keep_path=keep_path))


def _check_url(value: str, schemes: tuple[str, ...], *, keep_path: bool = False) -> str:
    shown = redact_url(value, keep_path=keep_path)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a port that is not a number, a bracketed host that is not an IPv6 address
        raise ValueError(f"bad URL {shown!r}: invalid host or port") from None
    if parts.scheme not in schemes:
        allowed = f"one of {', '.join(schemes)}" if len(schemes) > 1 else schemes[0]
        raise ValueError(f"bad URL {shown!r}: scheme must be {allowed}")
    if parts.scheme == "sqlite":
        # SQLAlchemy's convention, which the store follows: sqlite:///relative.db, sqlite:////absolute.db
        if not value.startswith("sqlite:///") or value == "sqlite:///":
            raise ValueError(f"bad URL {shown!r}: use sqlite:///relative.db or sqlite:////absolute.db")
    elif not parts.hostname:
        raise ValueError(f"bad URL {shown!r}: no host")
    if port == 0:
        raise ValueError(f"bad URL {shown!r}: invalid port")
    return value


def _mqtt(value: str) -> str:
    """What the enclave's MQTT transport can use: plain mqtt://HOST[:PORT]. It has no TLS and no login (the broker is
    untrusted: every committee message is signed end to end), so either would be dropped or fail only at start."""
    shown = redact_url(value)
    if value.startswith("mqtts://"):
        raise ValueError(f"bad URL {shown!r}: mqtts:// (TLS) is not supported by the enclave transport; use mqtt://")
    _check_url(value, ("mqtt",))
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValueError(
            f"bad URL {shown!r}: the enclave transport does not log in to the broker; remove the user name and password"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"bad URL {shown!r}: the broker is mqtt://HOST[:PORT], without a path or query")
    return value


def _path(value: str) -> str:
    if not value.strip():  # Path("") is the current directory: for the devnet, the repository root
        raise ValueError("empty: give a path")
    return value


def _hex_address(value: str) -> str:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise ValueError(f"not a 20-byte hex address: {value!r}")
    if value == ZERO_ADDRESS:
        raise ValueError("the zero address is no contract: give the deployed one")
    return value


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value


# The Ethereum adapter and the client speak JSON-RPC over HTTP (the head subscription derives ws:// from it).
EthRpcUrl = Annotated[str, _url(("http", "https"))]
SubstrateUrl = Annotated[str, _url(("ws", "wss", "http", "https"))]
SubstrateWsUrl = Annotated[str, _url(("ws", "wss"))]  # what the relayer's and the enclave's Phala sessions open
MqttUrl = Annotated[str, AfterValidator(_mqtt)]
StoreUrl = Annotated[str, _url(("sqlite", "postgresql", "postgres"), keep_path=True)]
EthAddress = Annotated[str, AfterValidator(_hex_address)]
HostPort = Annotated[str, AfterValidator(_host_port)]
ConfigPath = Annotated[str, AfterValidator(_path)]  # a file or directory named in a config: never "" or blank
PositiveInt = Annotated[int, Field(gt=0)]
