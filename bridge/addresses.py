"""Recipient and sender addresses: parsed and checked before anything moves.

Ethereum: 20 bytes, `0x` + 40 hex digits; mixed case must carry a valid EIP-55 checksum (a typo in a checksummed
address is caught). Substrate: a 32-byte account id, as SS58 (any network prefix, checksum verified) or `0x` + 64 hex.
"""

from __future__ import annotations

import re

from eth_utils.address import is_checksum_address, to_checksum_address
from scalecodec.utils.ss58 import ss58_decode, ss58_encode

from bridge.errors import AddressError

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX64 = re.compile(r"0x[0-9a-fA-F]{64}")


def parse_eth_address(text: str) -> bytes:
    s = text.strip()
    if not _HEX40.fullmatch(s):
        raise AddressError(f"not an Ethereum address (0x + 40 hex digits): {text!r}")
    body = s[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(s):
        raise AddressError(f"Ethereum address {text!r} has a wrong EIP-55 checksum (a mistyped character?)")
    raw = bytes.fromhex(body)
    if raw == bytes(20):
        raise AddressError("the zero address cannot receive funds")
    return raw


def format_eth_address(raw: bytes) -> str:
    if len(raw) != 20:
        raise AddressError(f"an Ethereum address is 20 bytes, got {len(raw)}")
    return str(to_checksum_address("0x" + raw.hex()))


def parse_substrate_account(text: str) -> bytes:
    s = text.strip()
    if _HEX64.fullmatch(s):
        raw = bytes.fromhex(s[2:])
    else:
        try:
            raw = bytes.fromhex(ss58_decode(s))
        except (ValueError, IndexError, TypeError) as exc:
            raise AddressError(f"not an SS58 address or 0x + 64 hex account id: {text!r} ({exc})") from None
        if len(raw) != 32:
            raise AddressError(f"{text!r} decodes to {len(raw)} bytes; an account id is 32 bytes")
    if raw == bytes(32):
        raise AddressError("the zero account cannot receive funds")
    return raw


def format_substrate_account(raw: bytes, ss58_format: int = 42) -> str:
    if len(raw) != 32:
        raise AddressError(f"an account id is 32 bytes, got {len(raw)}")
    return str(ss58_encode(raw.hex(), ss58_format=ss58_format))
