"""The group key of an epoch from the bridge's `KeyRotated` logs: found scanning back from the head in bounded
`eth_getLogs` ranges (providers refuse wide ones), the newest rotation of that epoch winning."""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import encode

from relayers.ethereum.logs import KEY_ROTATED_TOPIC
from relayers.ethereum.state import latest_key_rotation
from relayers.ethereum.views import RawLog


def _rotated(epoch: int, x: int, y: int, block: int) -> RawLog:
    return RawLog(
        address="0x" + "11" * 20,
        topics=(KEY_ROTATED_TOPIC, epoch.to_bytes(32, "big")),
        data=encode(["uint256", "uint256", "uint256"], [x, y, 0]),
        block_number=block,
        block_hash="0x" + "00" * 32,
        tx_hash="0x" + "00" * 32,
        log_index=0,
    )


class _Rpc:
    """Answers `logs` like a node filtering by topic and range; records the ranges asked."""

    def __init__(self, logs: Sequence[RawLog]) -> None:
        self._logs = list(logs)
        self.ranges: list[tuple[int, int]] = []

    def logs(self, topic0: Sequence[bytes], from_block: int, to_block: int, *more: bytes | None) -> list[RawLog]:
        self.ranges.append((from_block, to_block))
        return [
            log
            for log in self._logs
            if log.topics[0] in topic0
            and from_block <= log.block_number <= to_block
            and all(t is None or log.topics[1 + i] == t for i, t in enumerate(more))
        ]


def test_a_recent_rotation_costs_one_bounded_query() -> None:
    rpc = _Rpc([_rotated(1, 11, 12, 5), _rotated(2, 21, 22, 990)])
    assert latest_key_rotation(rpc, 2, 1_000, chunk=100) == (21, 22)  # type: ignore[arg-type]
    assert rpc.ranges == [(901, 1_000)]


def test_an_old_rotation_is_found_chunk_by_chunk_back_to_block_zero() -> None:
    rpc = _Rpc([_rotated(1, 11, 12, 5), _rotated(1, 13, 14, 7), _rotated(2, 21, 22, 990)])
    assert latest_key_rotation(rpc, 1, 1_000, chunk=300) == (13, 14)  # type: ignore[arg-type]
    assert rpc.ranges == [(701, 1_000), (401, 700), (101, 400), (0, 100)]
    assert all(b - a + 1 <= 300 for a, b in rpc.ranges)


def test_no_rotation_for_the_epoch_is_none_after_scanning_everything() -> None:
    rpc = _Rpc([_rotated(1, 11, 12, 5)])
    assert latest_key_rotation(rpc, 3, 250, chunk=100) is None  # type: ignore[arg-type]
    assert rpc.ranges == [(151, 250), (51, 150), (0, 50)]
