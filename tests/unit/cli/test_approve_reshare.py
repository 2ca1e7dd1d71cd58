"""`committee approve-reshare`: the operator's approval of a resharing, refused before the enclave is asked when it
could never be valid (docs/committee.md, "Resharing")."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app


@pytest.mark.parametrize(
    ("members", "threshold", "ttl", "expected"),
    [
        ("1,2,3,4,5", "2", "3600", "at least a majority of 5 (3)"),
        ("5", "2", "3600", "exceeds the 1 new members"),
        ("1,2,3", "0", "3600", "--new-threshold"),
        ("1,2,3", "2", "0", "--ttl 0"),
        ("1,2,3", "2", "700000", "between 0 and 604800"),
    ],
)
def test_an_approval_that_could_never_be_valid_is_refused(
    members: str, threshold: str, ttl: str, expected: str, tmp_path: Path
) -> None:
    args = ["committee", "approve-reshare", "--config", str(tmp_path / "absent.toml")]
    args += ["--new-members", members, "--new-threshold", threshold, "--ttl", ttl]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.output
