"""Fixtures: one encryption committee (trusted dealer) and its state key per session, the auction's registry."""

from __future__ import annotations

import pytest

from enclave_signer.contracts import Registry, SealedBidAuction, StateKeyring
from tests.unit.confidential.helpers import Enclave, EncryptionCommittee, SourceChain

SETTLEMENT = bytes.fromhex("5eb1d0000000000000000000000000000000a0c7")


@pytest.fixture(scope="session")
def committee() -> EncryptionCommittee:
    return EncryptionCommittee.new()


@pytest.fixture(scope="session")
def keyring(committee: EncryptionCommittee) -> StateKeyring:
    return committee.keyring()


@pytest.fixture(scope="session")
def auction() -> SealedBidAuction:
    return SealedBidAuction(SETTLEMENT)


@pytest.fixture(scope="session")
def registry(auction: SealedBidAuction) -> Registry:
    return Registry([auction])


@pytest.fixture
def enclave(
    committee: EncryptionCommittee, keyring: StateKeyring, registry: Registry, auction: SealedBidAuction
) -> Enclave:
    return Enclave(committee, keyring, registry, auction.contract_id)


@pytest.fixture
def chain(committee: EncryptionCommittee, auction: SealedBidAuction) -> SourceChain:
    return SourceChain(committee, auction.contract_id)
