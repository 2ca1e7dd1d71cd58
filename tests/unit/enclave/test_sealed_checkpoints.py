"""Sealed checkpoints: the enclave keeps its chain-view snapshots sealed; a seal it cannot open (another build,
another platform, modified, renamed) is an error its caller turns into a full scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog

from enclave_signer.checkpoints import SealedCheckpoints
from enclave_signer.measurement import Measurement
from enclave_signer.sealing import Sealer, TamperedSealError, UnsealError, WrongMeasurementError, WrongPurposeError
from relayers.substrate.executed_index import ExecutedIndex
from relayers.substrate.index_checkpoint import IndexCheckpoints
from tests.unit.substrate.helpers import CONFIG
from tests.unit.substrate.test_index_checkpoint import FakeChain, sync

pytestmark = pytest.mark.usefixtures("all_log_levels")  # log events are asserted on

SECRET = b"\x07" * 32
NAME = "phala/executed-index/verifier"


def test_round_trip_and_atomic_replacement(tmp_path: Path) -> None:
    store = SealedCheckpoints(Sealer(SECRET), tmp_path / "checkpoints")
    assert store.load_checkpoint(NAME) is None
    store.save_checkpoint(NAME, b"first", 1)
    store.save_checkpoint(NAME, b"second" * 1000, 2)
    assert store.load_checkpoint(NAME) == b"second" * 1000
    path = store.path_of(NAME)
    assert path.name.startswith("phala_executed-index_verifier-") and path.suffix == ".sealed"
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(path.parent).st_mode & 0o777 == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left behind
    assert b"second" not in path.read_bytes()  # sealed, not plain


def test_what_this_enclave_did_not_seal_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    SealedCheckpoints(Sealer(SECRET, Measurement(b"\xaa" * 32)), directory).save_checkpoint(NAME, b"old build", 1)
    ours = SealedCheckpoints(Sealer(SECRET), directory)
    with pytest.raises(WrongMeasurementError):
        ours.load_checkpoint(NAME)
    ours.save_checkpoint(NAME, b"snapshot", 1)
    path = ours.path_of(NAME)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(TamperedSealError):
        ours.load_checkpoint(NAME)
    ours.save_checkpoint("phala/executed-index/replies", b"replies", 1)
    os.replace(ours.path_of("phala/executed-index/replies"), path)  # one view's snapshot put in another's place
    with pytest.raises(WrongPurposeError):
        ours.load_checkpoint(NAME)


def test_an_unreadable_seal_means_a_full_scan(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    chain = FakeChain(head=30)
    other_build = SealedCheckpoints(Sealer(SECRET, Measurement(b"\xaa" * 32)), directory)
    first = ExecutedIndex(CONFIG, checkpoints=IndexCheckpoints(other_build, NAME))
    sync(first, chain)
    assert first.save_checkpoint()
    chain.blocks_read = []
    with structlog.testing.capture_logs() as logs:
        index = ExecutedIndex(CONFIG, checkpoints=IndexCheckpoints(SealedCheckpoints(Sealer(SECRET), directory), NAME))
        sync(index, chain)
    fallback = [e for e in logs if e["event"] == "index_checkpoint_fallback"]
    assert fallback[0]["reason"] == "unreadable" and "WrongMeasurementError" in fallback[0]["detail"]
    assert chain.blocks_read == list(range(1, 31))
    assert issubclass(WrongMeasurementError, UnsealError)
    # ...and what it saves instead is its own: the next start resumes.
    assert index.save_checkpoint()
    chain.blocks_read = []
    again = ExecutedIndex(CONFIG, checkpoints=IndexCheckpoints(SealedCheckpoints(Sealer(SECRET), directory), NAME))
    sync(again, chain)
    assert chain.blocks_read == []
