"""Read what a command is given from disk and validate it: config files (the file I/O the pure `bridge.config`
leaves to its callers), the network file the devnet writes, and key files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from bridge.cli.errors import UsageError
from bridge.config import ConfigError, parse_config
from bridge.config.errors import ConfigProblem
from bridge.errors import validation_problems
from bridge.network import NetworkInfo

if TYPE_CHECKING:
    from substrateinterface import Keypair

M = TypeVar("M", bound=BaseModel)

DEFAULT_NETWORK = Path(".devnet/network.json")
NetworkOpt = typer.Option(DEFAULT_NETWORK, "--network", help="the bridge's network file (the devnet writes one)")


def load_config(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigProblem("", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [ConfigProblem("", "is a directory, not a file")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [ConfigProblem("", "not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, model, source=str(path))


def load_network(path: Path) -> NetworkInfo:
    try:
        return NetworkInfo.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no network file (start the devnet with `phala-bridge devnet up`)") from None
    except ValidationError as exc:
        # Where and what, never the value (a network file is not secret, but the rule holds for every input).
        raise UsageError(f"{path}: not a valid network file: {validation_problems(exc)}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a valid network file ({exc.__class__.__name__})") from None


MAX_KEY_FILE = 64 * 1024  # bytes: a key or a secret URI is far smaller; a larger file is the wrong file
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_DEV_INDEX = re.compile(r"[0-9]{1,3}")  # ASCII digits only (str.isdigit() takes '³' too)


def read_key_file(key_file: Path | None) -> str | None:
    """A secret from a file (a hex private key or a secret URI), without a UTF-8 BOM and the whitespace around it.
    Every refusal names the file, never its content: not even one byte of it (a UnicodeDecodeError's text quotes the
    byte it stopped at, so it is never shown)."""
    if key_file is None:
        return None
    try:
        with key_file.open("rb") as f:
            raw = f.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise UsageError(f"key file {key_file}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    if len(raw) > MAX_KEY_FILE:
        raise UsageError(f"key file {key_file}: too large for a key file (over {MAX_KEY_FILE} bytes)")
    try:
        secret = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise UsageError(f"key file {key_file}: not UTF-8 text") from None
    if not secret:
        raise UsageError(f"key file {key_file} is empty")
    return secret


def key_source(key_file: Path | None, dev_account: str | None, missing: str) -> tuple[str, str]:
    """The secret from exactly one of `--key-file` and `--dev-account`, and what to call it in an error (the file's
    name, or the option: never the secret). `missing` is the refusal when neither is given."""
    if key_file is not None and dev_account is not None:
        raise UsageError("give either --key-file or --dev-account, not both")
    if key_file is not None:
        secret = read_key_file(key_file)
        assert secret is not None
        return secret, f"key file {key_file}"
    if dev_account is None or not dev_account.strip():
        raise UsageError(missing)
    return dev_account.strip(), "--dev-account"


def dev_account_index(text: str) -> int:
    """`--dev-account N` for an Ethereum account: one of the anvil accounts the devnet funds (ASCII digits)."""
    from bridge.devnet.accounts import ANVIL_FUNDED_ACCOUNTS

    digits = text.strip()
    if not _DEV_INDEX.fullmatch(digits) or int(digits) >= ANVIL_FUNDED_ACCOUNTS:
        # Not echoed: a secret URI given here by mistake is still a secret.
        raise UsageError(f"--dev-account: expected an anvil account index, 0..{ANVIL_FUNDED_ACCOUNTS - 1}")
    return int(digits)


def ethereum_key(key_file: Path | None, dev_account: str | None, missing: str) -> str:
    """An Ethereum private key (0x-hex): a checked `--key-file`, or the anvil account `--dev-account N`. Only the
    option takes an index: a key file holds a key."""
    if dev_account is not None and key_file is None:
        from bridge.devnet.accounts import ethereum_dev_account

        return ethereum_dev_account(dev_account_index(dev_account)).private_key
    secret, where = key_source(key_file, dev_account, missing)
    return check_ethereum_key(secret, where)


def check_ethereum_key(secret: str, where: str) -> str:
    """`secret` as a 0x-hex secp256k1 private key; refused naming `where`, never the secret (eth_account's own errors
    quote it: 'Non-hexadecimal digit found', its length)."""
    if _HEX_KEY.fullmatch(secret):
        from eth_account import Account

        try:
            Account.from_key(secret)  # refuses zero and keys not below the curve order
            return "0x" + secret.removeprefix("0x")
        except Exception:  # whatever it says about the key, the key is not shown
            raise UsageError(_bad_ethereum_key(where)) from None
    raise UsageError(_bad_ethereum_key(where))


def _bad_ethereum_key(where: str) -> str:
    return f"{where}: not a valid Ethereum private key (expected 0x + 64 hex digits)"


def substrate_keypair(secret: str, where: str) -> Keypair:
    """An sr25519 keypair from a secret URI (`//Alice`, a mnemonic); refused naming `where`, never the URI."""
    from substrateinterface import Keypair, KeypairType

    try:
        return Keypair.create_from_uri(secret, crypto_type=KeypairType.SR25519)
    except NotImplementedError:  # substrateinterface: "Passwords in suri not supported"
        raise UsageError(f"{where}: a secret URI with a password (///...) is not supported") from None
    except Exception:  # its text may quote the URI
        raise UsageError(f"{where}: not a valid secret URI") from None
