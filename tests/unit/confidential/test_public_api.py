"""The public API is explicit (every name in __all__ resolves, every public name is listed), the error tree's
docstring names every error, and the enclave measurement covers the shipped contracts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from enclave_signer.measurement import measure_tree

MODULES = [
    "bridge.confidential",
    "bridge.client.confidential",
    "enclave_signer.contracts",
    "enclave_signer.contracts.auction_codec",
    "enclave_signer.contracts.errors",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_explicit_and_resolves(name: str) -> None:
    mod = importlib.import_module(name)
    for attr in mod.__all__:
        assert hasattr(mod, attr), attr
    public = {
        n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith(name)
    }
    assert public <= set(mod.__all__)


def test_error_tree_docstring_names_every_error() -> None:
    from enclave_signer.contracts import errors

    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name
        assert issubclass(getattr(errors, name), errors.ConfidentialContractError)


def test_the_measurement_covers_the_contracts(tmp_path: Path) -> None:
    import shutil

    import enclave_signer

    pkg = tmp_path / "enclave_signer"
    shutil.copytree(Path(enclave_signer.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = measure_tree(pkg)
    auction = pkg / "contracts" / "auction.py"
    auction.write_text(auction.read_text().replace("MAX_BIDS = 1000", "MAX_BIDS = 1001"))
    assert measure_tree(pkg) != before
