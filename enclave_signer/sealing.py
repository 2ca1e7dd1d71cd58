"""Sealing: encrypt enclave secrets (key shares, the identity key) at rest, bound to the platform and the code.

The key is HKDF-SHA256(platform secret, measurement): another platform or another enclave build derives another
key and cannot unseal. Blob layout (version 1), everything before the nonce is also the AEAD associated data:

    b"PBSEAL" | version u8 | len u8 | purpose | measurement (32) | key check (8) | nonce (24) | XChaCha20-Poly1305

The measurement (public) and a key check value (8 bytes of HMAC under the derived key) in the header only serve
to tell "another build", "another platform" and "tampered" apart in errors; the AEAD is what protects the data.
Files are written atomically (temp file, fsync, rename) with mode 0600 in a 0700 directory owned by us.

    SealingError
    ├── UnsealError (ValueError)
    │   ├── MalformedSealError            not a sealed blob, or an unknown version
    │   ├── WrongPurposeError             sealed under another purpose label
    │   ├── WrongMeasurementError         sealed by another enclave build
    │   ├── WrongPlatformError            sealed on another platform (another platform secret)
    │   └── TamperedSealError             the AEAD rejected it
    └── InsecurePermissionsError (PermissionError)   a sealed file or its directory is open to others
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import structlog

from enclave_signer.measurement import MEASUREMENT_SIZE, Measurement, current_measurement

__all__ = [
    "InsecurePermissionsError",
    "MalformedSealError",
    "Sealer",
    "SealingError",
    "TamperedSealError",
    "UnsealError",
    "WrongMeasurementError",
    "WrongPlatformError",
    "WrongPurposeError",
    "hkdf_sha256",
]

_log = structlog.get_logger(__name__)

_MAGIC = b"PBSEAL"
_VERSION = 1
_KDF_SALT = b"phala-bridge/seal/v1"
_KEY_CHECK_LABEL = b"phala-bridge/seal/key-check"
_KEY_CHECK_SIZE = 8
_NONCE_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_MIN_SECRET = 32
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9._/-]{0,63}")


class SealingError(Exception):
    """Base of sealing errors. Messages name files, purposes and measurements, never key material."""


class UnsealError(SealingError, ValueError):
    """A blob could not be unsealed by this enclave."""


class MalformedSealError(UnsealError):
    """Not a sealed blob of a version we know."""


class WrongPurposeError(UnsealError):
    """The blob was sealed under another purpose label (e.g. an identity key where a key share was expected)."""


class WrongMeasurementError(UnsealError):
    """The blob was sealed by another enclave build; migrate it from that build (docs/enclave.md)."""


class WrongPlatformError(UnsealError):
    """The blob was sealed on another platform (another platform secret)."""


class TamperedSealError(UnsealError):
    """The header matches this enclave but authenticated decryption failed: the blob was modified."""


class InsecurePermissionsError(SealingError, PermissionError):
    """A sealed file or its directory is readable or writable by other users, or not owned by us."""


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF with SHA-256."""
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF output length out of range")
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


class Sealer:
    """Seals and unseals under (platform secret, measurement). The measurement defaults to this process's own."""

    def __init__(self, platform_secret: bytes, measurement: Measurement | None = None) -> None:
        if len(platform_secret) < _MIN_SECRET:
            raise ValueError(f"the platform secret must be at least {_MIN_SECRET} bytes")
        self.measurement = measurement or current_measurement()
        self._key = hkdf_sha256(platform_secret, salt=_KDF_SALT, info=self.measurement.value)
        self._key_check = hmac.new(self._key, _KEY_CHECK_LABEL, hashlib.sha256).digest()[:_KEY_CHECK_SIZE]

    def __repr__(self) -> str:
        return f"Sealer(measurement={self.measurement.short()}, key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Sealer holds a sealing key and cannot be pickled")

    def seal(self, data: bytes, *, purpose: str) -> bytes:
        header = self._header(purpose)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(data), header, nonce, self._key)
        return header + nonce + ct

    def unseal(self, blob: bytes, *, purpose: str) -> bytes:
        header, nonce, ct, sealed_purpose, measurement, key_check = _parse(blob)
        if sealed_purpose != purpose:
            raise WrongPurposeError(f"sealed as {sealed_purpose!r}, expected {purpose!r}")
        if measurement != self.measurement.value:
            raise WrongMeasurementError(
                f"sealed by enclave build {measurement.hex()[:16]}, this build is {self.measurement.short()}"
            )
        if not hmac.compare_digest(key_check, self._key_check):
            raise WrongPlatformError("sealed on another platform (the platform secret differs)")
        try:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, header, nonce, self._key)
        except nacl.exceptions.CryptoError:
            raise TamperedSealError(f"sealed {purpose!r} blob failed authentication: it was modified") from None

    def seal_to_file(self, path: Path, data: bytes, *, purpose: str) -> None:
        """Seal and write atomically: a crash leaves the old file or the new one, never a torn one."""
        blob = self.seal(data, purpose=purpose)
        directory = path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(directory, os.stat(directory), is_dir=True)
        tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)  # whatever the umask
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(directory)
        _log.info("sealed_file_written", path=str(path), purpose=purpose, size=len(blob))

    def unseal_file(self, path: Path, *, purpose: str) -> bytes:
        """Read and unseal; refuse a file (or directory) that other users can read or write."""
        _check_private(path.parent, os.stat(path.parent), is_dir=True)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink where a sealed file should be
                raise InsecurePermissionsError(f"{path} is a symlink; refusing to follow it") from None
            raise
        with os.fdopen(fd, "rb") as f:
            _check_private(path, os.fstat(f.fileno()), is_dir=False)
            blob = f.read()
        data = self.unseal(blob, purpose=purpose)
        _log.info("sealed_file_loaded", path=str(path), purpose=purpose)
        return data

    def _header(self, purpose: str) -> bytes:
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError(f"bad purpose label {purpose!r}: 1-64 of [a-z0-9._/-]")
        label = purpose.encode("ascii")
        return _MAGIC + bytes([_VERSION, len(label)]) + label + self.measurement.value + self._key_check


def _parse(blob: bytes) -> tuple[bytes, bytes, bytes, str, bytes, bytes]:
    fixed = len(_MAGIC) + 2
    if len(blob) < fixed or blob[: len(_MAGIC)] != _MAGIC:
        raise MalformedSealError("not a sealed blob")
    if blob[len(_MAGIC)] != _VERSION:
        raise MalformedSealError(f"unsupported sealed blob version {blob[len(_MAGIC)]}")
    n = blob[len(_MAGIC) + 1]
    header_len = fixed + n + MEASUREMENT_SIZE + _KEY_CHECK_SIZE
    if len(blob) < header_len + _NONCE_SIZE + 16:
        raise MalformedSealError("sealed blob is truncated")
    try:
        purpose = blob[fixed : fixed + n].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedSealError("sealed blob has a non-ASCII purpose label") from None
    measurement = blob[fixed + n : fixed + n + MEASUREMENT_SIZE]
    key_check = blob[fixed + n + MEASUREMENT_SIZE : header_len]
    nonce = blob[header_len : header_len + _NONCE_SIZE]
    return blob[:header_len], nonce, blob[header_len + _NONCE_SIZE :], purpose, measurement, key_check


def _check_private(path: Path, st: os.stat_result, *, is_dir: bool) -> None:
    kind = "directory" if is_dir else "file"
    if is_dir and not stat.S_ISDIR(st.st_mode):
        raise InsecurePermissionsError(f"{path} is not a directory")
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise InsecurePermissionsError(f"{path} is not a regular file")
    if st.st_uid != os.geteuid():
        raise InsecurePermissionsError(f"sealed {kind} {path} is owned by uid {st.st_uid}, not by us")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        want = "700" if is_dir else "600"
        raise InsecurePermissionsError(
            f"sealed {kind} {path} has mode {mode:o}: other users can access it; run `chmod {want} {path}`"
        )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
