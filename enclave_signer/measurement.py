"""The enclave's code measurement: what a quote attests to and what sealed data is bound to.

SHA-256 over every `.py` file of the `enclave_signer` package (confidential contracts shipped in the package
included), in sorted relative-path order, each as (path, contents) with length prefixes so no two trees hash the
same. A real TEE measures the loaded binary (MRENCLAVE / MRTD); this is the simulated platform's equivalent.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MEASUREMENT_SIZE", "Measurement", "current_measurement", "measure_tree"]

MEASUREMENT_SIZE = 32
_DOMAIN = b"phala-bridge/enclave-measurement/v1\x00"
_PACKAGE_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Measurement:
    """A 32-byte code measurement. Public: it appears in quotes, logs and the on-chain committee record."""

    value: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.value, bytes) or len(self.value) != MEASUREMENT_SIZE:
            raise ValueError(f"a measurement is {MEASUREMENT_SIZE} bytes")

    @classmethod
    def from_hex(cls, text: str) -> Measurement:
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise ValueError(f"measurement is not hex: {text!r}") from None
        return cls(raw)

    def hex(self) -> str:
        return self.value.hex()

    def short(self) -> str:
        """A prefix for logs and error messages."""
        return self.value.hex()[:16]

    def __repr__(self) -> str:
        return f"Measurement({self.value.hex()})"


def measure_tree(root: Path) -> Measurement:
    """Measure every `.py` file under `root` (recursively, `__pycache__` excluded)."""
    files = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if p.is_file() and "__pycache__" not in p.relative_to(root).parts
    )
    h = hashlib.sha256(_DOMAIN)
    h.update(len(files).to_bytes(4, "big"))
    for rel, path in files:
        name = rel.encode("utf-8")
        body = path.read_bytes()
        h.update(len(name).to_bytes(4, "big") + name)
        h.update(len(body).to_bytes(8, "big") + body)
    return Measurement(h.digest())


@functools.cache
def current_measurement() -> Measurement:
    """This process's measurement of the `enclave_signer` package, computed once (the code does not change under a
    running enclave; a new build is a new process with a new measurement)."""
    return measure_tree(_PACKAGE_ROOT)
