"""`phala-bridge transfer` refuses bad input before anything moves: one clear line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli.errors import UsageError
from bridge.cli.transfer_cmd import plan_transfer
from bridge.domains import Domain
from bridge.errors import InputError

ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_a_good_plan() -> None:
    plan = plan_transfer("ethereum", "phala", "12.5", ALICE)
    assert (plan.source, plan.dest) == (Domain.ETHEREUM, Domain.PHALA)
    assert plan.source_amount == 12_500_000_000_000_000_000 and plan.dest_amount == 12_500_000_000_000
    back = plan_transfer("Phala", "Ethereum", "0.000001", ETH)
    assert back.source_amount == 1_000_000 and back.dest_amount == 10**12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ethereum", "phala", "0.0000000000001", ALICE), "does not convert exactly"),
        (("phala", "ethereum", "1.0000000000001", ETH), "more than 12 decimal places"),
        (("ethereum", "phala", "0", ALICE), "must be positive"),
        (("ethereum", "phala", "ten", ALICE), "not a number"),
        (("ethereum", "solana", "1", ALICE), "unknown chain 'solana'"),
        (("ethereum", "ethereum", "1", ETH), "same chain"),
        (("ethereum", "phala", "1", ETH), "not an SS58 address"),
        (("phala", "ethereum", "1", ALICE), "not an Ethereum address"),
        (("phala", "ethereum", "1", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267"), "checksum"),
    ],
)
def test_bad_input_is_refused_with_the_reason(args: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises((InputError, UsageError), match=message):
        plan_transfer(*args)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_refuses_before_touching_any_chain(tmp_path: Path) -> None:
    # No network file exists in tmp_path: an input error must be reported before the network is even read.
    out = _cli(
        "transfer", "--from", "ethereum", "--to", "phala", "--amount", "1.0000000000000000001",
        "--recipient", ALICE, "--dev-account", "2", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "decimal places" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    out = _cli("transfer", "--from", "eth", "--to", "phala", "--amount", "1", "--recipient", ALICE, cwd=tmp_path)
    assert out.returncode == 2 and "unknown chain 'eth'" in out.stderr


def test_cli_needs_a_key_and_a_network(tmp_path: Path) -> None:
    out = _cli("transfer", "--from", "ethereum", "--to", "phala", "--amount", "1", "--recipient", ALICE, cwd=tmp_path)
    assert out.returncode == 2 and "sender's key" in out.stderr
    out = _cli(
        "transfer", "--from", "ethereum", "--to", "phala", "--amount", "1", "--recipient", ALICE,
        "--dev-account", "2", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2 and "no network file" in out.stderr


def test_status_refuses_a_malformed_reference(tmp_path: Path) -> None:
    out = _cli("status", "0x1234", cwd=tmp_path)
    assert out.returncode == 2 and "expected a 0x + 64 hex" in out.stderr
