"""Bad config files: each kind of mistake gets one clear message naming the file, the key path and the problem,
a non-zero exit from the CLI, and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli.loading import load_config
from bridge.config import ConfigError, DevnetConfig, NodeConfig, parse_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()


def _node(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, NodeConfig, source="node.toml")
    return info.value


def test_shipped_configs_are_valid() -> None:
    for name in ("node.example.toml", "devnet.toml", "chains.toml"):
        out = subprocess.run(
            [sys.executable, "-m", "bridge.cli.main", "config", "check", str(ROOT / "config" / name)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert "ok" in out.stdout


def test_unknown_key() -> None:
    err = _node(EXAMPLE.replace('topic_prefix = "phala-bridge"', 'topic_prefix = "phala-bridge"\ntopic_prefx = "x"'))
    assert str(err) == "node.toml [broker]: unknown key 'topic_prefx'"


def test_unknown_key_in_chain_section() -> None:
    err = _node(EXAMPLE.replace("confirmations = 64", "confirmations = 64\nconfirmation = 3"))
    assert str(err) == "node.toml [chains.ethereum]: unknown key 'confirmation'"


def test_wrong_type() -> None:
    err = _node(EXAMPLE.replace("confirmations = 64", 'confirmations = "many"'))
    assert str(err).startswith("node.toml [chains.ethereum.confirmations]: wrong type")
    assert "'many'" in str(err)


def test_missing_value() -> None:
    err = _node(EXAMPLE.replace("member_index = 1 ", "# removed "))
    assert str(err) == "node.toml [node.member_index]: missing value"


def test_bad_url() -> None:
    err = _node(EXAMPLE.replace('url = "mqtt://127.0.0.1:1883"', 'url = "http://127.0.0.1:1883"'))
    assert str(err) == ("node.toml [broker.url]: bad URL 'http://127.0.0.1:1883': scheme must be mqtt")
    err = _node(EXAMPLE.replace('rpc_url = "https://ethereum-rpc.example.org"', 'rpc_url = "https://"'))
    assert str(err) == "node.toml [chains.ethereum.rpc_url]: bad URL 'https://': no host"


def test_bad_address_and_unknown_chain_kind() -> None:
    err = _node(EXAMPLE.replace('kind = "substrate"', 'kind = "solana"'))
    assert "[chains.phala.kind]" in str(err) and "'ethereum' or 'substrate'" in str(err)
    err = _node(EXAMPLE.replace("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", "0x1234"))
    assert str(err) == "node.toml [chains.ethereum.bridge_address]: not a 20-byte hex address: '0x1234'"


def test_several_problems_listed_together() -> None:
    text = EXAMPLE.replace("member_index = 1 ", "# ").replace("confirmations = 64", "confirmations = -1")
    err = _node(text)
    assert len(err.problems) == 2
    assert str(err).splitlines()[0] == "node.toml: 2 problems"
    assert {p.key_path for p in err.problems} == {"node.member_index", "chains.ethereum.confirmations"}


def test_bad_toml_names_the_line() -> None:
    err = _node("[node]\nname = \n")
    assert str(err).startswith("node.toml: not valid TOML:")
    assert "line 2" in str(err)


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match=r"threshold 6 exceeds members 5"):
        parse_config("[devnet.committee]\nmembers = 5\nthreshold = 6\n", DevnetConfig, source="devnet.toml")
    err = _node(EXAMPLE.replace("domain_id = 2", "domain_id = 1"))
    assert "share domain_id 1" in str(err)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: file not found$"):
        load_config(tmp_path / "nope.toml", NodeConfig)
    with pytest.raises(ConfigError, match=r"is a directory"):
        load_config(tmp_path, NodeConfig)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=r"not UTF-8 text"):
        load_config(binary, NodeConfig)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("confirmations = 64", "confirmations = 64\nconfirmation = 3"),
            "[chains.ethereum]: unknown key 'confirmation'",
        ),
        (("member_index = 1 ", "# "), "[node.member_index]: missing value"),
        (('rpc_url = "https://ethereum-rpc.example.org"', 'rpc_url = "ftp://x"'), "[chains.ethereum.rpc_url]: bad URL"),
        (("confirmations = 64", 'confirmations = "x"'), "[chains.ethereum.confirmations]: wrong type"),
    ],
)
def test_cli_reports_one_clear_line_and_exit_2(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(EXAMPLE.replace(*edit))
    out = subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", "config", "check", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {path} {expected}")
    assert "Traceback" not in out.stderr + out.stdout


def test_cli_devnet_with_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "devnet.toml"
    path.write_text("[devnet.broker]\nkind = 'rabbit'\n")
    out = subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", "devnet", "up", "--config", str(path), "--work-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert f"error: {path} [devnet.broker.kind]" in out.stderr
    assert "Traceback" not in out.stderr


def test_checkpoints_section() -> None:
    cfg = parse_config(EXAMPLE, NodeConfig, source="node.toml")
    assert cfg.checkpoints.enabled and cfg.checkpoints.every_blocks == 1000 and cfg.checkpoints.every_seconds == 600
    without = EXAMPLE[: EXAMPLE.index("[checkpoints]")] + EXAMPLE[EXAMPLE.index("\n[committee]\n") :]
    assert parse_config(without, NodeConfig, source="n").checkpoints == cfg.checkpoints  # the defaults
    off = parse_config(without + "[checkpoints]\nenabled = false\nevery_blocks = 5\n", NodeConfig, source="n")
    assert not off.checkpoints.enabled and off.checkpoints.every_blocks == 5
    err = _node(without + "[checkpoints]\nevery_blocks = 0\n")
    assert str(err).startswith("node.toml [checkpoints.every_blocks]:")
    err = _node(without + "[checkpoints]\nenable = false\n")
    assert str(err) == "node.toml [checkpoints]: unknown key 'enable'"
