"""A config `config check` passes is one the commands can run: what `relayer run` and `enclave run`/`info` would
refuse at start (after waiting for the DKG, for the relayer) is refused at load, naming the key. The template passes
and builds every part the commands build."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import app
from bridge.cli.wiring import ethereum_config, phala_config, policy_of
from bridge.config import ConfigError, DevnetConfig, NodeConfig, parse_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
DEVNET = (ROOT / "config" / "devnet.toml").read_text()
RESOURCE = EXAMPLE[EXAMPLE.index("[resources.PHA]\n") : EXAMPLE.index("\n[batching]")]
COMMITTEE = EXAMPLE[EXAMPLE.index("\n[committee]\n") :]
GATEWAY = """
[chains.phala.gateway]
reserve_account = "0x{reserve}"
[chains.phala.gateway.parachains.peer]
para_id = 1000
xcm_versions = {versions}
min_fee = 20000000
min_deposit = 3333333
"""


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, NodeConfig, source="node.toml")
    return str(info.value)


def _check(tmp_path: Path, text: str, kind: str = "node") -> tuple[int, str]:
    path = tmp_path / f"{kind}.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    return result.exit_code, result.output


def test_the_template_passes_and_builds_what_the_commands_build(tmp_path: Path) -> None:
    from enclave_signer.process.setup import parts_of

    assert _check(tmp_path, EXAMPLE) == (0, f"{tmp_path / 'node.toml'}: ok (node config)\n")
    seed = tmp_path / "seed"
    seed.write_text("ab" * 32)
    seed.chmod(0o600)
    cfg = parse_config(EXAMPLE.replace("/etc/phala-bridge/platform-1.seed", str(seed)), NodeConfig, source="n")
    # relayer run
    eth = ethereum_config(cfg, group_public_key=b"\x02" + b"\x01" * 32)
    phala = phala_config(cfg, b"\x01" * 32)
    assert (eth.domain, phala.domain, phala.native_decimals) == (1, 2, 12)
    assert int(eth.bridge_address, 16) != 0
    assert len(policy_of(cfg).resources) == 1
    # enclave run / info
    parts = parts_of(cfg)
    assert parts.committee.members == [1, 2, 3, 4, 5] and parts.transport_config.port == 1883


def test_the_template_without_resources_was_ok_and_is_refused_now(tmp_path: Path) -> None:
    code, out = _check(tmp_path, EXAMPLE.replace(RESOURCE, ""))
    assert code == 2, out
    assert "exactly one [resources.*] must list chain 'phala' in its decimals (Phala's native token), found 0" in out


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        # a second resource of the Phala chain: which one is its native token?
        (
            lambda t: t + RESOURCE.replace("[resources.PHA]", "[resources.PHA2]").replace("f803", "f804"),
            "must list chain 'phala' in its decimals (Phala's native token), found 2 (PHA, PHA2)",
        ),
        # the Ethereum adapter needs each resource's decimals there
        (
            lambda t: t.replace("decimals = { ethereum = 18, phala = 12 }", "decimals = { phala = 12 }"),
            "resources.PHA.decimals has no entry for chain 'ethereum'",
        ),
        (lambda t: t.replace(COMMITTEE, "\n"), "[committee]: missing value"),
        (
            lambda t: t.replace("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", "0x" + "00" * 20),
            "[chains.ethereum.bridge_address]: the zero address is no contract",
        ),
        (
            lambda t: t.replace('ws_url = "wss://phala-rpc.example.org"', 'ws_url = "https://phala-rpc.example.org"'),
            "[chains.phala.ws_url]: bad URL 'https://phala-rpc.example.org': scheme must be one of ws, wss",
        ),
        (
            lambda t: t.replace(
                'rpc_url = "https://ethereum-rpc.example.org"', 'rpc_url = "wss://ethereum-rpc.example.org"'
            ),
            "[chains.ethereum.rpc_url]: bad URL 'wss://ethereum-rpc.example.org': scheme must be one of http, https",
        ),
        (
            lambda t: t.replace(
                'url = "postgresql://phala_bridge@127.0.0.1:5432/phala_bridge"', 'url = "sqlite://node.db"'
            ),
            "[store.url]: bad URL 'sqlite://node.db': use sqlite:///relative.db or sqlite:////absolute.db",
        ),
        (
            lambda t: t.replace('url = "postgresql://phala_bridge@127.0.0.1:5432/phala_bridge"', 'url = "sqlite:///"'),
            "[store.url]: bad URL 'sqlite:///': use sqlite:///relative.db",
        ),
        (lambda t: t.replace('socket = "/run/phala-bridge/enclave-1.sock"', 'socket = " "'), "[enclave.socket]"),
        (
            lambda t: t.replace("# submitter_key_file = ", 'submitter_key_file = "" #'),
            "[chains.ethereum.submitter_key_file]",
        ),
    ],
    ids=[
        "two-native",
        "no-eth-decimals",
        "no-committee",
        "zero-bridge",
        "http-ws-url",
        "wss-rpc-url",
        "sqlite-two-slashes",
        "sqlite-no-path",
        "blank-socket",
        "empty-key-file",
    ],
)
def test_what_the_commands_would_refuse_is_refused_at_load(edit: object, says: str) -> None:
    text = _refused(edit(EXAMPLE))  # type: ignore[operator]
    assert says in text, text


def test_one_chain_of_each_kind() -> None:
    ethereum = EXAMPLE[EXAMPLE.index("[chains.ethereum]\n") : EXAMPLE.index("\n[chains.phala]\n")]
    two = EXAMPLE.replace(
        COMMITTEE,
        "\n"
        + ethereum.replace("[chains.ethereum]", "[chains.goerli]").replace("domain_id = 1", "domain_id = 3")
        + COMMITTEE,
    )
    assert "[chains] needs exactly one chain of kind 'ethereum', found 2 (ethereum, goerli)" in _refused(two)
    phala = EXAMPLE[EXAMPLE.index("[chains.phala]\n") : EXAMPLE.index("\n[batching]")]
    none = EXAMPLE.replace(phala, "").replace(", phala = 12", "")
    assert "[chains] needs exactly one chain of kind 'substrate', found 0" in _refused(none)


def test_an_enclave_only_config_needs_no_chains() -> None:
    # what tests/devnet/test_committee.py and bench/bench_committee.py run: no [chains], a verifier that reads none
    head = EXAMPLE[: EXAMPLE.index("[chains.ethereum]\n")]
    committee = COMMITTEE.replace("threshold = 3\n", 'threshold = 3\nverifier = "policy"\n')
    cfg = parse_config(head + "[chains]\n" + committee, NodeConfig, source="node.toml")
    assert cfg.chains == {} and cfg.committee.verifier == "policy"
    # with the chain verifier, the chains are needed
    assert "needs exactly one chain of kind 'ethereum', found 0" in _refused(head + "[chains]\n" + COMMITTEE)


@pytest.mark.parametrize("versions", ["[3]", "[4]", "[5]", "[3, 4, 5]"])
def test_a_gateway_route_without_a_version_the_gateway_writes_is_refused(versions: str) -> None:
    text = EXAMPLE.replace("\n[batching]", GATEWAY.format(reserve="44" * 32, versions=versions) + "\n[batching]")
    said = _refused(text)
    assert said.startswith("node.toml [chains.phala.gateway.parachains.peer]: xcm_versions ")
    assert (
        "lists no XCM version the gateway can write (it writes 2): every deposit on this route would be refunded"
        in said
    )


def test_a_gateway_route_with_v2_among_others_loads() -> None:
    text = EXAMPLE.replace("\n[batching]", GATEWAY.format(reserve="44" * 32, versions="[2, 3]") + "\n[batching]")
    cfg = parse_config(text, NodeConfig, source="node.toml")
    gateway = phala_config(cfg, b"\x01" * 32).gateway
    assert gateway is not None and gateway.routes[1000].xcm_versions == frozenset({2, 3})


@pytest.mark.parametrize("work_dir", ['""', '"  "'])
def test_an_empty_devnet_work_dir_is_refused(work_dir: str, tmp_path: Path) -> None:
    # "" was Path("") = the current directory: the repository root for the devnet
    text = DEVNET.replace('work_dir = ".devnet"', f"work_dir = {work_dir}")
    with pytest.raises(ConfigError, match=r"\[devnet.work_dir\]: empty: give a path"):
        parse_config(text, DevnetConfig, source="devnet.toml")
    code, out = _check(tmp_path, text, "devnet")
    assert code == 2 and "[devnet.work_dir]" in out, out
