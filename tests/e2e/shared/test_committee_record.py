"""The committee is recorded on the Phala chain: identity keys, quote digests, epoch and group keys, readable by
anyone, and equal to what each running enclave says about itself."""

from __future__ import annotations

import asyncio

import pytest

from bridge.devnet import Devnet
from bridge.enclave_api import StatusResult
from relayers.enclave_client import EnclaveClient
from relayers.substrate import SubstrateClient
from relayers.substrate.chain import ChainReader
from relayers.substrate.committee_records import read_records

pytestmark = pytest.mark.devnet


def test_the_committee_record_on_chain_matches_the_enclaves(bridge_devnet: Devnet) -> None:
    assert bridge_devnet.state is not None and bridge_devnet.committee is not None
    committee = bridge_devnet.committee
    assert committee.record_block is not None
    with SubstrateClient(bridge_devnet.state.phala.ws_url) as phala:
        head = ChainReader(phala).finalized_head().block_number
        records = read_records(phala, committee.record_block, min(head, committee.record_block))
    (on_chain,) = records
    rec = on_chain.record
    assert rec.epoch == 1 and rec.threshold == 3 and rec.member_ids == (1, 2, 3, 4, 5)

    async def statuses() -> list[StatusResult]:
        out = []
        for m in committee.members:
            client = EnclaveClient(str(m.socket))
            try:
                out.append(await client.status())
            finally:
                await client.close()
        return out

    for status in asyncio.run(statuses()):
        member = rec.member(status.member_id)
        assert member is not None
        assert member.identity_public_key == status.identity_public_key
        assert member.measurement == status.measurement
        assert status.group_keys == rec.group_keys
