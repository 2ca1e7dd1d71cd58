"""The decoded-metadata memo is keyed by chain and runtime: two chains, or two runtimes, never share an entry."""

from __future__ import annotations

from relayers.substrate.metadata_memo import MetadataMemo

GENESIS_A = "0x" + "aa" * 32
GENESIS_B = "0x" + "bb" * 32


def test_one_runtime_shares_its_entry_across_memos() -> None:
    decoded = object()
    MetadataMemo(GENESIS_A, "phala").set("METADATA_1300", decoded)
    assert MetadataMemo(GENESIS_A.upper().replace("0X", "0x"), "phala").get("METADATA_1300") is decoded


def test_another_chain_another_runtime_or_another_version_is_a_miss() -> None:
    decoded = object()
    MetadataMemo(GENESIS_A, "khala").set("METADATA_1301", decoded)
    assert MetadataMemo(GENESIS_B, "khala").get("METADATA_1301") is None  # another chain, same runtime version
    assert MetadataMemo(GENESIS_A, "statemine").get("METADATA_1301") is None  # same made-up genesis, other runtime
    assert MetadataMemo(GENESIS_A, "khala").get("METADATA_1302") is None  # an upgrade: a new version is a new key


def test_the_first_decoded_value_stays() -> None:
    first, second = object(), object()
    memo = MetadataMemo(GENESIS_B, "phala")
    memo.set("METADATA_7", first)
    memo.set("METADATA_7", second)  # two connections decoding at once: both get a correct value, one is kept
    assert memo.get("METADATA_7") is first
