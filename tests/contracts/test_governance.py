"""Committee key bootstrap and rotation with overlap; guardian pause, committee pause and unpause."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.evm import GovernanceAction, TokenRelease, execute_batch_calldata, key_tag, rotate_key_params
from relayers.ethereum import errors
from relayers.ethereum.contracts import contract_at, send, send_data
from relayers.ethereum.deploy import deploy_contract
from tests.contracts.conftest import PHA, PHALA, Chain, Committee

HOUR = 3600


def _release(chain: Chain, nonce: int) -> TokenRelease:
    return TokenRelease(nonce, chain.deployment.pha_token, chain.accounts[2], PHA)


def _rotate(chain: Chain, new: Committee, overlap: int = HOUR, signer: Committee | None = None) -> None:
    x, y = new.xy
    sig = chain.governance_signature(
        GovernanceAction.ROTATE_KEY, rotate_key_params(x, y, overlap), committee=signer or chain.committee
    )
    send(chain.w3, chain.bridge.functions.rotateKey(x, y, overlap, sig), chain.accounts[8])


# ---- bootstrap --------------------------------------------------------------------------------------------------


def test_key_state_after_initialization(chain: Chain) -> None:
    epoch, tag, parity, paused = chain.bridge.functions.keyState().call()
    assert (epoch, paused) == (1, False)
    assert tag == key_tag(chain.committee.group_pk) and parity == chain.committee.group_pk[0] - 2


def test_initialize_key_only_once(chain: Chain) -> None:
    x, y = Committee.new().xy
    with pytest.raises(errors.KeyAlreadyInitialized, match="only a rotation signed by the current key"):
        send(chain.w3, chain.bridge.functions.initializeKey(x, y), chain.admin)


def test_fresh_bridge_refuses_batches_until_the_key_is_set(chain: Chain) -> None:
    address = deploy_contract(chain.w3, chain.admin, "Bridge", chain.admin, chain.guardian, 0)
    fresh = contract_at(chain.w3, "Bridge", address)
    sig = chain.committee.sign(b"\x00" * 32)
    batch = chain.encode([_release(chain, 1)], epoch=0)
    with pytest.raises(errors.KeyNotInitialized, match="admin must call initializeKey"):
        send_data(chain.w3, address, execute_batch_calldata(batch, sig), chain.accounts[9])
    x, y = chain.committee.xy
    with pytest.raises(errors.NotAdmin):
        send(chain.w3, fresh.functions.initializeKey(x, y), chain.accounts[3])
    with pytest.raises(errors.InvalidPublicKey, match="is not a usable group key"):
        send(chain.w3, fresh.functions.initializeKey(x, y + 1), chain.admin)
    send(chain.w3, fresh.functions.initializeKey(x, y), chain.admin)
    assert fresh.functions.keyState().call()[0] == 1


# ---- rotation ---------------------------------------------------------------------------------------------------


def test_rotation_with_overlap(chain: Chain) -> None:
    old, new = chain.committee, Committee.new()
    _rotate(chain, new, overlap=HOUR)
    assert chain.epoch == 2
    # during the overlap: the old key still signs batches of epoch 1, the new key signs epoch 2
    chain.execute([_release(chain, 1)], epoch=1, committee=old)
    chain.execute([_release(chain, 2)], epoch=2, committee=new)
    # the old key cannot sign for the new epoch, nor the new key for the old one
    with pytest.raises(errors.WrongSigningKey):
        chain.execute([_release(chain, 3)], epoch=2, committee=old)
    with pytest.raises(errors.WrongSigningKey):
        chain.execute([_release(chain, 3)], epoch=1, committee=new)
    # after the overlap the old epoch is refused
    chain.increase_time(HOUR + 1)
    with pytest.raises(errors.PreviousKeyExpired, match="re-sign with the current key"):
        chain.execute([_release(chain, 4)], epoch=1, committee=old)
    chain.execute([_release(chain, 4)], epoch=2, committee=new)


def test_rotation_must_be_signed_by_the_current_key(chain: Chain) -> None:
    impostor = Committee.new()
    with pytest.raises(errors.WrongSigningKey):
        _rotate(chain, impostor, signer=impostor)
    assert chain.epoch == 1


def test_rotation_signature_is_single_use_and_bound_to_its_parameters(chain: Chain) -> None:
    new = Committee.new()
    x, y = new.xy
    sig = chain.governance_signature(GovernanceAction.ROTATE_KEY, rotate_key_params(x, y, HOUR))
    with pytest.raises(errors.InvalidSignature):  # another overlap than the one signed
        send(chain.w3, chain.bridge.functions.rotateKey(x, y, HOUR * 2, sig), chain.accounts[8])
    send(chain.w3, chain.bridge.functions.rotateKey(x, y, HOUR, sig), chain.accounts[8])
    with pytest.raises(errors.WrongSigningKey):  # replay: the old key is no longer current
        send(chain.w3, chain.bridge.functions.rotateKey(x, y, HOUR, sig), chain.accounts[8])


def test_rotation_checks_the_new_key_and_the_overlap(chain: Chain) -> None:
    x, y = Committee.new().xy
    bad = rotate_key_params(x, y + 1, HOUR)
    sig = chain.governance_signature(GovernanceAction.ROTATE_KEY, bad)
    with pytest.raises(errors.InvalidPublicKey):
        send(chain.w3, chain.bridge.functions.rotateKey(x, y + 1, HOUR, sig), chain.accounts[8])
    with pytest.raises(errors.OverlapTooLong):
        _rotate(chain, Committee.new(), overlap=31 * 86_400)


def test_two_rotations_retire_the_oldest_key(chain: Chain) -> None:
    first, second, third = chain.committee, Committee.new(), Committee.new()
    _rotate(chain, second)
    chain.committee = second
    try:
        _rotate(chain, third)
    finally:
        chain.committee = first
    assert chain.epoch == 3
    with pytest.raises(errors.UnknownKeyEpoch):
        chain.execute([_release(chain, 9)], epoch=1, committee=first)
    chain.execute([_release(chain, 9)], epoch=2, committee=second)


# ---- pause ------------------------------------------------------------------------------------------------------


def test_guardian_pauses_committee_unpauses(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    assert chain.bridge.functions.paused().call()
    with pytest.raises(errors.BridgePaused) as info:
        chain.execute([_release(chain, 1)])
    assert info.value.retryable
    with pytest.raises(errors.BridgePaused):
        send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"x"), chain.accounts[2], value=10**15)
    with pytest.raises(errors.AlreadyPaused):
        send(chain.w3, chain.bridge.functions.pause(), chain.guardian)

    sig = chain.governance_signature(GovernanceAction.UNPAUSE)
    send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
    assert not chain.bridge.functions.paused().call()
    chain.execute([_release(chain, 1)])
    send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"x"), chain.accounts[2], value=10**15)


def test_every_pause_path_stops_and_restarts_deposits_and_messages(chain: Chain) -> None:
    # deposits and messages read a copy of the pause flag in their outbound word: both pause paths and unpause
    # must move it with the key word's flag
    alice = chain.accounts[2]
    rid = bytes.fromhex(chain.deployment.pha_resource_id[2:])
    send(chain.w3, chain.pha.functions.approve(chain.deployment.bridge, 10**18), alice)
    outbound: list[Callable[[], object]] = [
        lambda: send(chain.w3, chain.bridge.functions.sendMessage(PHALA, b"x"), alice, value=10**15),
        lambda: send(chain.w3, chain.bridge.functions.deposit(PHALA, rid, bytes(32), 10**6), alice),
    ]
    pauses: list[Callable[[], object]] = [
        lambda: send(chain.w3, chain.bridge.functions.pause(), chain.guardian),
        lambda: send(
            chain.w3,
            chain.bridge.functions.pauseWithSignature(chain.governance_signature(GovernanceAction.PAUSE)),
            chain.accounts[8],
        ),
    ]
    for pause in pauses:
        pause()
        for action in outbound:
            with pytest.raises(errors.BridgePaused):
                action()
        sig = chain.governance_signature(GovernanceAction.UNPAUSE)
        send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
        for action in outbound:
            action()
    assert chain.bridge.functions.outboundNonce().call() == 4


def test_only_the_guardian_pauses_without_a_signature(chain: Chain) -> None:
    for who in (chain.admin, chain.accounts[5]):
        with pytest.raises(errors.NotGuardian, match="only the guardian or a committee signature can pause"):
            send(chain.w3, chain.bridge.functions.pause(), who)


def test_guardian_cannot_unpause(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    stale = chain.committee.sign(b"\x11" * 32)
    with pytest.raises(errors.InvalidSignature):
        send(chain.w3, chain.bridge.functions.unpause(stale), chain.guardian)
    assert chain.bridge.functions.paused().call()


def test_committee_pauses_with_a_signature(chain: Chain) -> None:
    sig = chain.governance_signature(GovernanceAction.PAUSE)
    receipt = send(chain.w3, chain.bridge.functions.pauseWithSignature(sig), chain.accounts[8])
    assert chain.events(receipt, "Paused") == [{"by": chain.accounts[8]}]
    assert chain.bridge.functions.paused().call()


def test_an_old_unpause_signature_cannot_be_replayed(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    sig = chain.governance_signature(GovernanceAction.UNPAUSE)
    send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)  # an incident: paused again
    with pytest.raises(errors.InvalidSignature):  # the governance nonce moved on
        send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
    assert chain.bridge.functions.paused().call()


def test_unpause_needs_a_paused_bridge_and_the_right_action(chain: Chain) -> None:
    sig = chain.governance_signature(GovernanceAction.UNPAUSE)
    with pytest.raises(errors.NotPaused):
        send(chain.w3, chain.bridge.functions.unpause(sig), chain.accounts[8])
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    pause_sig = chain.governance_signature(GovernanceAction.PAUSE)
    with pytest.raises(errors.InvalidSignature):  # a PAUSE signature is not an UNPAUSE signature
        send(chain.w3, chain.bridge.functions.unpause(pause_sig), chain.accounts[8])


def test_rotation_works_while_paused(chain: Chain) -> None:
    send(chain.w3, chain.bridge.functions.pause(), chain.guardian)
    _rotate(chain, Committee.new())
    assert chain.epoch == 2 and chain.bridge.functions.paused().call()


# ---- admin role -------------------------------------------------------------------------------------------------


def test_admin_transfer_is_two_step(chain: Chain) -> None:
    new_admin = chain.accounts[6]
    send(chain.w3, chain.bridge.functions.transferAdmin(new_admin), chain.admin)
    with pytest.raises(errors.NotPendingAdmin):
        send(chain.w3, chain.bridge.functions.acceptAdmin(), chain.accounts[5])
    send(chain.w3, chain.bridge.functions.acceptAdmin(), new_admin)
    assert chain.bridge.functions.admin().call() == new_admin
    with pytest.raises(errors.NotAdmin):
        send(chain.w3, chain.bridge.functions.setGuardian(chain.accounts[5]), chain.admin)
    send(chain.w3, chain.bridge.functions.setGuardian(chain.accounts[5]), new_admin)
    send(chain.w3, chain.bridge.functions.pause(), chain.accounts[5])
