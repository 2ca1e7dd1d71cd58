"""Accounts that XCM origins become on a receiving chain, and the id a message is tracked by."""

from __future__ import annotations

import hashlib
import struct


def sibling_sovereign_account(para_id: int) -> bytes:
    """The account a sibling parachain acts as on another parachain: b"sibl" + para id (u32 LE), zero-padded."""
    return (b"sibl" + struct.pack("<I", para_id)).ljust(32, b"\0")


def parachain_sovereign_account(para_id: int) -> bytes:
    """The account a parachain acts as on its relay chain: b"para" + para id (u32 LE), zero-padded."""
    return (b"para" + struct.pack("<I", para_id)).ljust(32, b"\0")


def xcm_message_hash(encoded_versioned_xcm: bytes) -> bytes:
    """blake2b-256 of the SCALE `VersionedXcm` as sent: the hash `XcmpQueue.XcmpMessageSent` reports on the sender
    and `XcmpQueue.Success`/`Fail` report on the receiver. It is over the message after the sender converted it to
    the version the destination speaks, so compute it from the bytes actually sent (or read it from the event)."""
    return hashlib.blake2b(encoded_versioned_xcm, digest_size=32).digest()
