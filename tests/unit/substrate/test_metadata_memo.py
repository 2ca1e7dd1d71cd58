"""The decoded-metadata memo: keyed by chain and runtime (two chains, or two runtimes, never share an entry), decoding
with a type registry of its own, and falling back to the connection's own decoding when it cannot.

The real metadata is Polkadot's (metadata V14, `state_getMetadata` as a node answers it), from
`@polkadot/types-support`; the devnet test (tests/devnet/test_phala_chain.py) shares it between live connections."""

from __future__ import annotations

import re
import threading

import pytest

from relayers.substrate import metadata_memo
from relayers.substrate.metadata_memo import MetadataMemo, decode_metadata
from tests.unit.xcm import metadata as real

GENESIS_A = "0x" + "aa" * 32
GENESIS_B = "0x" + "bb" * 32


@pytest.fixture(scope="module")
def polkadot_hex() -> str:
    if not real.available():
        pytest.skip(f"no {real.METADATA_DIR}: run `make setup` (npm ci)")
    text = (real.METADATA_DIR / "v14/polkadot-hex.js").read_text()
    match = re.search(r"'(0x[0-9a-f]+)'", text)
    assert match
    return match.group(1)


class Fetches:
    """A `fetch` that counts its calls."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.answer


def test_decoded_metadata_resolves_storage_key_types_in_its_own_registry(polkadot_hex: str) -> None:
    decoded = decode_metadata(polkadot_hex)
    account = decoded.get_metadata_pallet("System").get_storage_function("Account")
    (key_type,) = account.get_params_type_string()
    # Resolved through the registry the metadata was decoded with: without its portable registry this is None.
    key_class = account.runtime_config.get_decoder_class(key_type)
    assert key_class is not None and key_class.scale_info_type["path"].value == ["sp_core", "crypto", "AccountId32"]


@pytest.fixture
def cheap_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keying is tested without decoding real metadata each time (seconds each): every "decoding" is a new object."""
    decoded: list[str] = []

    def decode(raw: str) -> object:
        decoded.append(raw)
        return object()

    monkeypatch.setattr(metadata_memo, "decode_metadata", decode)
    return decoded


def test_one_runtime_is_decoded_once_and_shared(cheap_decoding: list[str]) -> None:
    first, second = Fetches("0x01"), Fetches("0x01")
    decoded = MetadataMemo(GENESIS_A, "polkadot", first).get("METADATA_1001")
    assert decoded is not None
    assert MetadataMemo(GENESIS_A.upper().replace("0X", "0x"), "polkadot", second).get("METADATA_1001") is decoded
    assert (first.calls, second.calls, len(cheap_decoding)) == (1, 0, 1)


def test_another_chain_another_runtime_or_another_version_is_decoded_apart(cheap_decoding: list[str]) -> None:
    decoded = MetadataMemo(GENESIS_B, "kusama", Fetches("0x02")).get("METADATA_2001")
    others = [
        MetadataMemo(GENESIS_A, "kusama", Fetches("0x02")).get("METADATA_2001"),  # another chain
        MetadataMemo(GENESIS_B, "statemine", Fetches("0x02")).get("METADATA_2001"),  # same genesis, other spec
        MetadataMemo(GENESIS_B, "kusama", Fetches("0x02")).get("METADATA_2002"),  # an upgrade: a new version
    ]
    assert all(other is not None and other is not decoded for other in others)
    assert len(cheap_decoding) == 4


def test_what_it_cannot_decode_is_left_to_the_connection_and_nothing_is_kept(cheap_decoding: list[str]) -> None:
    no_answer = Fetches(None)
    assert MetadataMemo(GENESIS_A, "none", no_answer).get("METADATA_1") is None
    memo = MetadataMemo(GENESIS_A, "none", Fetches("0x03"))
    memo.set("METADATA_1", object())  # a connection's own decoding: bound to its registry, never shared
    shared = memo.get("METADATA_1")
    assert shared is not None and cheap_decoding == ["0x03"]
    assert MetadataMemo(GENESIS_A, "none", no_answer).get("METADATA_1") is shared and no_answer.calls == 1


def test_bytes_that_are_not_metadata_are_left_to_the_connection() -> None:
    garbage = Fetches("0x6d657461" + "ff" * 40)  # b"meta", then nonsense
    assert MetadataMemo(GENESIS_B, "garbage", garbage).get("METADATA_1") is None and garbage.calls == 1


def test_the_memo_decodes_holding_the_registry_lock_that_connections_take(monkeypatch: pytest.MonkeyPatch) -> None:
    """No other thread builds a type registry while the memo decodes (they raced; relayers/substrate/client.py)."""
    others_could_take_it: list[bool] = []

    def decode(raw: str) -> object:
        def try_lock() -> None:
            taken = metadata_memo.REGISTRY_LOCK.acquire(blocking=False)
            if taken:
                metadata_memo.REGISTRY_LOCK.release()
            others_could_take_it.append(taken)

        other = threading.Thread(target=try_lock)
        other.start()
        other.join()
        return object()

    monkeypatch.setattr(metadata_memo, "decode_metadata", decode)
    assert MetadataMemo(GENESIS_B, "locked", Fetches("0x04")).get("METADATA_1") is not None
    assert others_could_take_it == [False]
