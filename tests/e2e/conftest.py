"""The fault-injection harness: a fresh bridge devnet of its own (module scope), and the levers and probes the fault
tests need.

Levers: SIGKILL (or SIGSTOP) one member's relayer or enclave and start it again the way the devnet does; stop and
resume block production on either chain; restart the broker on its port; reorganise anvil; a `ChainTap` proxy that
kills a relayer right after the destination accepted its transaction. Probes: a member's status API, a member's
store read directly (read-only SQLite in WAL mode never blocks the daemon: the fast poll that times a kill), and the
chains themselves, which are the only judge of "exactly once".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_account import Account
from eth_typing import HexStr
from substrateinterface import Keypair
from web3 import Web3
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import enclave_signer
from bridge.client import EthereumClient, PhalaClient
from bridge.config.schema import DevnetSection
from bridge.devnet import Devnet
from bridge.devnet.accounts import ethereum_dev_accounts
from bridge.devnet.broker import start_broker
from bridge.devnet.committee import BridgeCommittee, Member
from bridge.devnet.processes import ManagedProcess, ProcessStartError
from bridge.evm import decode_batch, parse_execute_batch_calldata
from bridge.ids import message_id
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.network import NetworkInfo
from enclave_signer.measurement import measure_tree
from relayers.ethereum.contracts import contract_at, send
from relayers.substrate import PhalaConfig, SubstrateClient, set_free_balance
from relayers.substrate.chain import ChainReader
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex

T = TypeVar("T")

UNIT_ETH = 10**18  # PHA on Ethereum: 18 decimals
UNIT_PHA = 10**12  # PHA on Phala: 12 decimals
ETH_DOMAIN, PHALA_DOMAIN = 1, 2
USER_ACCOUNTS = (2, 3, 4)  # anvil accounts holding PHA that no relayer uses (0 admin, 1 guardian, 5-9 submitters)
ALL_MEMBERS = (1, 2, 3, 4, 5)


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def run_cli(*args: str, timeout: float = 400.0) -> subprocess.CompletedProcess[str]:
    """`phala-bridge ARGS` as a user runs it, in a process of its own; output 250 columns wide, so that no line the
    tests look for is wrapped."""
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "250"},
    )


@dataclass(frozen=True)
class Transfer:
    """One deposit made by a test: where it goes and what must arrive there, exactly once."""

    message_id: str
    source_domain: int
    nonce: int
    recipient: bytes  # 32-byte Phala account or 20-byte Ethereum address
    amount: int  # in the destination's units


class _CountingIndex(ExecutedIndex):
    """The relayers' executed index, counting every successful execution of an id rather than keeping the first."""

    def __init__(self, config: PhalaConfig) -> None:
        super().__init__(config)
        self.times: Counter[str] = Counter()

    def _add(self, record: BridgeExtrinsic) -> None:
        super()._add(record)
        if record.succeeded:
            self.times.update(record.ids)


class ChainTap:
    """A pass-through proxy in front of a chain's RPC endpoint that can cut one relayer off at the worst moment:
    once armed, it forwards the next transaction submission (`eth_sendRawTransaction` over HTTP, or
    `author_submitExtrinsic` over a websocket), waits for the chain to accept it, and calls `on_sent` instead of
    handing the answer back. With `on_sent` a SIGKILL, the relayer dies with its transaction at the destination
    and its store still saying `signed`: exactly between the send and the write, every time."""

    def __init__(self, upstream: str, on_sent: Callable[[], None]) -> None:
        self.upstream = upstream
        self.on_sent = on_sent
        self.armed = threading.Event()
        self.fired = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chain-tap", daemon=True)
        self.port = 0

    @property
    def method(self) -> str:
        return "author_submitExtrinsic" if self.upstream.startswith("ws") else "eth_sendRawTransaction"

    @property
    def url(self) -> str:
        scheme = "ws" if self.upstream.startswith("ws") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> ChainTap:
        self._thread.start()
        assert self._started.wait(10), "the chain tap did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            # connection handlers outlive the server: end them on this loop, then close it (else they are finalized
            # later, by the garbage collector, against a closed loop)
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    def _fire(self, message: str) -> bool:
        """True when this message is the submission to intercept (once)."""
        if self.armed.is_set() and self.method in message and not self.fired.is_set():
            self.armed.clear()
            return True
        return False

    async def _serve(self) -> None:
        if self.upstream.startswith("ws"):
            # close_timeout: on exit, connections whose peer was SIGKILLed never answer the close handshake; the
            # default (10 s) would hold the test, and the relayer's restart, past the enclave's relayer timeout.
            async with ws_serve(self._ws, "127.0.0.1", 0, max_size=None, close_timeout=1) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                self._started.set()
                await self._stop.wait()
                # End the connection handlers first: the server's exit waits for them, and one whose client was
                # SIGKILLed can wait on its upstream for long (past the enclave's relayer timeout, which would hand
                # the lead away while the test restarts the relayer).
                current = asyncio.current_task()
                handlers = [t for t in asyncio.all_tasks() if t is not current]
                for task in handlers:
                    task.cancel()
                await asyncio.gather(*handlers, return_exceptions=True)
        else:
            http = await asyncio.start_server(self._http, "127.0.0.1", 0)
            async with http:
                self.port = http.sockets[0].getsockname()[1]
                self._started.set()
                await self._stop.wait()

    async def _ws(self, client: Any) -> None:
        intercepted: set[Any] = set()
        async with ws_connect(self.upstream, max_size=None, close_timeout=1) as upstream:

            async def up() -> None:
                async for msg in client:
                    if isinstance(msg, str) and self._fire(msg):
                        intercepted.add(json.loads(msg).get("id"))
                    await upstream.send(msg)

            async def down() -> None:
                async for msg in upstream:
                    if intercepted and isinstance(msg, str) and json.loads(msg).get("id") in intercepted:
                        self.on_sent()  # the chain has it; the relayer never hears back
                        self.fired.set()
                        return
                    await client.send(msg)

            with contextlib.suppress(Exception):
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(up())
                    tg.create_task(down())

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                fire = self._fire(body.decode(errors="replace"))
                answer = await asyncio.to_thread(self._forward, body)
                if fire:
                    self.on_sent()
                    self.fired.set()
                    return
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer)
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, StopIteration):
            pass
        finally:
            writer.close()

    def _forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return bytes(r.read())


class FaultBridge:
    def __init__(self, devnet: Devnet) -> None:
        assert devnet.state is not None and devnet.state.network_file and devnet.committee is not None
        self.devnet = devnet
        self.committee: BridgeCommittee = devnet.committee
        self.net = NetworkInfo.model_validate_json(Path(devnet.state.network_file).read_text())
        self.rid = bytes.fromhex(self.net.pha_resource_id[2:])
        self.w3 = Web3(Web3.HTTPProvider(self.net.ethereum.rpc_url, request_kwargs={"timeout": 30}))
        self.bridge = contract_at(self.w3, "Bridge", self.net.ethereum.bridge)
        self.token = contract_at(self.w3, "PhaToken", self.net.ethereum.pha_token)
        accounts = ethereum_dev_accounts(max(USER_ACCOUNTS) + 1)
        self.users = {i: accounts[i] for i in USER_ACCOUNTS}
        self.eth = {i: EthereumClient(self.net.ethereum, u.private_key, timeout=30) for i, u in self.users.items()}
        self.phala = PhalaClient(self.net.phala, self.rid, timeout=30)
        self.substrate = SubstrateClient(self.net.phala.ws_url, timeout=30)
        self.bridge_account = bytes.fromhex(self.net.phala.bridge_account[2:])
        for i in USER_ACCOUNTS:  # one allowance for every deposit of the run: a deposit is then one transaction
            owner = Account.from_key(self.users[i].private_key)
            send(self.w3, self.token.functions.approve(self.bridge.address, 2**255), owner)

    def close(self) -> None:
        self.phala.close()
        self.substrate.close()

    # ---- members: processes, status API, store ----------------------------------------------------------------

    def member(self, index: int) -> Member:
        return self.committee.members[index - 1]

    def _signal(self, proc: ManagedProcess | None, sig: int) -> None:
        assert proc is not None and self.devnet.supervisor is not None
        with contextlib.suppress(ProcessLookupError):  # already killed (by a ChainTap)
            os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.popen.wait(timeout=10)
            self.devnet.supervisor.stop(proc, grace=0.1)  # reaped; forget it so teardown never signals a reused pid

    def kill_relayer(self, index: int) -> None:
        self._signal(self.member(index).relayer, signal.SIGKILL)

    def kill_enclave(self, index: int) -> None:
        self._signal(self.member(index).enclave, signal.SIGKILL)

    def stop_enclave(self, index: int) -> None:
        """A clean stop (SIGTERM): the enclave saves its snapshots and exits."""
        proc = self.member(index).enclave
        assert proc is not None and self.devnet.supervisor is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=30)
        self.devnet.supervisor.stop(proc, grace=1)

    def freeze_relayer(self, index: int) -> None:
        self._signal(self.member(index).relayer, signal.SIGSTOP)

    def thaw_relayer(self, index: int) -> None:
        self._signal(self.member(index).relayer, signal.SIGCONT)

    def start_relayer(
        self, index: int, *, ethereum_rpc: str | None = None, phala_ws: str | None = None, store_url: str | None = None
    ) -> None:
        """Start the member's relayer again, as the devnet does (same config, same store); optionally pointed at
        other chain endpoints (a `ChainTap`) or another store for this run only: its enclave keeps its own."""
        m = self.member(index)
        original = m.config.read_text()
        text = original
        if store_url is not None:
            own = f'url = "sqlite:///{self.committee.dir}/node-{index}.db"'
            assert own in text, f"member {index}'s config names another store"
            text = text.replace(own, f'url = "{store_url}"')
        if ethereum_rpc is not None:
            text = text.replace(f'rpc_url = "{self.net.ethereum.rpc_url}"', f'rpc_url = "{ethereum_rpc}"')
        if phala_ws is not None:
            text = text.replace(f'ws_url = "{self.net.phala.ws_url}"', f'ws_url = "{phala_ws}"')
        m.config.write_text(text)
        try:
            self.committee.start_relayer(m)
            relayer = m.relayer
            assert relayer is not None

            def serving() -> bool:
                assert relayer.alive(), f"relayer {index} exited:\n{relayer.log_tail()}"
                return self.health(index) is not None

            wait_for(f"relayer {index} serving", serving, timeout=60)
        finally:
            m.config.write_text(original)

    def start_enclave(self, index: int) -> None:
        """Start the member's enclave again (same config, same sealed directory) and check it unsealed its key
        shares: it must come up holding the committee's keys, not as a new member."""
        m = self.member(index)
        self.committee.start_enclave(m)
        assert m.enclave is not None
        try:
            m.enclave.wait_for_log('"enclave_ready"', 30)
        except ProcessStartError as exc:
            # Someone editing enclave_signer/ while the devnet runs makes a restarted enclave another build: its
            # sealed shares do not open and the others refuse its quote. Say so rather than leave a riddle.
            now = measure_tree(Path(enclave_signer.__file__).parent).hex()
            if f'"{now}"' not in m.config.read_text():
                changed = f"enclave_signer/ changed during the run (measurement now {now[:16]})"
                raise AssertionError(f"{changed}: {exc}") from exc
            raise
        (line,) = [x for x in m.enclave.log_path.read_text().splitlines() if '"enclave_ready"' in x]
        assert json.loads(line)["has_keys"] is True, line

    def stop_bridge_processes(self) -> None:
        """SIGTERM every relayer and enclave at once, before the broker and the chains go: the supervisor stops
        one process at a time, newest first, which after a broker restart means enclaves closing their MQTT
        sessions against no broker (~2 s each)."""
        assert self.devnet.supervisor is not None
        procs = [p for p in self.devnet.supervisor.processes if p.name.startswith(("relayer-", "enclave-"))]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=10)
            self.devnet.supervisor.stop(p, grace=1)

    def logged(self, index: int, process: str, event: str) -> list[dict[str, Any]]:
        """The `event` lines of the member's relayer or enclave log (this run of the process: logs start afresh)."""
        proc = self.member(index).relayer if process == "relayer" else self.member(index).enclave
        assert proc is not None
        needle = f'"event": "{event}"'
        return [json.loads(x) for x in proc.log_path.read_text(errors="replace").splitlines() if needle in x]

    def enclave_log_size(self, index: int) -> int:
        enclave = self.member(index).enclave
        assert enclave is not None
        return enclave.log_path.stat().st_size

    def kill_enclave_when_logged(self, index: int, event: str, offset: int, timeout: float = 30.0) -> None:
        """SIGKILL the member's enclave the moment its log shows `event` past `offset` (polled every ~1 ms)."""
        enclave = self.member(index).enclave
        assert enclave is not None
        needle = f'"event": "{event}"'.encode()
        deadline = time.monotonic() + timeout
        with open(enclave.log_path, "rb") as f:
            f.seek(offset)
            seen = b""
            while needle not in seen:
                seen = seen[-len(needle) :] + f.read()
                if time.monotonic() > deadline:
                    raise AssertionError(f"enclave {index} never logged {event}")
                time.sleep(0.001)
        self.kill_enclave(index)

    def health(self, index: int) -> dict[str, Any] | None:
        """The member's /health body (200 or 503), None when its relayer does not answer."""
        try:
            with urllib.request.urlopen(self.member(index).status_url + "/health", timeout=2) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read())) if exc.code == 503 else None
        except OSError:
            return None

    def metric(self, index: int, name: str, **labels: str) -> float | None:
        """One sample of the member's relayer /metrics, whatever order the labels come in; None when absent."""
        with urllib.request.urlopen(self.member(index).status_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        for line in text.splitlines():
            found = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
            carried = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or "")) if found else None
            if found and found.group(1) == name and carried == labels:
                return float(found.group(3))
        return None

    def leader_seen_by(self, index: int) -> int | None:
        h = self.health(index)
        return None if h is None or not h.get("enclave") else h.get("leader")

    def message(self, index: int, mid: str) -> dict[str, Any] | None:
        """GET /message/<id> on one member: its record of the message, None if unknown there (or not serving)."""
        try:
            with urllib.request.urlopen(f"{self.member(index).status_url}/message/{mid}", timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            return None

    def by_source_tx(self, tx_hash: str, members: tuple[int, ...] = ALL_MEMBERS) -> dict[str, Any] | None:
        for i in members:
            try:
                with urllib.request.urlopen(f"{self.member(i).status_url}/source-tx/{tx_hash}", timeout=2) as r:
                    found = json.loads(r.read())
            except OSError:
                continue
            if found:
                return dict(found[0])
        return None

    def _store(self, index: int) -> sqlite3.Connection:
        # Read-only; the store runs in WAL mode, where readers never block the daemon's writes.
        return sqlite3.connect(f"file:{self.committee.dir}/node-{index}.db?mode=ro", uri=True, timeout=5)

    @staticmethod
    def _states(conn: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
        """key -> state, for keys that are message ids or source transaction hashes."""
        marks = ",".join("?" * len(keys))
        query = f"SELECT id, source_tx, state FROM messages WHERE id IN ({marks}) OR source_tx IN ({marks})"
        out: dict[str, str] = {}
        for mid, tx, state in conn.execute(query, [*keys, *keys]).fetchall():
            out[str(mid) if mid in keys else str(tx)] = str(state)
        return out

    def state(self, index: int, key: str) -> str | None:
        """One message's state in the member's store (by id or source transaction hash); None if not there."""
        return self.store_states(index, [key]).get(key)

    def store_states(self, index: int, keys: list[str]) -> dict[str, str]:
        """The member's store read directly: message id (or source tx hash) -> state."""
        conn = self._store(index)
        try:
            return self._states(conn, keys)
        finally:
            conn.close()

    def kill_relayer_when(
        self, index: int, keys: list[str], ready: Callable[[dict[str, str]], bool], timeout: float = 30.0
    ) -> dict[str, str]:
        """SIGKILL the member's relayer the moment its store satisfies `ready` (polled every ~0.5 ms: the stages
        are tens of milliseconds apart). Returns the store's states as the kill left them."""
        conn = self._store(index)
        deadline = time.monotonic() + timeout
        try:
            while True:
                states = self._states(conn, keys)
                if ready(states):
                    self.kill_relayer(index)
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"relayer {index} never reached the kill point: {states}")
                time.sleep(0.0005)
            return self._states(conn, keys)
        finally:
            conn.close()

    def sigkill_relayer_now(self, index: int) -> None:
        """SIGKILL only (no bookkeeping): safe from another thread, e.g. a ChainTap's."""
        relayer = self.member(index).relayer
        assert relayer is not None
        os.killpg(relayer.pid, signal.SIGKILL)

    def submitter(self, index: int) -> str:
        """The address member `index`'s relayer sends Ethereum transactions from."""
        key = (self.committee.dir / f"submitter-{index}.key").read_text().strip()
        return str(Account.from_key(key).address)

    def members_whole(self) -> bool:
        """Every relayer serves, sees its enclave with keys, all five members up, and member 1 leading."""
        for i in ALL_MEMBERS:
            h = self.health(i)
            if h is None or not h.get("enclave") or sorted(h.get("members_up", [])) != list(ALL_MEMBERS):
                return False
            if h.get("leader") != 1:
                return False
        return True

    def heal(self) -> None:
        """Put the bridge back together whatever a previous test left: chains producing blocks, every process up."""
        self.eth_rpc("evm_setIntervalMining", 1)
        self.phala_build_mode("Instant")
        self.phala_new_block()  # anything a paused pool still holds
        for m in self.committee.members:
            if m.enclave is None or not m.enclave.alive():
                self.start_enclave(m.index)
            if m.relayer is None or not m.relayer.alive():
                self.start_relayer(m.index)
        wait_for("the whole committee up, member 1 leading", self.members_whole, timeout=60)

    # ---- broker ----------------------------------------------------------------------------------------------

    def restart_broker(self, down_for: Callable[[], object]) -> None:
        """Stop the broker, run `down_for()` while it is down, start it again on the same port."""
        old = self.devnet.broker
        assert old is not None and self.devnet.supervisor is not None
        self.devnet.supervisor.stop(old.process)
        try:
            down_for()
        finally:
            self.devnet.broker = start_broker(
                self.devnet.supervisor, work_dir=self.devnet.work_dir, preference=old.kind, port=old.port
            )

    # ---- chains: levers ----------------------------------------------------------------------------------------

    def eth_rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def phala_build_mode(self, mode: str) -> None:
        """Chopsticks' block production: "Instant" (the devnet's: a block per extrinsic) or "Manual"."""
        self.substrate.rpc("dev_setBlockBuildMode", [mode])

    def phala_new_block(self, transactions: list[str] | None = None) -> None:
        """Build one block now: from the pool, or from exactly `transactions` (the pool is left as it is)."""
        self.substrate.rpc("dev_newBlock", [{"transactions": transactions} if transactions is not None else {}])

    def phala_pool(self) -> list[str]:
        return list(self.substrate.rpc("author_pendingExtrinsics", []))

    # ---- chains: deposits -------------------------------------------------------------------------------------

    def deposit_to_phala(self, user: int, amount_pha: int, recipient: bytes | None = None) -> Transfer:
        """A PHA deposit on Ethereum (from anvil account `user`) to a fresh Phala account; `amount_pha` in 1/10 PHA."""
        recipient = recipient or Keypair.create_from_seed(os.urandom(32).hex()).public_key
        dep = self.eth[user].deposit_pha(PHALA_DOMAIN, recipient, amount_pha * UNIT_ETH // 10, self.rid)
        return Transfer(dep.message_id, ETH_DOMAIN, dep.nonce, recipient, amount_pha * UNIT_PHA // 10)

    def raw_deposit_to_phala(self, user: int, amount_pha: int, recipient: bytes) -> bytes:
        """The signed transaction of such a deposit (not sent): for a test that decides which block holds it."""
        acct = Account.from_key(self.users[user].private_key)
        fn = self.bridge.functions.deposit(PHALA_DOMAIN, self.rid, recipient, amount_pha * UNIT_ETH // 10)
        tx = fn.build_transaction(
            {"from": acct.address, "nonce": self.w3.eth.get_transaction_count(acct.address, "pending"), "gas": 300_000}
        )
        return bytes(acct.sign_transaction(tx).raw_transaction)

    def phala_depositor(self) -> Keypair:
        kp = Keypair.create_from_seed(os.urandom(32).hex())
        set_free_balance(self.substrate, kp.public_key, 10_000 * UNIT_PHA)
        return kp

    def _phala_deposit_call(self, recipient: bytes, amount: int) -> Any:
        intent = encode_intent(Intent(IntentKind.TRANSFER, ETH_DOMAIN, self.rid, recipient))
        c = self.substrate
        transfer = c.compose_call(
            "Balances", "transfer_keep_alive", {"dest": "0x" + self.bridge_account.hex(), "value": amount}
        )
        remark = c.compose_call("System", "remark_with_event", {"remark": "0x" + intent.hex()})
        return c.compose_call("Utility", "batch_all", {"calls": [transfer, remark]})

    def deposit_to_ethereum(self, depositor: Keypair, amount_pha: int) -> tuple[str, bytes, int]:
        """A PHA deposit on Phala to a fresh Ethereum address. Returns (extrinsic hash, recipient, amount in 18
        decimals); the message id and nonce come from a relayer once it has observed it (`resolve`)."""
        recipient = os.urandom(20)
        dep = self.phala.deposit(depositor, ETH_DOMAIN, recipient, amount_pha * UNIT_PHA // 10)
        return dep.extrinsic_hash, recipient, amount_pha * UNIT_ETH // 10

    def signed_deposit_to_ethereum(self, depositor: Keypair, amount_pha: int) -> tuple[str, str, bytes, int]:
        """The same deposit as a signed extrinsic (not submitted): (hex, hash, recipient, amount in 18 decimals)."""
        from relayers.substrate.scale import blake2_256

        recipient = os.urandom(20)
        call = self._phala_deposit_call(recipient, amount_pha * UNIT_PHA // 10)
        ext = self.substrate.interface.create_signed_extrinsic(call=call, keypair=depositor)
        raw = bytes(ext.data.data)
        return "0x" + raw.hex(), "0x" + blake2_256(raw).hex(), recipient, amount_pha * UNIT_ETH // 10

    def resolve(self, tx_hash: str, recipient: bytes, amount: int, members: tuple[int, ...] = ALL_MEMBERS) -> Transfer:
        """A Phala deposit's message, as the relayers numbered it (GET /source-tx/<hash>)."""
        rec = wait_for(f"a relayer to observe Phala deposit {tx_hash}", lambda: self.by_source_tx(tx_hash, members))
        return Transfer(str(rec["id"]), PHALA_DOMAIN, int(rec["nonce"]), recipient, amount)

    # ---- chains: the judges -----------------------------------------------------------------------------------

    def send_raw(self, raw: bytes) -> str:
        return "0x" + bytes(self.w3.eth.send_raw_transaction(raw)).hex()

    def receipt(self, tx_hash: str) -> Any:
        return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))

    def eth_pool_from(self, sender: str) -> list[str]:
        """Hashes of the transactions `sender` has waiting in anvil's pool."""
        pending: dict[str, dict[str, Any]] = self.eth_rpc("txpool_content")["pending"]
        by_sender: dict[str, Any] = next((txs for addr, txs in pending.items() if addr.lower() == sender.lower()), {})
        return [str(tx["hash"]) for tx in by_sender.values()]

    def in_eth_pool(self, tx_hash: str) -> bool:
        tx = self.eth_rpc("eth_getTransactionByHash", tx_hash)
        return tx is not None and tx.get("blockNumber") is None

    def eth_block(self) -> int:
        return int(self.w3.eth.block_number)

    def phala_block(self) -> int:
        return self.phala.finalized_block()

    def balance(self, t: Transfer) -> int:
        if t.source_domain == ETH_DOMAIN:
            return self.substrate.free_balance(t.recipient)
        return int(self.token.functions.balanceOf(Web3.to_checksum_address(t.recipient)).call())

    def delivered(self, t: Transfer) -> bool:
        if t.source_domain == PHALA_DOMAIN and not self.bridge.functions.isNonceUsed(PHALA_DOMAIN, t.nonce).call():
            return False
        return self.balance(t) >= t.amount

    def ethereum_executions(self, from_block: int) -> Counter[tuple[int, int]]:
        """(source domain, nonce) -> how many successful executeBatch transactions carried it since `from_block`."""
        times: Counter[tuple[int, int]] = Counter()
        bridge = self.bridge.address.lower()
        for number in range(from_block, self.eth_block() + 1):
            for tx in self.w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if isinstance(tx, bytes) or str(tx.get("to") or "").lower() != bridge:
                    continue
                parsed = parse_execute_batch_calldata(bytes(tx["input"]))
                if parsed is None or self.w3.eth.get_transaction_receipt(tx["hash"])["status"] != 1:
                    continue
                batch = decode_batch(parsed[0])
                times.update((batch.source_domain, int(item.nonce)) for item in batch.items)
        return times

    def phala_executions(self, from_block: int) -> Counter[str]:
        """message id -> how many successful bridge extrinsics recorded it since `from_block`."""
        index = _CountingIndex(
            PhalaConfig(
                url=self.net.phala.ws_url,
                bridge_account=self.bridge_account,
                resource_id=self.rid,
                start_block=from_block,
                index_start_block=from_block,
            )
        )
        reader = ChainReader(self.substrate)
        head = reader.finalized_head()
        while not index.sync(reader, head):
            pass
        return index.times

    def assert_exactly_once(self, transfers: list[Transfer], eth_from: int, phala_from: int) -> None:
        """Every transfer arrived exactly once: the recipient (fresh) holds exactly its amount, the destination
        records its id or nonce as executed, and exactly one successful destination transaction carried it."""
        eth_runs = self.ethereum_executions(eth_from)
        phala_runs = self.phala_executions(phala_from)
        for t in transfers:
            assert self.balance(t) == t.amount, f"{t.message_id}: recipient holds {self.balance(t)}, not {t.amount}"
            if t.source_domain == ETH_DOMAIN:
                assert phala_runs[t.message_id] == 1, f"{t.message_id} executed {phala_runs[t.message_id]} times"
            else:
                assert self.bridge.functions.isNonceUsed(PHALA_DOMAIN, t.nonce).call()
                assert eth_runs[(PHALA_DOMAIN, t.nonce)] == 1, f"nonce {t.nonce}: {eth_runs[(PHALA_DOMAIN, t.nonce)]}"
                assert t.message_id == "0x" + message_id(PHALA_DOMAIN, t.nonce).hex()

    def wait_delivered(self, transfers: list[Transfer], timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for t in transfers:

            def arrived(t: Transfer = t) -> bool:
                return self.delivered(t)

            wait_for(f"{t.message_id} delivered", arrived, max(1.0, deadline - time.monotonic()))

    def settled_on(self, ids: list[str], members: tuple[int, ...]) -> bool:
        """Every listed member's store holds every id as executed (each reconciled with the destination). Only a
        leader reconciles: the others keep a message `verified` until they lead and find it on the destination."""
        return all(list(self.store_states(i, ids).values()) == ["executed"] * len(ids) for i in members)


@pytest.fixture(scope="module")
def fault_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultBridge]:
    """A bridge devnet of this module's own (faults must not leak into other tests): anvil (1 s blocks, relayers
    wait 2 confirmations), Chopsticks, Mosquitto, 5 enclaves (3-of-5) and 5 relayers."""
    yield from running_fault_bridge(Devnet(DevnetSection(), work_dir=tmp_path_factory.mktemp("faults"), committee=True))


# The line of the relayer pipeline's submit loop that skips what is already queued: the misbehaving relayer builds
# (a censoring or a stalled leader) add their condition to it. If it changes shape, the copy fails loudly rather than
# run honest code.
RELAYER_QUEUED_CHECK = "                    if rec.id_hex in queued:\n"


def patched_relayer_build(root: Path, condition: str) -> None:
    """Copy `relayers/` under `root` with the submit loop also skipping every message for which `condition` (a Python
    expression over `rec` and `dest`) holds: a relayer that never proposes those, for `relayer_builds`."""
    import relayers

    shutil.copytree(Path(relayers.__file__).parent, root / "relayers", ignore=shutil.ignore_patterns("__pycache__"))
    # The copy finds the contracts' ABIs beside it, as the checkout's `relayers` does (relayers/ethereum/contracts.py).
    (root / "contracts").symlink_to(Path(relayers.__file__).resolve().parents[1] / "contracts")
    pipeline = root / "relayers" / "daemon" / "pipeline.py"
    text = pipeline.read_text()
    queued = RELAYER_QUEUED_CHECK
    assert text.count(queued) == 1, f"the pipeline's queued check changed shape: {queued!r} not found once"
    pipeline.write_text(text.replace(queued, queued.replace(":\n", f" or ({condition}):\n")))


def running_fault_bridge(devnet: Devnet) -> Iterator[FaultBridge]:
    """Start `devnet`, yield a FaultBridge over it, and stop both, whatever happened (for a module's own devnet)."""
    devnet.start()
    bridge: FaultBridge | None = None
    try:
        bridge = FaultBridge(devnet)
        yield bridge
    finally:
        if bridge is not None:
            bridge.stop_bridge_processes()
            bridge.close()
        devnet.stop()


@pytest.fixture
def bridge(fault_bridge: FaultBridge) -> FaultBridge:
    """The module's bridge, made whole again before each test (a failed test must not fail the next ones)."""
    fault_bridge.heal()
    return fault_bridge
