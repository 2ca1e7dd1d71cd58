"""Turn a validated `NodeConfig` into the enclave's parts: platform, keystore, verifiers, transport, node."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bridge.config.schema import CommitteeSection, NodeConfig
from enclave_signer.attestation.platform import SimulatedPlatform
from enclave_signer.attestation.verifier import SimulatedQuoteVerifier
from enclave_signer.committee.mqtt_transport import MqttTransportConfig
from enclave_signer.committee.node import CommitteeConfig
from enclave_signer.committee.sessions.common import SessionSettings
from enclave_signer.committee.verification import (
    AllowAllDecryptions,
    BatchVerifier,
    DecryptionVerifier,
    DenyAllDecryptions,
    PolicyVerifier,
    StaticChainVerifier,
)
from enclave_signer.measurement import Measurement

__all__ = ["EnclaveStartError", "Parts", "committee_config", "parts_of"]


class EnclaveStartError(RuntimeError):
    """A configuration or environment problem found at start-up (one clear sentence, never key material)."""


@dataclass(frozen=True)
class Parts:
    committee: CommitteeSection
    platform: SimulatedPlatform
    quote_verifier: SimulatedQuoteVerifier
    verifier: BatchVerifier
    decryption_verifier: DecryptionVerifier
    transport_config: MqttTransportConfig


def _hex32(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def read_seed(path: Path) -> bytes:
    """The simulated platform's seed: hex in a file only its owner can read (it stands in for hardware secrets)."""
    try:
        st = os.stat(path)
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EnclaveStartError(f"cannot read the platform seed file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:  # raw seed bytes, say: the decoder's message would quote one of them
        raise EnclaveStartError(
            f"platform seed file {path}: not valid UTF-8 text (it holds the seed as hex digits)"
        ) from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise EnclaveStartError(f"platform seed file {path} is readable by others; run `chmod 600 {path}`")
    try:
        seed = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise EnclaveStartError(f"platform seed file {path} does not hold hex") from None
    if len(seed) < 32:
        raise EnclaveStartError(f"platform seed in {path} is shorter than 32 bytes")
    return seed


def committee_config(cfg: NodeConfig, c: CommitteeSection) -> CommitteeConfig:
    sessions = SessionSettings(
        session_timeout=c.session_timeout_ms / 1000,
        retransmit_interval=c.retransmit_ms / 1000,
        round_timeout=c.round_timeout_ms / 1000,
    )
    return CommitteeConfig(
        committee_id=c.id,
        member_id=cfg.node.member_index,
        members=tuple(c.members),
        threshold=c.threshold,
        epoch=c.epoch,
        heartbeat_interval=c.heartbeat_interval_ms / 1000,
        heartbeat_timeout=c.heartbeat_timeout_ms / 1000,
        relayer_timeout=c.relayer_timeout_ms / 1000,
        distrust_strikes=c.distrust_strikes,
        distrust_ttl=c.distrust_ttl_ms / 1000,
        omission_grace=c.omission_grace_ms / 1000,
        stall_grace=c.stall_grace_ms / 1000,
        omission_check_interval=c.omission_check_interval_ms / 1000,
        sessions=sessions,
    )


def parts_of(cfg: NodeConfig) -> Parts:
    c = cfg.committee
    if c is None:
        raise EnclaveStartError("the config has no [committee] section (members, threshold, attestation trust)")
    me = cfg.node.member_index
    platform = SimulatedPlatform.from_seed(c.platform_id or f"node-{me}", read_seed(Path(c.platform_seed_file)))
    quote_verifier = SimulatedQuoteVerifier(
        trusted_roots={pid: _hex32(root) for pid, root in c.trusted_roots.items()},
        allowed_measurements=[Measurement(_hex32(m)) for m in c.allowed_measurements],
    )
    verifier: BatchVerifier = PolicyVerifier()
    if c.verifier == "static":
        assert c.static_chain_file is not None  # the schema insists
        verifier = StaticChainVerifier(Path(c.static_chain_file))
    url = urlsplit(cfg.broker.url)
    if url.scheme != "mqtt" or "@" in url.netloc:  # the schema refuses both; never the URL itself (credentials)
        login = " with a login" if "@" in url.netloc else ""
        raise EnclaveStartError(
            f"[broker] url: the enclave transport takes mqtt://HOST[:PORT] (no TLS, no login), got {url.scheme}://{login}"
        )
    transport = MqttTransportConfig(
        host=url.hostname or "127.0.0.1",
        port=url.port or 1883,
        committee_id=c.id,
        client_id=f"{cfg.broker.topic_prefix.replace('/', '-')}-{c.id}-enclave-{me}",
        topic_prefix=cfg.broker.topic_prefix,
        presence_id=str(me),
        wait_for_peers=tuple(str(m) for m in c.members if m != me),
        peer_wait=2.0,
        backoff_initial=0.05,
        backoff_max=1.0,
        operation_timeout=3.0,
        close_timeout=1.0,
    )
    decryption: DecryptionVerifier = AllowAllDecryptions() if c.allow_decryption else DenyAllDecryptions()
    return Parts(c, platform, quote_verifier, verifier, decryption, transport)
