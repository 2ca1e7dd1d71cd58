"""`[chains.phala.min_deposit]` and the network file's `phala.min_deposit`: validated, and the same rule (a schedule
by block) for the adapters (relayer watcher, enclave source verifier) and the client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli.wiring import phala_config
from bridge.client import PhalaClient
from bridge.config import ConfigError, NodeConfig, parse_config
from bridge.minimums import BelowMinimum, DepositMinimum, MinimumChange, MinimumSchedule
from bridge.network import PhalaSide

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
MINIMUM = "[chains.phala.min_deposit.ethereum]\ntransfer = 1000000000000               # 1 PHA\n"
ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def S(initial: DepositMinimum, *changes: tuple[int, DepositMinimum]) -> MinimumSchedule:
    return MinimumSchedule(initial, tuple(MinimumChange(b, m) for b, m in changes))


def _config(section: str) -> NodeConfig:
    assert MINIMUM in EXAMPLE  # the template shows the setting
    text = EXAMPLE.replace(MINIMUM, section).replace("\ncall = 5000000000000 ", "\n# ")
    return parse_config(text, NodeConfig, source="node.toml")


def test_the_template_sets_a_transfer_and_a_call_minimum() -> None:
    cfg = parse_config(EXAMPLE, NodeConfig, source="node.toml")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: S(DepositMinimum(transfer=10**12, call=5 * 10**12))}


def test_a_call_minimum_not_given_is_the_transfer_minimum_and_none_is_no_minimum() -> None:
    cfg = _config("[chains.phala.min_deposit.ethereum]\ntransfer = 7\n")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: S(DepositMinimum(7, 7))}
    cfg = _config("[chains.phala.min_deposit.ethereum]\ntransfer = 0\ncall = 0\n")
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {1: S(DepositMinimum(0, 0))}
    assert phala_config(_config(""), b"\x01" * 32).min_deposit == {}


CHANGES = """[chains.phala.min_deposit.ethereum]
transfer = 1
[[chains.phala.min_deposit.ethereum.changes]]
from_block = {a}
transfer = 2
call = 9
[[chains.phala.min_deposit.ethereum.changes]]
from_block = {b}
transfer = 3
"""


def test_a_schedule_keeps_the_plain_keys_as_from_the_start_and_adds_changes() -> None:
    cfg = _config(CHANGES.format(a=1200, b=1300))
    assert phala_config(cfg, b"\x01" * 32).min_deposit == {
        # a change's `call` not given is its own `transfer`
        1: S(DepositMinimum(1, 1), (1200, DepositMinimum(2, 9)), (1300, DepositMinimum(3, 3)))
    }


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("[chains.phala.min_deposit.solana]\ntransfer = 1\n", "names no other chain: solana"),
        ("[chains.phala.min_deposit.phala]\ntransfer = 1\n", "names no other chain: phala"),
        ("[chains.phala.min_deposit.ethereum]\ntransfer = -1\n", "transfer"),
        ("[chains.phala.min_deposit.ethereum]\ntransfer = 1\nextra = 2\n", "extra"),
        (CHANGES.format(a=1200, b=1200), "strictly increasing from_block, got \\[1200, 1200\\]"),
        (CHANGES.format(a=1300, b=1200), "strictly increasing from_block"),
        (CHANGES.format(a=0, b=1200), "from_block"),
        (CHANGES.format(a=1200, b=2**64), "from_block"),
        (CHANGES.replace("call = 9", "call = -1").format(a=1, b=2), "call"),
        (CHANGES.replace("call = 9", "extra = 9").format(a=1, b=2), "extra"),
    ],
)
def test_a_bad_minimum_is_refused(section: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _config(section)


def _side(min_deposit: object) -> PhalaSide:
    return PhalaSide.model_validate(
        {"ws_url": "ws://127.0.0.1:1", "para_id": 2035, "bridge_account": "0x" + "bb" * 32, "min_deposit": min_deposit}
    )


def test_the_network_file_gives_the_client_the_same_rule() -> None:
    assert _side({"ethereum": {"transfer": 10**12, "call": 3}}).minimums() == {1: S(DepositMinimum(10**12, 3))}
    assert _side({"ethereum": {"transfer": 10**12}}).minimums() == {1: S(DepositMinimum(10**12, 10**12))}
    assert _side({}).minimums() == {}
    changes = [{"from_block": 1200, "transfer": 2, "call": 9}, {"from_block": 1300, "transfer": 3}]
    assert _side({"ethereum": {"transfer": 1, "changes": changes}}).minimums() == {
        1: S(DepositMinimum(1, 1), (1200, DepositMinimum(2, 9)), (1300, DepositMinimum(3, 3)))
    }
    for bad in (
        {"eth": {"transfer": 1}},
        {"phala": {"transfer": 1}},
        {"ethereum": {"transfer": -1}},
        {"ethereum": {"changes": [{"from_block": 5, "transfer": 1}, {"from_block": 5, "transfer": 2}]}},
        {"ethereum": {"changes": [{"from_block": 0, "transfer": 1}]}},
        {"ethereum": {"changes": [{"transfer": 1}]}},
    ):
        with pytest.raises(ValueError):
            _side(bad)


def test_the_cli_refuses_a_transfer_below_the_minimum_before_anything_is_signed(tmp_path: Path) -> None:
    # Endpoints nobody listens on: the refusal must come before any chain is touched.
    network = {
        "name": "t",
        "ethereum": {"rpc_url": "http://127.0.0.1:9", "chain_id": 1, "bridge": ETH, "pha_token": ETH},
        "phala": {
            "ws_url": "ws://127.0.0.1:9",
            "para_id": 2035,
            "bridge_account": "0x" + "bb" * 32,
            "min_deposit": {"ethereum": {"transfer": 10**12}},
        },
        "pha_resource_id": "0x" + "07" * 32,
    }
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network))
    args = ["transfer", "--from", "phala", "--to", "ethereum", "--recipient", ETH, "--dev-account", "//Alice"]
    out = subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", *args, "--amount", "0.5", "--network", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: below_minimum: a transfer to domain 1 must carry at least 1 PHA")
    assert "this one carries 0.5 PHA" in out.stderr and "Traceback" not in out.stderr + out.stdout


def test_the_client_reads_the_head_only_for_a_changing_minimum_and_refuses_by_the_margin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`PhalaClient.check_amount` (the SDK and the CLI): a constant minimum needs no chain read; a scheduled raise
    within the margin of the finalized head is applied already."""
    reads: list[int] = []

    def client(min_deposit: object, head: int, margin: int = 50) -> PhalaClient:
        c = PhalaClient.__new__(PhalaClient)  # no connection: the rule only
        c.minimums, c.margin = _side(min_deposit).minimums(), margin

        def finalized_block() -> int:
            reads.append(head)
            return head

        monkeypatch.setattr(c, "finalized_block", finalized_block)
        return c

    client({"ethereum": {"transfer": 10**12}}, head=10).check_amount(1, 10**12)
    assert reads == []
    rising = {"ethereum": {"transfer": 10**12, "changes": [{"from_block": 1200, "transfer": 2 * 10**12}]}}
    client(rising, head=1100).check_amount(1, 10**12)  # 100 blocks ahead: today's minimum
    with pytest.raises(BelowMinimum, match="rises to this from Phala block 1200, 40 block"):
        client(rising, head=1160).check_amount(1, 10**12)
    client(rising, head=1160, margin=10).check_amount(1, 10**12)
    with pytest.raises(BelowMinimum, match=r"at least 2 PHA"):
        client(rising, head=1300).check_amount(1, 10**12)
    assert reads == [1100, 1160, 1160, 1300]
