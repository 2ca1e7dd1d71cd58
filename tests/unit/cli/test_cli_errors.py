"""Bad input to every `phala-bridge` subcommand: a non-zero exit, one line naming the problem, never a traceback
(in process, through the one error wrapper: bridge/cli/errors.py). Store failures are in
tests/integration/test_store_errors.py (they need real SQLite files and PostgreSQL)."""

from __future__ import annotations

import json
import socket
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bridge.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
GOOD_ID = "0x" + "ab" * 32

# name -> (file contents, what the one line must say); None: no file at all
CONFIGS: dict[str, tuple[str | bytes | None, str]] = {
    "missing": (None, "file not found"),
    "not-toml": ("this is = = not toml [[[\n", "not valid TOML"),
    "not-utf8": (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    "wrong-type": (EXAMPLE.replace("member_index = 1 ", 'member_index = "one"'), "[node.member_index]: wrong type"),
    "unknown-key": (EXAMPLE.replace("[node]\n", "[node]\ncolour = 3\n"), "[node]: unknown key 'colour'"),
    "missing-key": (EXAMPLE.replace('name = "node-1"\n', ""), "[node.name]: missing value"),
}
NODE_COMMANDS = [
    ["enclave", "run"],
    ["enclave", "info"],
    ["committee", "dkg"],
    ["committee", "status"],
    ["committee", "reshare", "--new-members", "1,2", "--new-threshold", "1"],
    ["relayer", "run"],
    ["store", "show"],
    ["store", "rebind", "--yes"],
]


def _write(path: Path, content: str | bytes | None) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    return path


def _one_error_line(args: list[str], *expected: str, code: int = 2) -> str:
    result = CliRunner().invoke(app, args)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == code, (result.exit_code, output, result.exception)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for text in expected:
        assert text in lines[0], output
    return lines[0]


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("command", NODE_COMMANDS, ids=" ".join)
def test_a_bad_node_config(command: list[str], config: str, tmp_path: Path) -> None:
    content, expected = CONFIGS[config]
    path = _write(tmp_path / "node.toml", content)
    _one_error_line([*command, "--config", str(path)], str(path), expected)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_config_check(config: str, tmp_path: Path) -> None:
    content, expected = CONFIGS[config]
    path = _write(tmp_path / "node.toml", content)
    _one_error_line(["config", "check", str(path)], expected)


@pytest.mark.parametrize(
    "command", [["devnet", "up"], ["devnet", "down"], ["devnet", "status"], ["demo"]], ids=" ".join
)
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),  # a file the user names must exist (only the default may be absent)
        ("[[[", "not valid TOML"),
        ((ROOT / "config" / "devnet.toml").read_text().replace("[devnet]\n", "[devnet]\nbogus = 1\n", 1), "bogus"),
    ],
    ids=["missing", "not-toml", "unknown-key"],
)
def test_a_bad_devnet_config(command: list[str], content: str | None, expected: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "devnet.toml", content)
    _one_error_line([*command, "--config", str(path)], expected)


@pytest.mark.parametrize("command", [["devnet", "up"], ["devnet", "down"], ["devnet", "status"]], ids=" ".join)
def test_a_devnet_work_dir_that_is_a_file(command: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "a-file", "x")
    _one_error_line([*command, "--work-dir", str(path)], "is a file, not a directory")


@pytest.mark.parametrize(
    "ref", ["xyz", "0x1234", "0x" + "zz" * 32, "0x" + "ab" * 33, "", " ", GOOD_ID[2:] + "ab"], ids=repr
)
def test_status_refuses_a_bad_message_id(ref: str, tmp_path: Path) -> None:
    # Before the network file is read: the one given does not exist, and is not what is reported.
    _one_error_line(["status", ref, "--network", str(tmp_path / "none.json")], "0x + 64 hex message id")


NETWORK_FILES: dict[str, tuple[str | None, str]] = {
    "missing": (None, "no network file"),
    "not-json": ("{not json", "not a valid network file"),
    "empty": ("{}", "not a valid network file: name: Field required"),
    "directory": ("<dir>", "not a valid network file"),
}
NETWORK_COMMANDS = [
    ["status", GOOD_ID],
    ["call", "auction-open", "--dev-account", "0"],
    ["call", "auction-bid", "--auction", "1", "--amount", "5", "--dev-account", "0"],
    ["call", "auction-close", "--auction", "1", "--dev-account", "0"],
    ["call", "raw", "--contract-id", GOOD_ID, "--input", "0x00", "--dev-account", "0"],
    ["transfer", "--from", "ethereum", "--to", "phala", "--amount", "1", "--recipient", ALICE, "--dev-account", "0"],
]


@pytest.mark.parametrize("network", sorted(NETWORK_FILES))
@pytest.mark.parametrize("command", NETWORK_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_bad_network_file(command: list[str], network: str, tmp_path: Path) -> None:
    content, expected = NETWORK_FILES[network]
    path = tmp_path if content == "<dir>" else _write(tmp_path / "network.json", content)
    _one_error_line([*command, "--network", str(path)], str(path), expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["relayer", "run", "--keys-timeout", "0"], "--keys-timeout must be at least 1 s, got 0"),
        (["relayer", "run", "--keys-timeout", "-5"], "--keys-timeout must be at least 1 s, got -5"),
        (["relayer", "run", "--keys-timeout", "nan"], "--keys-timeout must be at least 1 s"),
        (["committee", "dkg", "--threshold", "0"], "--threshold must be at least 1, got 0"),
        (["committee", "dkg", "--timeout", "-1"], "--timeout must be at least 1 s, got -1"),
        (["committee", "dkg", "--participants", "0,-1"], "--participants: expected distinct member ids"),
        (
            ["committee", "reshare", "--new-members", "1,2", "--new-threshold", "0"],
            "--new-threshold must be at least 1",
        ),
        (["committee", "reshare", "--new-members", "1,2", "--new-threshold", "3"], "exceeds the 2 new members"),
        (["call", "auction-open", "--close-in", "0", "--dev-account", "0"], "--close-in must be at least 1 block"),
        (["call", "auction-open", "--timeout", "-3", "--dev-account", "0"], "--timeout must be at least 1 s"),
        (
            ["call", "auction-bid", "--auction", "1", "--amount", "0", "--dev-account", "0"],
            "--amount must be at least 1",
        ),
        (["call", "auction-bid", "--auction", "-1", "--amount", "5", "--dev-account", "0"], "positive uint256"),
        (["call", "auction-close", "--auction", "zz", "--dev-account", "0"], "an auction id is a number"),
        (["call", "raw", "--contract-id", "0x12", "--input", "0x00", "--dev-account", "0"], "32 bytes"),
        (["call", "raw", "--contract-id", GOOD_ID, "--input", "zz", "--dev-account", "0"], "are hex"),
        (
            ["transfer", "--from", "ethereum", "--to", "phala", "--amount", "-1", "--recipient", ALICE],
            "amount must be positive",
        ),
        (
            [
                "transfer",
                "--from",
                "ethereum",
                "--to",
                "phala",
                "--amount",
                "1",
                "--recipient",
                ALICE,
                "--timeout",
                "0",
            ],
            "--timeout must be at least 1 s, got 0",
        ),
        (
            ["devnet", "xcm-origin", "--phala", "ws://127.0.0.1:1", "--bridge-account", GOOD_ID, "--start-block", "-1"],
            "--start-block must be at least 0, got -1",
        ),
        (
            ["devnet", "xcm-origin", "--phala", "ws://127.0.0.1:1", "--bridge-account", "0x12", "--start-block", "0"],
            "not an SS58 address or 0x + 64 hex account id",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:3]),
)
def test_a_bad_numeric_or_id_option(args: list[str], expected: str, tmp_path: Path) -> None:
    # Every argument is checked before any file is read: the config and network file given here do not exist.
    extra = ["--config", str(tmp_path / "node.toml")] if args[0] in ("relayer", "committee") else []
    if args[0] in ("call", "transfer"):
        extra = ["--network", str(tmp_path / "none.json")]
    _one_error_line([*args, *extra], expected)


def test_an_endpoint_failing_under_a_command_is_one_line_not_a_traceback() -> None:
    # The last resort of the wrapper: a refused connection (no more specific handler) is named, exit 1.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = _one_error_line(
        [
            "devnet",
            "xcm-origin",
            "--phala",
            f"ws://127.0.0.1:{port}",
            "--bridge-account",
            GOOD_ID,
            "--start-block",
            "0",
        ],
        f"127.0.0.1:{port}",
        "Connection refused",
        code=1,
    )
    assert line.startswith("error: SubstrateConnectionError"), line


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["relayer", "run"], "--config"),  # a required option missing
        (["relayer", "run", "--config", "x.toml", "--keys-timeout", "soon"], "--keys-timeout"),  # not a number
        (["call", "auction-bid", "--auction", "1", "--amount", "lots"], "--amount"),
        (["status"], "'ref'"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_typer_own_usage_errors_name_the_option_without_a_traceback(args: list[str], option: str) -> None:
    # Syntax (a missing or non-numeric option) is typer's: its usage box, exit 2, the option named on one line.
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert any(option in line and ("Missing" in line or "Invalid" in line) for line in result.output.splitlines())


# -- the last resort: a failure of what the command talks to vs. a bug ----------------------------------------------


def _run_raising(exc: Exception) -> tuple[int, list[MutableMapping[str, Any]]]:
    from structlog.testing import capture_logs

    from bridge.cli.errors import handle_errors

    @handle_errors
    def command() -> None:
        raise exc

    with capture_logs() as logs:
        try:
            command()
        except typer.Exit as done:
            return int(done.exit_code), logs
    raise AssertionError("handle_errors let the command return")


def test_a_connection_failure_is_one_line_with_the_traceback_only_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    code, logs = _run_raising(ConnectionRefusedError(111, "Connection refused"))
    assert code == 1
    assert capsys.readouterr().err == "error: ConnectionRefusedError: [Errno 111] Connection refused\n"
    assert [(e["event"], e["log_level"]) for e in logs] == [("cli_failed", "debug")]


def test_a_client_library_error_counts_as_the_endpoints_failure(capsys: pytest.CaptureFixture[str]) -> None:
    from web3.exceptions import Web3RPCError

    code, logs = _run_raising(Web3RPCError("execution reverted"))
    assert code == 1 and "Web3RPCError: execution reverted" in capsys.readouterr().err
    assert [(e["event"], e["log_level"]) for e in logs] == [("cli_failed", "debug")]


def test_an_unexpected_exception_is_logged_at_error_level_with_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    # a bug in a daemon must leave its traceback in the JSON log for the report, not only at --log-level debug
    code, logs = _run_raising(KeyError("member"))
    assert code == 1
    assert capsys.readouterr().err == "error: KeyError: 'member'\n"
    (event,) = logs
    assert (event["event"], event["log_level"], event["exc_info"]) == ("cli_crashed", "error", True)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["committee", "records", "--phala", "foo"], "--phala: Value error, bad URL 'foo'"),
        (["committee", "records", "--phala", "ws://127.0.0.1:1", "--from-block", "-1"], "--from-block must be at"),
        (["committee", "records", "--phala", "ws://127.0.0.1:1", "--signer", "not-an-account"], "not-an-account"),
        (["committee", "publish", "--record", "/nonexistent/dkg.json"], "cannot read the record file"),
    ],
    ids=["bad-url", "negative-block", "bad-signer", "no-record-file"],
)
def test_committee_record_commands_refuse_bad_arguments_before_any_chain(args: list[str], says: str) -> None:
    _one_error_line(args, says)


def test_publish_refuses_a_record_that_is_not_one_and_a_missing_key(tmp_path: Path) -> None:
    record = _write(tmp_path / "dkg.json", '{"session_id": "0x00"}')
    _one_error_line(["committee", "publish", "--record", str(record)], "not a valid committee record")
    from tests.unit.core.test_committee_record import RECORD

    good = _write(tmp_path / "record.json", json.dumps(RECORD))
    _one_error_line(["committee", "publish", "--record", str(good), "--phala", "ws://127.0.0.1:1"], "--key-file")
    key = _write(tmp_path / "operator.key", "definitely not a uri c0ffee")
    line = _one_error_line(["committee", "publish", "--record", str(good), "--key-file", str(key)], "secret URI")
    assert "c0ffee" not in line


def test_record_commands_read_through_the_node_configs_phala_node(tmp_path: Path) -> None:
    # An operator passes its node config, not a URL: the command uses that config's Phala endpoint (here one that
    # refuses connections, so the failure names it).
    node = _write(tmp_path / "node.toml", EXAMPLE.replace("wss://phala-rpc.example.org", "ws://127.0.0.1:9"))
    line = _one_error_line(["committee", "records", "--config", str(node)], "127.0.0.1:9", code=1)
    assert "network file" not in line
