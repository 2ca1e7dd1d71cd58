"""Make the devnet's Ethereum fixture: an anvil state with the contracts deployed and configured.

    .venv/bin/python anvil-fixtures/make_fixtures.py [--check]

Starts anvil (chain id 31337, fixed genesis timestamp, one second per block), deploys the whole set from anvil's
first dev account in a fixed order (so the addresses never change), funds dev accounts 2..9 with test PHA, then
writes:

- `devnet-state.json`: the state dump (`anvil_dumpState`, as `--dump-state` writes it), to load with
  `anvil --load-state devnet-state.json --chain-id 31337` (a dump does not keep the chain id: pass it again);
- `devnet-addresses.json`: chain id, deployer, admin, guardian, block, contract addresses and resource ids.

The committee key is NOT in the fixture: the devnet's committee runs its DKG and the admin (the deployer) calls
`initializeKey` once. `--check` rebuilds in a temporary directory and fails if the committed files differ.
Both outputs are deterministic (fixed timestamps, sorted keys), so the files change only when the contracts or
the deployment do.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from web3 import Web3  # noqa: E402

from bridge.devnet.anvil import start_anvil  # noqa: E402
from bridge.devnet.processes import ProcessSupervisor  # noqa: E402
from relayers.ethereum.deploy import DeployConfig, deploy_all  # noqa: E402

HERE = Path(__file__).resolve().parent
STATE_FILE = "devnet-state.json"
ADDRESSES_FILE = "devnet-addresses.json"
CHAIN_ID = 31337
GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z


def _rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


def build(out_dir: Path) -> dict[str, Any]:
    """Deploy on a fresh anvil and write both files into `out_dir`; returns the addresses document."""
    with tempfile.TemporaryDirectory(prefix="anvil-fixtures-") as logs:
        supervisor = ProcessSupervisor(log_dir=Path(logs))
        try:
            node = start_anvil(
                supervisor, chain_id=CHAIN_ID, name="anvil-fixtures", extra_args=("--timestamp", str(GENESIS_TIMESTAMP))
            )
            w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
            _rpc(w3, "anvil_setBlockTimestampInterval", 1)  # block timestamps follow the block number, not the clock
            accounts = [str(a) for a in w3.eth.accounts]
            deployment = deploy_all(
                w3, accounts[0], DeployConfig(guardian=accounts[1], funded_accounts=tuple(accounts[2:10]))
            )
            dump = _rpc(w3, "anvil_dumpState")
        finally:
            supervisor.stop_all()
    state = json.loads(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))
    # anvil lists blocks and transactions in hash-map order: sort them so the file is byte-for-byte reproducible
    state["blocks"] = sorted(state.get("blocks") or [], key=lambda b: int(b["header"]["number"], 16))
    state["transactions"] = sorted(
        state.get("transactions") or [], key=lambda t: (t["block_number"], t["info"]["transaction_index"])
    )
    addresses = {
        "chain_id": CHAIN_ID,
        "deployer": deployment.deployer,
        "admin": deployment.admin,
        "guardian": deployment.guardian,
        "block_number": deployment.block_number,
        "contracts": {
            "Bridge": deployment.bridge,
            "PhaToken": deployment.pha_token,
            "WrappedToken": deployment.wrapped_token,
            "CallRecorder": deployment.call_recorder,
            "RevertingTarget": deployment.reverting_target,
        },
        "resources": {"PHA": deployment.pha_resource_id, "wPTA": deployment.wrapped_resource_id},
        "funded_accounts": accounts[2:10],
        "committee_key": "not set: the admin calls Bridge.initializeKey(x, y) once the committee's DKG has run",
        "load_with": f"anvil --load-state {STATE_FILE} --chain-id {CHAIN_ID}",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    (out_dir / ADDRESSES_FILE).write_text(json.dumps(addresses, indent=2, sort_keys=True) + "\n")
    return addresses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed fixtures are out of date")
    args = parser.parse_args(argv)
    if not args.check:
        addresses = build(HERE)
        print(f"wrote {HERE / STATE_FILE} and {HERE / ADDRESSES_FILE} (bridge {addresses['contracts']['Bridge']})")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        stale = [
            name for name in (STATE_FILE, ADDRESSES_FILE)
            if not (HERE / name).exists() or (HERE / name).read_bytes() != (Path(tmp) / name).read_bytes()
        ]  # fmt: skip
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python anvil-fixtures/make_fixtures.py`", file=sys.stderr)
        return 1
    print("anvil fixtures are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
