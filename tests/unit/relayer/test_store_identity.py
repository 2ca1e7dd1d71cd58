"""The store's deployment identity: what is bound (and what is not), the comparison, and the operator's messages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bridge.cli.store_identity import (
    ChainUnreachable,
    current_identity,
    ethereum_identity,
    minimums_text,
    parse_minimums_text,
    phala_identity,
)
from bridge.cli.wiring import ethereum_config, phala_config
from bridge.config import NodeConfig, parse_config
from relayers.ethereum import EthereumConfig
from relayers.store import PendingMessages
from relayers.store.identity import MISSING_CHAIN, ChainIdentity, Difference, IdentityMismatch, compare
from relayers.substrate import PhalaConfig

ROOT = Path(__file__).resolve().parents[3]
BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ACCOUNT = bytes(range(32))
ETH_GENESIS = "0x" + "aa" * 32
PHALA_GENESIS = "0x" + "bb" * 32


def node(text_edit: tuple[str, str] | None = None) -> NodeConfig:
    text = (ROOT / "config" / "node.example.toml").read_text()
    assert f'bridge_address = "{BRIDGE}"' in text  # the template's
    if text_edit is not None:
        assert text_edit[0] in text
        text = text.replace(*text_edit)
    return parse_config(text, NodeConfig, source="node.toml")


def identities(
    cfg: NodeConfig, *, account: bytes = ACCOUNT, group_key: bytes = b"\x02" + b"\x01" * 32
) -> list[ChainIdentity]:
    eth = ethereum_config(cfg, group_public_key=group_key)
    return [ethereum_identity(eth, ETH_GENESIS), phala_identity(phala_config(cfg, account), PHALA_GENESIS)]


def recorded(idents: list[ChainIdentity]) -> dict[str, dict[str, str]]:
    return {i.chain: dict(i.fields) for i in idents}


def test_the_identity_holds_what_a_cursor_depends_on() -> None:
    eth, phala = identities(node())
    assert eth.chain == "ethereum" and eth.cursors == ("ethereum",)
    assert dict(eth.fields) == {
        "kind": "ethereum",
        "domain": "1",
        "chain_id": "1",
        "genesis_hash": ETH_GENESIS,
        "bridge_address": BRIDGE.lower(),
        "start_block": str(eth_start(node())),
    }
    assert phala.cursors == ("phala", "phala-replies")  # the deposit watcher and the replies watcher
    f = phala.fields
    assert f["bridge_account"] == "0x" + ACCOUNT.hex() and f["genesis_hash"] == PHALA_GENESIS
    assert f["para_id"] == "2035" and f["domain"] == "2" and f["destinations"] == "1:18"
    assert f["min_deposit"] == "1:1000000000000/5000000000000"  # the template's 1 PHA / 5 PHA, from the start
    for name in ("start_block", "index_start_block", "resource_id", "native_decimals"):
        assert name in f


def eth_start(cfg: NodeConfig) -> int:
    return ethereum_config(cfg).start_block


def test_no_minimum_is_written_none() -> None:
    cfg = node()
    phala = phala_config(cfg, ACCOUNT)
    no_min = PhalaConfig(url=phala.url, bridge_account=ACCOUNT, resource_id=phala.resource_id)
    assert phala_identity(no_min, PHALA_GENESIS).fields["min_deposit"] == "none"


SCHEDULED = (
    "# [[chains.phala.min_deposit.ethereum.changes]]\n# from_block = 1200000 ",
    "[[chains.phala.min_deposit.ethereum.changes]]\nfrom_block = 1200000 #",
)  # the template's commented change, made real: 2 PHA / 6 PHA from Phala block 1,200,000


def scheduled(from_block: int = 1_200_000) -> list[ChainIdentity]:
    text = (SCHEDULED[0], SCHEDULED[1].replace("1200000", str(from_block)))
    edited = parse_config(
        config_text(text)
        .replace("# transfer = 2000000000000", "transfer = 2000000000000")
        .replace("# call = 6000000000000 ", "call = 6000000000000 #"),
        NodeConfig,
        source="node.toml",
    )
    return identities(edited)


def config_text(edit: tuple[str, str]) -> str:
    text = (ROOT / "config" / "node.example.toml").read_text()
    assert f'bridge_address = "{BRIDGE}"' in text  # the template's
    assert edit[0] in text
    return text.replace(*edit)


def test_a_scheduled_minimum_is_written_with_its_block_and_read_back() -> None:
    phala = scheduled()[1]
    text = phala.fields["min_deposit"]
    assert text == "1:1000000000000/5000000000000@1200000:2000000000000/6000000000000"
    back = parse_minimums_text(text)
    assert back[1].at(1_199_999).transfer == 10**12 and back[1].at(1_200_000).call == 6 * 10**12
    assert minimums_text(back, 0) == text
    for bad in ("1:1/2@", "x:1/2", "1:1/2/3", "1:1/2@5:3/4@5:6/7", ""):
        with pytest.raises(ValueError, match="not a recorded minimum schedule"):
            parse_minimums_text(bad)


def test_a_minimum_change_above_the_counted_block_updates_the_record_and_one_at_or_below_is_a_difference() -> None:
    before = recorded(identities(node()))
    after = scheduled(1_200_000)
    # counted up to just below the change: every counted deposit was judged alike: an update
    ok = compare(before, after, {"phala": 1_199_999})
    assert ok.matches and [(c, f) for c, f, _, _ in ok.updated_fields] == [("phala", "min_deposit")]
    # nothing counted yet: any schedule
    assert compare(before, after, {"phala": None}).matches
    # counted up to the change's block or past it: deposits were judged under the old value: refused
    for counted in (1_200_000, 2_000_000):
        result = compare(before, after, {"phala": counted})
        assert [(d.chain, d.field) for d in result.differences] == [("phala", "min_deposit")], counted
        assert not result.updated_fields
    # the counted block unknown (no cursor read): strict
    assert [(d.chain, d.field) for d in compare(before, after).differences] == [("phala", "min_deposit")]
    # a recorded text that does not parse is a difference, never an update
    broken = recorded(identities(node()))
    broken["phala"]["min_deposit"] = "garbage"
    assert not compare(broken, after, {"phala": 0}).matches


def test_the_same_deployment_matches() -> None:
    now = identities(node())
    result = compare(recorded(now), now)
    assert result.matches and not result.new_chains and not result.added_fields


def test_legitimately_live_changes_do_not_trip_the_check() -> None:
    before = identities(node())
    # the Ethereum group key rotates on the bridge (a new epoch): not bound
    assert compare(recorded(before), identities(node(), group_key=b"\x03" + b"\x09" * 32)).matches
    # per-node settings and endpoints: not bound
    for edit in (
        ("# max_block_range = 500", "max_block_range = 100 #"),
        ("# rewind_depth = 64", "rewind_depth = 32 #"),
        ("https://ethereum-rpc.example.org", "https://another-provider.example.org"),
        ("wss://phala-rpc.example.org", "wss://my-own-node.example.org"),
        ("confirmations = 64", "confirmations = 32"),
    ):
        assert compare(recorded(before), identities(node(edit))).matches, edit


@pytest.mark.parametrize(
    ("edit", "chain", "field"),
    [
        (('bridge_address = "', 'bridge_address = "0x1111111111111111111111111111111111111111" #'), "ethereum",
         "bridge_address"),
        (("chain_id = 1\n", "chain_id = 11155111\n"), "ethereum", "chain_id"),
        (("para_id = 2035", "para_id = 2004"), "phala", "para_id"),
        (("transfer = 1000000000000", "transfer = 2000000000000"), "phala", "min_deposit"),
    ],
)  # fmt: skip
def test_a_changed_deployment_constant_is_named(edit: tuple[str, str], chain: str, field: str) -> None:
    before = identities(node())
    result = compare(recorded(before), identities(node(edit)))
    assert [(d.chain, d.field) for d in result.differences] == [(chain, field)]


def test_start_blocks_and_a_new_dkg_are_differences() -> None:
    before = recorded(identities(node()))
    before["ethereum"]["start_block"] = "5"
    before["phala"]["start_block"] = "7"
    after = identities(node(), account=b"\x42" * 32)  # a new DKG: another Ed25519 group key, another bridge account
    diffs = {(d.chain, d.field): d for d in compare(before, after).differences}
    assert set(diffs) == {("ethereum", "start_block"), ("phala", "start_block"), ("phala", "bridge_account")}
    assert diffs[("phala", "bridge_account")].recorded == "0x" + ACCOUNT.hex()
    assert diffs[("phala", "bridge_account")].current == "0x" + "42" * 32


def test_genesis_hashes_are_compared() -> None:
    before = recorded(identities(node()))
    cfg = node()
    reset = [
        ethereum_identity(ethereum_config(cfg), "0x" + "cc" * 32),  # a devnet reset: same chain id, new chain
        phala_identity(phala_config(cfg, ACCOUNT), PHALA_GENESIS),
    ]
    assert [(d.chain, d.field) for d in compare(before, reset).differences] == [("ethereum", "genesis_hash")]


def test_a_recorded_chain_missing_from_the_config_is_a_difference_and_a_new_one_is_not() -> None:
    eth, phala = identities(node())
    renamed = ChainIdentity("mainnet", eth.fields, ("mainnet",))
    result = compare(recorded([eth, phala]), [renamed, phala])
    assert [(d.chain, d.field) for d in result.differences] == [("ethereum", MISSING_CHAIN)]
    assert [c.chain for c in result.new_chains] == ["mainnet"]
    # a chain added next to the recorded ones is recorded, not refused
    added = compare(recorded([eth]), [eth, phala])
    assert added.matches and [c.chain for c in added.new_chains] == ["phala"]


def test_a_field_new_to_this_build_is_added_not_refused() -> None:
    now = identities(node())
    old = recorded(now)
    del old["phala"]["min_deposit"]  # a store recorded by a build that did not bind it
    result = compare(old, now)
    assert result.matches and result.added_fields == (("phala", "min_deposit", now[1].fields["min_deposit"]),)


def test_the_mismatch_error_names_every_field_and_the_remedy() -> None:
    diffs = [
        Difference("ethereum", "bridge_address", "0x" + "11" * 20, "0x" + "22" * 20),
        Difference("phala", "start_block", "100", "200"),
    ]
    text = str(IdentityMismatch("sqlite:///node-1.db", diffs, "/etc/pb/node.toml"))
    assert "sqlite:///node-1.db was made for another deployment (2 difference(s))" in text
    assert f"ethereum.bridge_address: recorded 0x{'11' * 20}, now 0x{'22' * 20}" in text
    assert "phala.start_block: recorded 100, now 200" in text
    assert "Nothing was changed" in text
    assert "`phala-bridge store rebind --config /etc/pb/node.toml`" in text and "new database" in text


def test_the_pending_error_says_how_many() -> None:
    text = str(PendingMessages({"verified": 2, "submitted": 1}))
    assert text.startswith("3 message(s) in this store are still pending (1 submitted, 2 verified)")
    assert "--force" in text


def _eth_phala() -> tuple[EthereumConfig, PhalaConfig]:
    cfg = node()
    return ethereum_config(cfg), phala_config(cfg, ACCOUNT)


def test_an_unreachable_chain_is_retried_until_it_answers() -> None:
    eth, phala = _eth_phala()
    calls = {"phala": 0}

    def read_phala(_: PhalaConfig) -> str:
        calls["phala"] += 1
        if calls["phala"] < 3:
            raise ChainUnreachable("phala at ws://x: connection refused")
        return PHALA_GENESIS

    found = asyncio.run(
        current_identity(eth, phala, stop=asyncio.Event(), retry=0.01, reads=(lambda _: ETH_GENESIS, read_phala))
    )
    assert found is not None and calls["phala"] == 3
    assert [i.fields["genesis_hash"] for i in found] == [ETH_GENESIS, PHALA_GENESIS]


def test_an_unreachable_chain_without_stop_raises_and_with_stop_set_gives_up() -> None:
    eth, phala = _eth_phala()

    def down(_: object) -> str:
        raise ChainUnreachable("down")

    with pytest.raises(ChainUnreachable):
        asyncio.run(current_identity(eth, phala, reads=(down, down)))

    async def stopped() -> object:
        stop = asyncio.Event()
        stop.set()
        return await current_identity(eth, phala, stop=stop, retry=5, reads=(down, down))

    assert asyncio.run(stopped()) is None
