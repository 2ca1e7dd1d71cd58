"""A key or seed file that holds raw bytes instead of hex text is refused in one line naming the file, never quoting a
byte of it (a UnicodeDecodeError's message does: "can't decode byte 0x94 in position 0" is a byte of the seed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app
from enclave_signer.process.setup import EnclaveStartError, read_seed
from relayers.ethereum.config import ConfigError, load_submitter_key

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
RAW = bytes([0x94, 0xFF, 0x10, 0xC3]) + os.urandom(28)  # not UTF-8 from its first byte


def _raw_file(path: Path) -> Path:
    path.write_bytes(RAW)
    path.chmod(0o600)
    return path


def _no_byte_of(text: str) -> None:
    assert "0x94" not in text and "\\x94" not in text and "position" not in text and "decode" not in text, text
    assert RAW.hex()[:8] not in text, text


def test_a_raw_platform_seed_file(tmp_path: Path) -> None:
    seed = _raw_file(tmp_path / "platform.seed")
    with pytest.raises(EnclaveStartError) as info:
        read_seed(seed)
    assert str(info.value) == f"platform seed file {seed}: not valid UTF-8 text (it holds the seed as hex digits)"
    _no_byte_of(str(info.value))


def test_enclave_info_with_a_raw_seed_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    seed = _raw_file(tmp_path / "platform.seed")
    config = tmp_path / "node.toml"
    config.write_text(EXAMPLE.replace("/etc/phala-bridge/platform-1.seed", str(seed)))
    result = CliRunner().invoke(app, ["enclave", "info", "--config", str(config)])
    assert result.exit_code == 1, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: platform seed file {seed}: not valid UTF-8 text (it holds the seed as hex digits)"]
    _no_byte_of(result.output)


def test_a_raw_submitter_key_file(tmp_path: Path) -> None:
    key = _raw_file(tmp_path / "relayer.key")
    with pytest.raises(ConfigError) as info:
        load_submitter_key(key)
    assert str(info.value) == f"submitter key file {key}: not valid UTF-8 text (it holds a 32-byte hex private key)"
    _no_byte_of(str(info.value))


def test_hex_files_still_load(tmp_path: Path) -> None:
    seed = tmp_path / "platform.seed"
    seed.write_text(RAW.hex() + "\n")
    seed.chmod(0o600)
    assert read_seed(seed) == RAW
    key = tmp_path / "relayer.key"
    key.write_text("0x" + "11" * 32)
    key.chmod(0o600)
    assert load_submitter_key(key).address.startswith("0x")
