"""A relayer started against a store made for another deployment (here: another Ethereum bridge contract) exits with
the error naming the field, old and new, without touching the store; `store rebind` (the real enclave's bridge
account, the real chains' genesis hashes) binds it to this deployment. The devnet's own relayers recorded their
stores' identity when they started (every e2e test runs behind that check)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from bridge.cli.loading import load_config
from bridge.cli.store_identity import current_identity
from bridge.cli.wiring import ethereum_config, phala_config
from bridge.config import NodeConfig
from bridge.devnet import Devnet
from relayers.enclave_client import EnclaveClient
from relayers.store import Cursor, open_store
from relayers.store.identity import ChainIdentity, bind

CLI = str(Path(sys.executable).with_name("phala-bridge"))
OTHER_BRIDGE = "0x" + "de" * 20


def _member_config(devnet: Devnet, tmp_path: Path) -> tuple[Path, str]:
    """Member 1's node.toml with a store and a status port of its own (the running relayer keeps its store, and
    `store rebind` refuses while a relayer answers on the status port)."""
    assert devnet.committee is not None
    text = devnet.committee.members[0].config.read_text()
    url = f"sqlite:///{tmp_path}/other.db"
    text, n = re.subn(r'(?m)^url = "sqlite:///.*"$', f'url = "{url}"', text)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text, m = re.subn(r'(?m)^listen = "127\.0\.0\.1:\d+"$', f'listen = "127.0.0.1:{port}"', text)
    assert n == 1 and m == 1
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path, url


def _listen(devnet: Devnet) -> str:
    assert devnet.committee is not None
    found = re.search(r'(?m)^listen = "(.*)"$', devnet.committee.members[0].config.read_text())
    assert found is not None
    return found.group(1)


def _current(config: Path) -> list[ChainIdentity]:
    cfg = load_config(config, NodeConfig)

    async def go() -> list[ChainIdentity]:
        async with EnclaveClient(cfg.enclave.socket) as client:
            keys = (await client.status()).group_keys
        assert keys is not None
        found = await current_identity(ethereum_config(cfg), phala_config(cfg, keys.ed25519))
        assert found is not None
        return found

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_a_store_of_another_bridge_stops_the_relayer_and_rebind_binds_it(bridge_devnet: Devnet, tmp_path: Path) -> None:
    config, url = _member_config(bridge_devnet, tmp_path)
    current = _current(config)
    eth = current[0]
    assert eth.fields["kind"] == "ethereum" and eth.fields["genesis_hash"].startswith("0x")
    other = [replace(eth, fields={**eth.fields, "bridge_address": OTHER_BRIDGE}), *current[1:]]
    store = open_store(url)
    bind(store, other, store_name=url)
    store.set_cursor(Cursor("ethereum", 3, "0x" + "ab" * 32))
    before = (store.deployment_rows(), store.cursors(), store.counts())
    store.close()

    run = subprocess.run(
        [CLI, "relayer", "run", "--config", str(config), "--keys-timeout", "30"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    said = run.stderr
    assert "was made for another deployment (1 difference(s))" in said, said
    assert f"ethereum.bridge_address: recorded {OTHER_BRIDGE}, now {eth.fields['bridge_address']}" in said
    assert f"phala-bridge store rebind --config {config}" in said
    store = open_store(url)
    assert (store.deployment_rows(), store.cursors(), store.counts()) == before  # untouched
    store.close()

    shown = subprocess.run([CLI, "store", "show", "--config", str(config), "--json"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert {r["value"] for r in json.loads(shown.stdout)["deployment"] if r["field"] == "bridge_address"} == {
        OTHER_BRIDGE
    }

    member_1 = config.with_name("member-1.toml")  # member 1's own status port: its relayer is running
    member_1.write_text(re.sub(r"(?m)^listen = .*$", f'listen = "{_listen(bridge_devnet)}"', config.read_text()))
    refused = subprocess.run(
        [CLI, "store", "rebind", "--config", str(member_1), "--yes"], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "stop it before rebinding its store" in refused.stderr, refused.stderr

    rebound = subprocess.run(
        [CLI, "store", "rebind", "--config", str(config), "--yes"], capture_output=True, text=True, timeout=120
    )
    assert rebound.returncode == 0, rebound.stdout + rebound.stderr
    assert f"ethereum.bridge_address: recorded {OTHER_BRIDGE} -> {eth.fields['bridge_address']}" in rebound.stdout
    store = open_store(url)
    try:
        assert store.deployment() == {c.chain: dict(c.fields) for c in current}
        assert store.cursors() == []  # the watchers start again from start_block
        bind(store, current, store_name=url)  # what the relayer's next start checks: it passes
    finally:
        store.close()

    # the devnet's own relayer recorded its store's identity, the same one
    assert bridge_devnet.committee is not None
    own = open_store(load_config(bridge_devnet.committee.members[0].config, NodeConfig).store.url)
    try:
        assert own.deployment() == {c.chain: dict(c.fields) for c in current}
    finally:
        own.close()
