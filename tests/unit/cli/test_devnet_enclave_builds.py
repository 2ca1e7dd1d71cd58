"""The devnet's test-only enclave builds (`BridgeCommittee(enclave_builds=...)`): a copy's measurement, and what is
refused before anything starts. The builds running on the real devnet: tests/e2e/test_confidential_rogue.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import pytest

import enclave_signer
from bridge.devnet.committee import BridgeCommittee, CommitteeError, enclave_build_measurement
from enclave_signer.measurement import current_measurement


def _copy(root: Path) -> Path:
    shutil.copytree(
        Path(enclave_signer.__file__).parent, root / "enclave_signer", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def test_an_unmodified_copy_measures_as_this_build_and_a_modified_one_does_not(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert enclave_build_measurement(root) == current_measurement().hex()
    auction = root / "enclave_signer" / "contracts" / "auction.py"
    auction.write_text(auction.read_text() + "\n# another build\n")
    assert enclave_build_measurement(root) != current_measurement().hex()


def test_a_directory_without_the_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommitteeError, match="holds no enclave_signer package"):
        enclave_build_measurement(tmp_path)


def test_a_build_for_a_member_outside_the_committee_is_refused(tmp_path: Path) -> None:
    no_devnet = cast(Any, None)  # refused in the constructor, before the state or the supervisor is used
    with pytest.raises(CommitteeError, match=r"members \[6\], not in 1\.\.5"):
        BridgeCommittee(no_devnet, no_devnet, tmp_path, members=5, enclave_builds={6: _copy(tmp_path)})


def test_a_relayer_build_for_a_member_outside_the_committee_is_refused(tmp_path: Path) -> None:
    """`relayer_builds` likewise (tests/e2e/test_censoring_leader.py: a leader whose relayer censors)."""
    no_devnet = cast(Any, None)
    with pytest.raises(CommitteeError, match=r"relayer builds for members \[0\], not in 1\.\.5"):
        BridgeCommittee(no_devnet, no_devnet, tmp_path, members=5, relayer_builds={0: tmp_path})
