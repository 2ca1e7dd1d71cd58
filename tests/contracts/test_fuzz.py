"""Property tests of executeBatch on anvil (hypothesis): what an attacker or a buggy relayer can send.

- No mutation of a committee-signed batch executes: any byte of the signature or the batch changed, the calldata cut
  short or extended, the call reverts (checked with eth_call against the real contract; the unmutated calldata
  succeeds, so the property can fail).
- Random sequences of signed batches (nonces from a small range, so replays are frequent) leave the chain exactly
  where a simple model says: a batch holding a used nonce reverts whole; otherwise every nonce is marked used once
  and every recipient is paid once.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint

from bridge.evm import TokenRelease, execute_batch_calldata
from relayers.ethereum import errors
from tests.contracts.conftest import PHA, PHALA, Chain

_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _signed_calldata(chain: Chain) -> bytes:
    alice, bob = chain.accounts[2], chain.accounts[3]
    token = chain.deployment.pha_token
    batch = chain.encode([TokenRelease(900, token, alice, 5 * PHA), TokenRelease(901, token, bob, 7 * PHA)])
    return execute_batch_calldata(batch, chain.sign_batch(batch))


def _call(chain: Chain, data: bytes) -> bool:
    """True when the bridge accepts `data` (eth_call: nothing is changed), False when it reverts."""
    try:
        chain.w3.eth.call({"from": chain.accounts[9], "to": chain.deployment.bridge, "data": data})
    except ContractLogicError:
        return False
    return True


@st.composite
def _mutations(draw: st.DrawFn, length: int) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["flip", "cut", "extend"]))
    if kind == "flip":  # 1-3 bytes changed anywhere after the selector
        spots = draw(st.lists(st.integers(4, length - 1), min_size=1, max_size=3, unique=True))
        return kind, [(i, draw(st.integers(1, 255))) for i in spots]
    if kind == "cut":
        return kind, draw(st.integers(4, length - 1))
    return kind, draw(st.binary(min_size=1, max_size=64))


@pytest.fixture(scope="module")
def signed(chain: Chain) -> bytes:
    return _signed_calldata(chain)


def test_the_unmutated_batch_is_accepted(chain: Chain, signed: bytes) -> None:
    assert _call(chain, signed)


@settings(_SETTINGS, max_examples=300)
@given(data=st.data())
def test_no_mutation_of_a_signed_batch_executes(chain: Chain, signed: bytes, data: st.DataObject) -> None:
    kind, how = data.draw(_mutations(len(signed)))
    raw = bytearray(signed)
    if kind == "flip":
        for i, mask in how:
            raw[i] ^= mask
    elif kind == "cut":
        del raw[how:]
    else:
        raw += how
    assert bytes(raw) != signed
    assert not _call(chain, bytes(raw)), (kind, how)


_RECIPIENTS = 3
_batches = st.lists(
    # Repeated nonces within a batch are refused by the encoder before any chain sees them (and by the contract:
    # test_execute_batch.py builds such bytes by hand); across batches they are the replays modelled here.
    st.lists(
        st.tuples(st.integers(0, 11), st.integers(0, _RECIPIENTS - 1), st.integers(1, 5)),
        min_size=1,
        max_size=4,
        unique_by=lambda item: item[0],
    ),
    min_size=1,
    max_size=5,
)


@settings(_SETTINGS, max_examples=25)
@given(batches=_batches)
def test_random_batches_execute_each_nonce_once(chain: Chain, batches: list[list[tuple[int, int, int]]]) -> None:
    snapshot = chain.w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])
    try:
        recipients = chain.accounts[2 : 2 + _RECIPIENTS]
        first_nonce = 1_000  # above every nonce the other tests use (each test's chain is reverted anyway)
        balances = [int(chain.pha.functions.balanceOf(r).call()) for r in recipients]
        used: set[int] = set()
        for batch in batches:
            nonces = [first_nonce + n for n, _, _ in batch]
            items = [
                TokenRelease(first_nonce + n, chain.deployment.pha_token, recipients[r], a * PHA) for n, r, a in batch
            ]
            if used & set(nonces):
                with pytest.raises(errors.NonceAlreadyUsed):
                    chain.execute(items)
                continue
            chain.execute(items)
            used |= set(nonces)
            for _, r, a in batch:
                balances[r] += a * PHA
        assert [int(chain.pha.functions.balanceOf(r).call()) for r in recipients] == balances
        marked = {
            n for n in range(first_nonce, first_nonce + 12) if chain.bridge.functions.isNonceUsed(PHALA, n).call()
        }
        assert marked == used
    finally:
        chain.w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot["result"]])
