"""Hostile or broken input to the user commands: key files and secret URIs (refused naming the file, never one byte of
the secret), `--dev-account`, amounts past a decimal context's precision, a relayer's replies to `status`, a network
file's encryption key and `demo --amount`. One line, exit 2 for bad input (1 for a bad relayer), never a traceback.

Every chain endpoint here is 127.0.0.1:9 (nothing listens): a refusal must come before any chain is needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp
from typer.testing import CliRunner

from bridge.cli.loading import read_key_file
from bridge.cli.main import app
from bridge.cli.transfer_cmd import live_message
from bridge.network import NetworkInfo
from tests.unit.cli.test_cli_errors import ALICE, GOOD_ID, _one_error_line
from tests.unit.core.test_committee_record import RECORD

ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
VALID_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil's public test key 1
ENCRYPTION_KEY = "0x" + crypto_scalarmult_ed25519_base_noclamp((7).to_bytes(32, "little")).hex()


def _network(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "network.json"
    path.write_text(
        json.dumps(
            {
                "name": "t",
                "ethereum": {"rpc_url": "http://127.0.0.1:9", "chain_id": 1, "bridge": ETH, "pha_token": ETH},
                "phala": {"ws_url": "ws://127.0.0.1:9", "para_id": 2035, "bridge_account": "0x" + "bb" * 32},
                "pha_resource_id": "0x" + "07" * 32,
                **extra,
            }
        )
    )
    return path


def _eth_transfer(*key: str, network: Path) -> list[str]:
    return ["transfer", "--from", "ethereum", "--to", "phala", "--amount", "1", "--recipient", ALICE, *key,
            "--network", str(network)]  # fmt: skip


def _phala_transfer(*key: str, network: Path) -> list[str]:
    return ["transfer", "--from", "phala", "--to", "ethereum", "--amount", "1", "--recipient", ETH, *key,
            "--network", str(network)]  # fmt: skip


def _no_secret(line: str, *parts: str) -> None:
    for part in parts:
        assert part not in line, line


# -- key files --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says", "secret"),
    [
        (b"0x\x94\x95secret", "not UTF-8 text", ["0x94", "\\x94", "secret", "byte"]),
        (b"//Alice", "not a valid Ethereum private key", ["Alice"]),
        (b"0xabcdefSECRET", "not a valid Ethereum private key", ["abcdef", "SECRET", "Non-hexadecimal"]),
        (b"0x" + b"ab" * 33, "not a valid Ethereum private key", ["abab", "33 bytes"]),
        (b"0x" + b"00" * 32, "not a valid Ethereum private key", ["0000"]),
        (b"3\n", "not a valid Ethereum private key", []),  # digits: a key file holds a key, not a dev account
        (b"", "is empty", []),
        (b" \n\t\n", "is empty", []),
        (b"\xef\xbb\xbf", "is empty", []),  # a BOM alone
    ],
    ids=["not-utf8", "a-uri", "not-hex", "33-bytes", "zero", "digits", "empty", "blank", "bom-only"],
)
def test_a_bad_ethereum_key_file(content: bytes, says: str, secret: list[str], tmp_path: Path) -> None:
    key = tmp_path / "sender.key"
    key.write_bytes(content)
    network = _network(tmp_path)
    for args in (
        _eth_transfer("--key-file", str(key), network=network),
        ["call", "auction-close", "--auction", "5", "--key-file", str(key), "--network", str(network)],
    ):
        line = _one_error_line(args, f"key file {key}", says)
        _no_secret(line, *secret)


def test_a_key_file_with_a_bom_is_read_without_it(tmp_path: Path) -> None:
    key = tmp_path / "sender.key"
    key.write_bytes(b"\xef\xbb\xbf" + VALID_KEY.encode() + b"\r\n")
    assert read_key_file(key) == VALID_KEY
    # The key is good: the command goes on to the network file (absent here).
    _one_error_line(_eth_transfer("--key-file", str(key), network=tmp_path / "none.json"), "no network file")


@pytest.mark.parametrize("where", ["key-file", "dev-account"])
@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("//Alice///hunter2secret", "a secret URI with a password (///...) is not supported"),
        ("hunter2secret c0ffee words", "not a valid secret URI"),
        ("2", "not a valid secret URI"),
    ],
    ids=["password", "not-a-uri", "an-index"],
)
def test_a_bad_secret_uri_on_phala(where: str, uri: str, says: str, tmp_path: Path) -> None:
    network = _network(tmp_path)
    key = tmp_path / "operator.suri"
    key.write_text(uri)
    args = ["--key-file", str(key)] if where == "key-file" else ["--dev-account", uri]
    named = f"key file {key}" if where == "key-file" else "--dev-account"
    record = tmp_path / "dkg.json"
    record.write_text(json.dumps(RECORD))
    for command in (
        _phala_transfer(*args, network=network),
        ["committee", "publish", "--record", str(record), *args, "--network", str(network)],
    ):
        line = _one_error_line(command, named, says)
        _no_secret(line, "hunter2", "c0ffee", "Alice")


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "is empty"), (b"\xff//Alice", "not UTF-8 text")],
    ids=["empty", "not-utf8"],
)
def test_publish_names_a_bad_key_file(content: bytes, says: str, tmp_path: Path) -> None:
    record = tmp_path / "dkg.json"
    record.write_text(json.dumps(RECORD))
    key = tmp_path / "operator.suri"
    key.write_bytes(content)
    line = _one_error_line(["committee", "publish", "--record", str(record), "--key-file", str(key)], f"{key}", says)
    assert "give the operator's key" not in line and "Alice" not in line


# -- --dev-account ----------------------------------------------------------------------------------------------------


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The HD derivations made (each is a PBKDF2 over the mnemonic): more than one is refused at once, so a command
    that would derive a hundred million accounts fails here instead of hanging."""
    from eth_account import Account

    made: list[str] = []
    real = Account.from_mnemonic

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(str(kwargs.get("account_path")))
        if len(made) > 1:
            raise AssertionError(f"derived {len(made)} accounts for one --dev-account")
        return real(*args, **kwargs)

    monkeypatch.setattr(Account, "from_mnemonic", counted)
    return made


@pytest.mark.parametrize("index", ["100000000", "10", "-1", "³", "٣", "0x3", "3.0", "//Alice", ""])
def test_a_dev_account_index_is_ascii_digits_in_range(index: str, derivations: list[str], tmp_path: Path) -> None:
    network = _network(tmp_path)
    for args in (
        _eth_transfer("--dev-account", index, network=network),
        ["call", "auction-close", "--auction", "5", "--dev-account", index, "--network", str(network)],
    ):
        line = _one_error_line(args)
        assert line == "error: --dev-account: expected an anvil account index, 0..9", line  # not what was given
    assert derivations == []


def test_one_dev_account_is_one_derivation(derivations: list[str]) -> None:
    from bridge.devnet.accounts import ethereum_dev_account

    account = ethereum_dev_account(9)
    assert account.address == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # anvil's account 9
    assert derivations == ["m/44'/60'/0'/0/9"]


def test_a_key_file_and_a_dev_account_are_not_both_given(tmp_path: Path) -> None:
    network = _network(tmp_path)
    empty = tmp_path / "empty.key"
    empty.write_text("")
    good = tmp_path / "good.key"
    good.write_text(VALID_KEY)
    for key in (empty, good):
        _one_error_line(_eth_transfer("--key-file", str(key), "--dev-account", "2", network=network), "not both")
        _one_error_line(_phala_transfer("--key-file", str(key), "--dev-account", "//Bob", network=network), "not both")


# -- amounts ----------------------------------------------------------------------------------------------------------


def test_an_amount_past_28_digits_is_not_rounded_into_a_deposit(tmp_path: Path) -> None:
    # 35 significant digits: rounded to 28 it would be a multiple of 10**6 and go on to the (absent) network file.
    args = ["transfer", "--from", "ethereum", "--to", "phala", "--amount", "12345678901234567.123456789012345678",
            "--recipient", ALICE, "--dev-account", "2", "--network", str(tmp_path / "none.json")]  # fmt: skip
    _one_error_line(args, "does not convert exactly to 12 decimals", "12345678901234567123456789012345678")


# -- a relayer's replies to `status` ----------------------------------------------------------------------------------


def _record(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": GOOD_ID, "state": "submitted", "reason": None, "source_domain": 1, "dest_domain": 2, "nonce": 7,
        "kind": "transfer", "confidential": False, "amount": "1000000000000", "sender": "0x" + "11" * 20,
        "recipient": "0x" + "22" * 32, "source_tx": "0x" + "01" * 32, "source_block": 11, "dest_tx": None,
    }  # fmt: skip
    rec.update(changes)
    return rec


class _Relayer:
    """A relayer's status server answering every path with one body."""

    def __init__(self) -> None:
        self.body = b"{}"
        relayer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(relayer.body)))
                self.end_headers()
                self.wfile.write(relayer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, value: object) -> None:
        self.body = value if isinstance(value, bytes) else json.dumps(value).encode()


@pytest.fixture
def relayer() -> Iterator[_Relayer]:
    r = _Relayer()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        thread.join(10)


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ({"id": "x"}, "id: String should match pattern '^0x[0-9a-fA-F]{64}$'; state: Field required"),
        (_record(dest_domain=99), "dest_domain: Input should be 1 or 2"),
        (_record(recipient="0xZZ"), "recipient: String should match pattern"),
        (_record(nonce=-1), "nonce: Input should be greater than or equal to 0"),
        (_record(state="lost"), "state: Input should be"),
        (_record(archived_at=1e300), "archived_at: Input should be less than"),
        (_record(id="0x" + "cd" * 32), "the record of another message"),
        (b"<html>not json", "Invalid JSON"),
        ([_record()], "a record of another source transaction"),  # /message: not a record; /source-tx: not this tx
    ],
    ids=[
        "no-dest",
        "unknown-domain",
        "bad-recipient",
        "negative-nonce",
        "unknown-state",
        "huge-time",
        "another-id",
        "not-json",
        "a-list",
    ],
)
def test_status_refuses_a_bad_reply_naming_the_relayer(
    relayer: _Relayer, reply: object, says: str, tmp_path: Path
) -> None:
    relayer.answer(reply)
    network = _network(tmp_path, relayer_status_urls=[relayer.url])
    line = _one_error_line(["status", GOOD_ID, "--network", str(network)], f"{relayer.url} sent a bad reply", code=1)
    assert line.startswith(f"error: no relayer could answer for {GOOD_ID}: ") and says in line, line


def test_status_prints_a_reason_as_text_not_markup_nor_terminal_codes(relayer: _Relayer, tmp_path: Path) -> None:
    reason = "[/oops] \x1b[31mred\x1b[0m \x1b]0;title\x07 [bold]loud[/bold] :smile: \u202eevil\r\nnext"
    relayer.answer(_record(state="failed", reason=reason))
    network = _network(tmp_path, relayer_status_urls=[relayer.url])
    result = CliRunner().invoke(app, ["status", GOOD_ID, "--network", str(network)])
    assert result.exit_code == 0, (result.output, result.exception)
    for raw in ("\x1b", "\x07", "\u202e", "\r"):
        assert raw not in result.output, repr(result.output)
    out = " ".join(result.output.split())  # rich wraps its lines at the terminal's width
    assert "state failed ([/oops] [31mred [0m ]0;title [bold]loud[/bold] :smile: evil next)" in out, out


def test_following_a_transfer_takes_only_a_valid_record(relayer: _Relayer, tmp_path: Path) -> None:
    network = NetworkInfo.model_validate_json(_network(tmp_path, relayer_status_urls=[relayer.url]).read_text())
    relayer.answer(_record(state="observed"))
    assert (live_message(network, GOOD_ID) or {}).get("state") == "observed"
    relayer.answer(_record(state="observed", source_domain="ethereum"))
    assert live_message(network, GOOD_ID) is None


# -- the network file's encryption key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["0x" + "11" * 32, "0x" + "00" * 32, "0x01" + "00" * 31, "0x" + "ff" * 32],
    ids=["off-curve", "zero", "identity", "non-canonical"],
)
def test_a_network_file_with_a_bad_encryption_key_is_refused_at_load(key: str, tmp_path: Path) -> None:
    network = _network(tmp_path, confidential={"encryption_key": key, "auction_settlement": ETH})
    _one_error_line(
        ["call", "auction-close", "--auction", "5", "--dev-account", "3", "--network", str(network)],
        f"{network}: not a valid network file: confidential.encryption_key",
        "not a valid edwards25519 point",
    )


def test_a_good_encryption_key_loads(tmp_path: Path) -> None:
    network = _network(tmp_path, confidential={"encryption_key": ENCRYPTION_KEY})
    info = NetworkInfo.model_validate_json(network.read_text())
    assert info.confidential is not None and info.confidential.encryption_key == ENCRYPTION_KEY


# -- demo --amount ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("abc", "--amount: not a number: 'abc'"),
        ("NaN", "--amount: not a finite number"),
        ("inf", "--amount: not a finite number"),
        ("0", "--amount: amount must be positive"),
        ("-5", "--amount: amount must be positive"),
        ("0.0000000000000000001", "more than 18 decimal places"),
        ("0.0000000000001", "does not convert exactly to 12 decimals"),
        ("0.000000000001", "is too small"),
        ("1e400000", "is too large"),
    ],
)
def test_demo_refuses_a_bad_amount_before_anything_starts(amount: str, says: str, tmp_path: Path) -> None:
    # The devnet config does not exist: the amount is refused before it is read (and long before the devnet starts).
    _one_error_line(["demo", "--amount", amount, "--config", str(tmp_path / "devnet.toml")], says)
