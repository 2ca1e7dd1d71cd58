"""The chain verifier's `OmissionView` (bridge/cli/chain_verifier.py): which Phala deposits to Ethereum wait in this
member's own view. Its two chain views are replaced by fakes; the rules (policy, Ethereum's `refusal`, used nonces,
the executed prefix) are the real ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bridge.cli.chain_verifier import ChainBatchVerifier
from bridge.config import NodeConfig, parse_config
from bridge.messages import BridgeMessage, MessageKind
from bridge.policy import PolicyRefusal
from enclave_signer.committee.omission import REPLY_NONCE_FLOOR, Lane, OmissionView
from enclave_signer.committee.verification import SigningRefusal
from relayers.ethereum.errors import EthereumAdapterError
from relayers.ethereum.rebuild import DestinationFacts
from tests.unit.committee.helpers import message

ROOT = Path(__file__).resolve().parents[3]
LANE = Lane(1, 2, "message")
RID = b"\x33" * 32
TARGET = bytes([0x44] * 20)


def deposit(nonce: int) -> BridgeMessage:
    return message(nonce, dest=1).model_copy(update={"recipient": bytes([0x22] * 20)})


class Source:
    def __init__(self, *messages: BridgeMessage) -> None:
        self.messages = list(messages)
        self.asked: list[tuple[int, int]] = []

    async def catch_up(self) -> None:
        return None

    def known(self, above: int, below: int) -> list[BridgeMessage]:
        self.asked.append((above, below))
        return sorted((m for m in self.messages if above < m.nonce < below), key=lambda m: m.nonce)


class EthBatch:
    def __init__(self) -> None:
        self.used: set[int] = set()
        self.enabled = True
        self.fail = False

    async def facts(self, messages: Sequence[BridgeMessage]) -> DestinationFacts:
        if self.fail:
            raise EthereumAdapterError("connection refused")
        return DestinationFacts(
            chain_id=31337,
            bridge="0x" + "ab" * 20,
            epoch=1,
            tokens={RID: "0x" + "cd" * 20} if self.enabled else {},
            allowed_targets=frozenset({"0x" + TARGET.hex()}) if self.enabled else frozenset(),
            used=frozenset((2, m.nonce) for m in messages if m.nonce in self.used),
            call_gas_limit=100_000,
        )


class Policy:
    def __init__(self, refused: set[int]) -> None:
        self.refused = refused

    def check(self, m: BridgeMessage) -> None:
        if m.nonce in self.refused:
            raise PolicyRefusal("below the minimum")


def _verifier(source: Source, eth: EthBatch, refused: frozenset[int] = frozenset()) -> ChainBatchVerifier:
    cfg = parse_config((ROOT / "config" / "node.example.toml").read_text(), NodeConfig, source="node.toml")
    v = ChainBatchVerifier(cfg, lambda: None)
    v.group_keys = lambda: object()  # type: ignore[assignment,return-value]
    v._phala = lambda: (source, None)  # type: ignore[assignment,method-assign,return-value]
    v.eth_batch = eth  # type: ignore[assignment]
    v.bridge_policy = Policy(set(refused))  # type: ignore[assignment]
    return v


def _out(v: ChainBatchVerifier, lane: Lane = LANE, below: int = 100, limit: int = 10) -> list[int]:
    return [m.nonce for m in asyncio.run(v.outstanding(lane, below, limit))]


def test_outstanding_is_final_valid_and_unexecuted_below_the_leaders_position() -> None:
    source, eth = Source(*(deposit(n) for n in range(1, 9))), EthBatch()
    v = _verifier(source, eth, refused=frozenset({4}))
    assert isinstance(v, OmissionView)
    eth.used = {1, 2, 5}
    assert _out(v, below=7) == [3, 6]  # 4: refused by this member's policy; 7, 8: not below the leader's position
    assert _out(v, below=7, limit=1) == [3]
    eth.enabled = False  # the token is not enabled on the bridge: Ethereum would refuse them all
    assert _out(v, below=7) == []
    assert _out(v, lane=Lane(1, 2, "confidential")) == []  # a lane this view cannot enumerate: no evidence
    assert _out(v, lane=Lane(2, 1, "message")) == []


def test_the_executed_prefix_is_not_read_again() -> None:
    source, eth = Source(*(deposit(n) for n in range(1, 9))), EthBatch()
    v = _verifier(source, eth)
    eth.used = {1, 2, 3, 5}
    assert _out(v) == [4, 6, 7, 8]
    assert _out(v) == [4, 6, 7, 8]
    assert source.asked[-1] == (3, 100)  # 1..3 executed for good; 5 is above a waiting one
    eth.used |= {4}
    assert _out(v) == [6, 7, 8]
    assert _out(v) == [6, 7, 8] and source.asked[-1] == (5, 100)


def test_no_view_is_no_evidence() -> None:
    source, eth = Source(deposit(1)), EthBatch()
    v = _verifier(source, eth)
    eth.fail = True
    with pytest.raises(SigningRefusal) as info:
        _out(v)
    assert info.value.code == "chain_unavailable"
    v.group_keys = lambda: None
    assert _out(v) == []  # no DKG yet: no bridge account, nothing to say


def reply(counter: int, gas: int = 50_000) -> BridgeMessage:
    return message(REPLY_NONCE_FLOOR + counter, dest=1).model_copy(
        update={"kind": MessageKind.CALL, "recipient": TARGET, "sender": b"\x55" * 32, "gas_limit": gas}
    )


class Replies:
    """The outputs notes' replies in this member's finalized Phala view."""

    def __init__(self, *messages: BridgeMessage) -> None:
        self.messages = list(messages)
        self.session = self
        self.synced = 0

    async def run(self, fn: Callable[[object], object]) -> object:
        return fn(None)

    def sync(self, _reader: object) -> None:
        self.synced += 1

    def replies(self) -> list[BridgeMessage]:
        return list(self.messages)


def test_replies_waiting_are_the_unexecuted_executable_ones() -> None:
    replies = Replies(*(reply(c) for c in range(1, 6)), reply(6, gas=10**7), deposit(3))
    eth = EthBatch()
    v = _verifier(Source(), eth)
    v._reply_view = lambda: replies  # type: ignore[assignment,method-assign,return-value]
    lane = Lane(1, 2, "reply")
    eth.used = {REPLY_NONCE_FLOOR + 1}
    floor = REPLY_NONCE_FLOOR
    # 6 asks for more gas than the bridge's call_gas_limit: Ethereum refuses it for good; the deposit is another lane
    assert _out(v, lane=lane, below=floor + 10) == [floor + c for c in (2, 3, 4, 5)]
    assert _out(v, lane=lane, below=floor + 4) == [floor + 2, floor + 3]
    assert replies.synced == 2  # read at this member's finalized head each time
    eth.enabled = False  # the target is no longer allow-listed: none is executable
    assert _out(v, lane=lane, below=floor + 10) == []
