"""Validated scalar types shared by the config models."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field


def _url(schemes: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ValueError(f"bad URL {value!r}: scheme must be one of {', '.join(schemes)}")
        if parts.scheme != "sqlite" and not parts.hostname:
            raise ValueError(f"bad URL {value!r}: no host")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"bad URL {value!r}: invalid port") from None
        return value

    return AfterValidator(check)


def _hex_address(value: str) -> str:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise ValueError(f"not a 20-byte hex address: {value!r}")
    return value


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value


EthRpcUrl = Annotated[str, _url(("http", "https", "ws", "wss"))]
SubstrateUrl = Annotated[str, _url(("ws", "wss", "http", "https"))]
MqttUrl = Annotated[str, _url(("mqtt", "mqtts"))]
StoreUrl = Annotated[str, _url(("sqlite", "postgresql", "postgres"))]
EthAddress = Annotated[str, AfterValidator(_hex_address)]
HostPort = Annotated[str, AfterValidator(_host_port)]
PositiveInt = Annotated[int, Field(gt=0)]
