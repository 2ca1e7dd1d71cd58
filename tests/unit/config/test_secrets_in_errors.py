"""An endpoint's credentials (a password in its user info, an API key in its path or query) never reach an error
message or a log: a URL is named by its scheme, host and port. The broker URL takes neither TLS nor a login, which
the enclave transport could not use: refused at load, not at start (or silently dropped)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import typer
from pydantic import ValidationError
from structlog.testing import capture_logs
from typer.testing import CliRunner

from bridge.cli.errors import UsageError, handle_errors
from bridge.cli.loading import load_network
from bridge.cli.main import app
from bridge.config import ConfigError, NodeConfig, parse_config
from bridge.config.redact import redact_url, redact_urls
from bridge.errors import validation_problems
from bridge.network import EthereumSide
from relayers.ethereum import EthereumConfig
from relayers.substrate import session as session_module
from relayers.substrate.errors import SubstrateConnectionError
from tests.unit.cli.test_network_gateway import _network

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "config" / "node.example.toml").read_text()
STORE = 'url = "postgresql://phala_bridge@127.0.0.1:5432/phala_bridge"'
BROKER = 'url = "mqtt://127.0.0.1:1883"'
RPC = 'rpc_url = "https://ethereum-rpc.example.org"'
WS = 'ws_url = "wss://phala-rpc.example.org"'
SECRETS = ("S3cretPassw0rd", "INFURA_SECRET_KEY", "MqttSecret", "MqttPassw0rd", "ONFINALITY_SECRET", "apikey=")


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


def _refused(old: str, new: str) -> str:
    assert old in EXAMPLE
    with pytest.raises(ConfigError) as info:
        parse_config(EXAMPLE.replace(old, new), NodeConfig, source="node.toml")
    text = str(info.value)
    _clean(text)
    return text


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            STORE,
            'url = "postgresql://phala_bridge:S3cretPassw0rd@127.0.0.1:54x32/phala_bridge"',
            "[store.url]: bad URL 'postgresql://***@127.0.0.1:54x32/phala_bridge': invalid host or port",
        ),
        (
            RPC,
            'rpc_url = "htps://mainnet.infura.io/v3/INFURA_SECRET_KEY_123"',
            "[chains.ethereum.rpc_url]: bad URL 'htps://mainnet.infura.io/...': scheme must be one of http, https",
        ),
        (
            RPC,
            'rpc_url = "mainnet.infura.io/v3/INFURA_SECRET_KEY_123"',
            "bad URL 'mainnet.infura.io/...': scheme must be one of",
        ),
        (BROKER, 'url = "mqtt://user:MqttSecret@:1883"', "[broker.url]: bad URL 'mqtt://***@:1883': no host"),
        (WS, 'ws_url = "wss://phala.api.onfinality.io:99999/apikey/ONFINALITY_SECRET"', "'wss://phala.api.onfin"),
        (WS, 'ws_url = "ftp://x/ws?apikey=ONFINALITY_SECRET"', "bad URL 'ftp://x/...'"),
        # a URL put under a key of another type: the wrong-type message shows the value, redacted
        ("chain_id = 1\n", 'chain_id = "https://mainnet.infura.io/v3/INFURA_SECRET_KEY"\n', "wrong type"),
    ],
    ids=["store-password", "rpc-path-key", "rpc-no-scheme", "broker-password", "ws-bad-port", "ws-query", "type"],
)
def test_a_bad_url_is_named_without_its_credentials(old: str, new: str, says: str) -> None:
    assert says in _refused(old, new)


def test_config_check_prints_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        EXAMPLE.replace(STORE, 'url = "postgresql://u:S3cretPassw0rd@127.0.0.1:54x32/db"')
        .replace(RPC, 'rpc_url = "htps://mainnet.infura.io/v3/INFURA_SECRET_KEY_123"')
        .replace(BROKER, 'url = "mqtt://user:MqttSecret@:1883"')
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2 and "3 problems" in result.output, result.output
    _clean(result.output)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mqtts://bridge:MqttPassw0rd@broker.example.org:8883", "mqtts:// (TLS) is not supported"),
        ("mqtts://broker.example.org:8883", "mqtts:// (TLS) is not supported"),
        ("mqtt://bridge:MqttPassw0rd@broker.example.org:1883", "does not log in to the broker"),
        ("mqtt://bridge@broker.example.org:1883", "does not log in to the broker"),
        ("mqtt://broker.example.org:1883/topic", "without a path or query"),
    ],
)
def test_the_broker_url_takes_no_tls_and_no_login(url: str, says: str) -> None:
    # The enclave transport (MqttTransportConfig) has neither: it refused mqtts only at start, and dropped a login.
    text = _refused(BROKER, f'url = "{url}"')
    assert text.startswith("node.toml [broker.url]: bad URL") and says in text, text


def test_enclave_info_with_a_tls_broker_is_refused_at_load_without_the_password(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(EXAMPLE.replace(BROKER, 'url = "mqtts://bridge:MqttPassw0rd@broker.example.org:8883"'))
    result = CliRunner().invoke(app, ["enclave", "info", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "[broker.url]" in result.output and "Traceback" not in result.output
    _clean(result.output)


def test_the_enclave_setup_never_prints_the_broker_url(tmp_path: Path) -> None:
    from enclave_signer.process.setup import EnclaveStartError, parts_of

    seed = tmp_path / "seed"
    seed.write_text("ab" * 32)
    seed.chmod(0o600)
    text = EXAMPLE.replace("/etc/phala-bridge/platform-1.seed", str(seed))
    cfg = parse_config(text, NodeConfig, source="node.toml")
    # past the schema (a config built in code): the enclave's own check names the scheme only
    bad = cfg.model_copy(update={"broker": cfg.broker.model_copy(update={"url": "mqtts://b:MqttPassw0rd@h:8883"})})
    with pytest.raises(EnclaveStartError) as info:
        parts_of(bad)
    assert "mqtts://" in str(info.value)
    _clean(str(info.value))


def test_the_network_file_is_refused_without_the_value(tmp_path: Path) -> None:
    # validation_problems promises "never the value": the URL validators' messages hold only the redacted URL
    data = _network()
    data["ethereum"]["rpc_url"] = "htps://mainnet.infura.io/v3/INFURA_SECRET_KEY_123"  # type: ignore[index]
    data["phala"]["ws_url"] = "ws://u:S3cretPassw0rd@:9944/apikey/ONFINALITY_SECRET"  # type: ignore[index]
    path = tmp_path / "network.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError) as info:
        load_network(path)
    assert "ethereum.rpc_url" in str(info.value) and "phala.ws_url" in str(info.value)
    _clean(str(info.value))
    with pytest.raises(ValidationError) as raw:
        EthereumSide.model_validate({**data["ethereum"]})  # type: ignore[dict-item]
    _clean(validation_problems(raw.value))


def test_the_ethereum_adapter_names_a_bad_endpoint_redacted() -> None:
    with pytest.raises(ValueError, match="http:// or https://") as info:
        EthereumConfig(
            rpc_url="wss://mainnet.infura.io/ws/v3/INFURA_SECRET_KEY", chain_id=1, bridge_address="0x" + "11" * 20
        )
    _clean(str(info.value))


# ---- failures under a command: the last resort of handle_errors -------------------------------------------------


def _run(exc_of: Any, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[Any]]:
    @handle_errors
    def command() -> None:
        exc_of()

    with capture_logs() as logs, pytest.raises(typer.Exit) as done:
        command()
    assert done.value.exit_code == 1
    return capsys.readouterr().err, logs


def test_a_connection_failure_names_the_endpoint_without_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    def connect() -> None:  # a real refused connection: requests quotes the URL's path in its message
        requests.get("http://127.0.0.1:9/v3/INFURA_SECRET_KEY?apikey=x", timeout=5)

    err, logs = _run(connect, capsys)
    assert err.startswith("error: ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9)"), err
    assert "with url: /..." in err
    _clean(err)
    (event,) = logs
    assert event["event"] == "cli_failed" and "Traceback" in event["exception"]
    _clean(json.dumps(event, default=str))


def test_a_substrate_failure_names_the_endpoint_without_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise SubstrateConnectionError("connect: ws://127.0.0.1:9/apikey/ONFINALITY_SECRET: [Errno 111] refused")

    err, logs = _run(fail, capsys)
    assert err == "error: SubstrateConnectionError: connect: ws://127.0.0.1:9/...: [Errno 111] refused\n"
    _clean(json.dumps(logs, default=str))


def test_a_command_reading_the_configs_phala_node_does_not_print_its_key(tmp_path: Path) -> None:
    node = tmp_path / "node.toml"
    node.write_text(EXAMPLE.replace(WS, 'ws_url = "ws://127.0.0.1:9/apikey/ONFINALITY_SECRET"'))
    result = CliRunner().invoke(app, ["committee", "records", "--config", str(node)])
    assert result.exit_code == 1 and "127.0.0.1:9" in result.output, result.output
    _clean(result.output)


# ---- the relayer's log ----------------------------------------------------------------------------------------------


def test_the_relayer_logs_the_phala_endpoint_redacted() -> None:
    from bridge.cli import relayer_cmd
    from relayers.substrate.errors import SubstrateError

    url = "wss://bridge:S3cretPassw0rd@phala.api.onfinality.io/apikey/ONFINALITY_SECRET"

    async def run(_fn: object) -> None:
        raise SubstrateError(f"connect: {url}: refused")

    dest = SimpleNamespace(session=SimpleNamespace(url=url, run=run))
    with capture_logs() as logs:
        asyncio.run(relayer_cmd._check_phala_endpoint(dest))  # type: ignore[arg-type]
    (event,) = logs
    assert event["url"] == "wss://***@phala.api.onfinality.io/..."
    _clean(json.dumps(event))


def test_a_dropped_substrate_connection_is_logged_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "wss://phala.api.onfinality.io/apikey/ONFINALITY_SECRET"

    class Client:
        def __init__(self, url: str, *, timeout: float) -> None:
            self.url = url

        def close(self) -> None:
            pass

    monkeypatch.setattr(session_module, "SubstrateClient", Client)
    monkeypatch.setattr(session_module, "ChainReader", lambda client: SimpleNamespace(client=client))
    session = session_module.ClientSession(url)

    def read(_reader: object) -> None:
        raise SubstrateConnectionError(f"head: {url}: connection reset")

    with capture_logs() as logs, pytest.raises(SubstrateConnectionError):
        session.run_sync(read)
    (event,) = logs
    assert event["event"] == "substrate_connection_dropped" and event["url"] == "wss://phala.api.onfinality.io/..."
    _clean(json.dumps(event))


def test_a_para_id_mismatch_names_the_endpoint_redacted() -> None:
    from relayers.substrate.errors import ParaIdMismatch

    reader = SimpleNamespace(para_id=lambda: 1000)
    with pytest.raises(ParaIdMismatch) as info:
        session_module.check_para_id(reader, 2035, "wss://x.example.org/apikey/ONFINALITY_SECRET")  # type: ignore[arg-type]
    assert "wss://x.example.org/..." in str(info.value)
    _clean(str(info.value))


# ---- the helpers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mainnet.infura.io/v3/KEY", "https://mainnet.infura.io/..."),
        ("wss://h:443?apikey=KEY#x", "wss://h:443/..."),
        ("mqtt://u:p@h:1883", "mqtt://***@h:1883"),
        ("mqtt://u:pa/ss@h:1883", "mqtt://***@h:1883"),  # an unescaped "/" in the password: still masked
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://127.0.0.1:8545/", "http://127.0.0.1:8545/"),
        ("foo", "foo"),
        ("host/v3/KEY", "host/..."),
        ("", ""),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_keeps_a_store_path_but_not_its_password_or_query() -> None:
    assert (
        redact_url("postgresql://u:pw@db:5432/bridge?password=x", keep_path=True)
        == "postgresql://***@db:5432/bridge?..."
    )
    assert redact_url("sqlite:////var/lib/pb/node-1.db", keep_path=True) == "sqlite:////var/lib/pb/node-1.db"


def test_redact_urls_in_text() -> None:
    text = "GET https://h/v3/KEY, then 'wss://u:p@h2:1/x': Max retries exceeded with url: /v3/KEY (Caused by X)"
    assert (
        redact_urls(text)
        == "GET https://h/..., then 'wss://***@h2:1/...': Max retries exceeded with url: /... (Caused by X)"
    )
