"""The public API is explicit: every name in __all__ exists, and the convenience API works as documented."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["enclave_signer.frost", "enclave_signer.dkg", "enclave_signer.tdec", "enclave_signer.frost.errors"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_explicit_and_resolves(name: str) -> None:
    mod = importlib.import_module(name)
    for attr in mod.__all__:
        assert hasattr(mod, attr), attr
    public = {
        n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith(name)
    }
    assert public <= set(mod.__all__)


def test_documented_quick_use() -> None:
    from enclave_signer.frost import SECP256K1, KeyShare, sign_with_shares, trusted_dealer_keygen, verify

    group_pk, shares = trusted_dealer_keygen(SECP256K1, n=5, t=3, secret=None)
    assert len(group_pk) == 33 and len(shares) == 5 and all(isinstance(s, KeyShare) for s in shares)
    assert [s.identifier for s in shares] == [1, 2, 3, 4, 5]
    assert all(s.group_public_key == group_pk and len(s.public) == 33 for s in shares)
    sig = sign_with_shares(SECP256K1, shares[:3], b"message")
    assert isinstance(sig.z, int) and len(sig.R) == 33 and sig.to_bytes() == sig.R + sig.z.to_bytes(32, "big")
    assert verify(SECP256K1, group_pk, b"message", sig) is True
    assert verify(SECP256K1, group_pk, b"massage", sig) is False


def test_error_tree_docstring_names_every_error() -> None:
    from enclave_signer.frost import errors

    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, name
        assert issubclass(getattr(errors, name), errors.FrostError)
