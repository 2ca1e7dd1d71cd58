"""A Phala refusal belongs to the plan that made it: a plan never submitted (signing failed) leaves nothing behind
that a later batch's confirm would report failed, and an executed message is never reported failed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from bridge.ports import ChainPosition, SigningRequest
from relayers.substrate.chain import AccountState
from relayers.substrate.dispatcher import PhalaDestination, _shape
from relayers.substrate.executed_index import BridgeExtrinsic
from relayers.substrate.rebuild import batch_calls
from relayers.substrate.scale import blake2_256
from tests.unit.substrate.helpers import CONFIG, RUNTIME, inbound
from tests.unit.substrate.test_confirm import Clock, FakeIndex, FakeSession

KEY = SigningKey(b"\x05" * 32)
CFG = dataclasses.replace(CONFIG, bridge_account=bytes(KEY.verify_key))
ED = 100


@dataclass
class FakeReader:
    existing: set[bytes] = field(default_factory=set)
    nonce: int = 5
    submitted: list[bytes] = field(default_factory=list)

    def finalized_head(self) -> ChainPosition:
        return ChainPosition(10, "0x" + "10" * 32)

    def account(self, account: bytes, block_hash: str) -> AccountState:
        if account == CFG.bridge_account:
            return AccountState(self.nonce, 10**18, True)
        return AccountState(0, 0, account in self.existing)

    def existential_deposit(self) -> int:
        return ED

    def runtime_facts(self, block_hash: str) -> Any:
        return RUNTIME

    def submit(self, extrinsic: bytes) -> str:
        self.submitted.append(extrinsic)
        return "0x" + blake2_256(extrinsic).hex()


def setup() -> tuple[PhalaDestination, FakeReader, FakeIndex, Clock]:
    reader, index, clock = FakeReader(), FakeIndex(), Clock()
    dest = PhalaDestination(CFG, session=FakeSession(reader), clock=clock)  # type: ignore[arg-type]
    dest.index = index  # type: ignore[assignment]
    for n in (1, 2):  # the hand encoders were compared with substrate-interface's before (no client here)
        shape = _shape(batch_calls([inbound(k, 10**6) for k in range(1, n + 1)], None))
        dest._prepare_checked.add((RUNTIME.spec_version, RUNTIME.transaction_version, shape))
    dest._cross_checked.add((RUNTIME.spec_version, RUNTIME.transaction_version, True))
    return dest, reader, index, clock


def submit(dest: PhalaDestination, reader: FakeReader, request: SigningRequest) -> str:
    return dest._submit(reader, request, KEY.sign(request.payload).signature)  # type: ignore[arg-type]


# Below the existential deposit, to a recipient without an account: refused while so. Its depositor is not a 20-byte
# address, so it is refused, not refunded (a refund settles a deposit for good: test_refunds.py).
SMALL = inbound(5, 50, sender=b"\x11" * 32)
BIG = inbound(6, 10**6)


def test_a_stale_refusal_never_fails_a_message_a_later_batch_executed() -> None:
    dest, reader, index, _ = setup()
    first = dest._prepare(reader, [SMALL, BIG])  # type: ignore[arg-type]
    assert first.message_ids == (BIG.id_hex,)  # SMALL refused; then signing times out: never submitted
    reader.existing.add(SMALL.recipient)  # the recipient's account is created meanwhile
    second = dest._prepare(reader, [SMALL, BIG])  # type: ignore[arg-type]
    assert set(second.message_ids) == {SMALL.id_hex, BIG.id_hex}
    tx = submit(dest, reader, second)
    index.executed.update(second.message_ids)
    index.extrinsics[tx] = BridgeExtrinsic(11, "0x" + "11" * 32, 2, tx, 5, second.message_ids, None)
    result = dest._confirm(reader, tx, [SMALL.id_hex, BIG.id_hex])  # type: ignore[arg-type]
    assert result.executed == {SMALL.id_hex, BIG.id_hex} and not result.failed


def test_a_stale_refusal_never_fails_a_message_of_a_dropped_batch() -> None:
    dest, reader, _, _ = setup()
    dest._prepare(reader, [SMALL, BIG])  # type: ignore[arg-type]
    reader.existing.add(SMALL.recipient)
    tx = submit(dest, reader, dest._prepare(reader, [SMALL, BIG]))  # type: ignore[arg-type]
    reader.nonce = 6  # another extrinsic used the nonce: this batch never executed
    result = dest._confirm(reader, tx, [SMALL.id_hex, BIG.id_hex])  # type: ignore[arg-type]
    assert result.dropped and not result.failed


def test_a_refusal_of_the_submitted_plan_is_reported_by_its_confirm() -> None:
    dest, reader, index, _ = setup()
    request = dest._prepare(reader, [SMALL, BIG])  # type: ignore[arg-type]
    tx = submit(dest, reader, request)
    index.executed.update(request.message_ids)
    index.extrinsics[tx] = BridgeExtrinsic(11, "0x" + "11" * 32, 2, tx, 5, request.message_ids, None)
    result = dest._confirm(reader, tx, [SMALL.id_hex, BIG.id_hex])  # type: ignore[arg-type]
    assert result.executed == {BIG.id_hex} and set(result.failed) == {SMALL.id_hex}
    assert "existential deposit" in result.failed[SMALL.id_hex]
