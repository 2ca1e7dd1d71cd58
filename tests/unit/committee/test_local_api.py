"""The enclave's local API on a real Unix socket (in-process committee behind it) and the relayer's client."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from bridge.enclave_api import MAX_LINE_BYTES
from bridge.ports import SigningRefused, SigningUnavailable
from enclave_signer.attestation import SimulatedQuoteVerifier
from enclave_signer.attestation.quote import Quote
from enclave_signer.frost import ED25519, SECP256K1, verify
from enclave_signer.measurement import current_measurement
from enclave_signer.process.server import ApiServer, SocketInUseError
from relayers.enclave_client import EnclaveApiError, EnclaveBatchSigner, EnclaveClient, EnclaveUnreachableError
from tests.unit.committee.helpers import RefusingVerifier, batch, cluster, run, with_dkg

IDS = (1, 2, 3, 4, 5)


async def _raw(path: Path, *lines: bytes) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE_BYTES * 2)
    out = []
    try:
        for line in lines:
            writer.write(line)
            await writer.drain()
            got = await reader.readline()
            out.append(json.loads(got) if got else {})
    finally:
        writer.close()
    return out


def test_the_local_api_serves_status_attest_sign_and_survives_bad_requests(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "enclave-1.sock"

    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c)
            server = ApiServer(c.node(1), sock)
            await server.start()
            try:
                assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
                with pytest.raises(SocketInUseError):
                    await ApiServer(c.node(2), sock).start()
                async with EnclaveClient(sock) as client:
                    status = await client.status()
                    assert status.member_id == 1 and status.has_keys and status.members == IDS
                    assert status.group_keys == c.node(1).keys.record.group_keys  # type: ignore[union-attr]
                    nonce = bytes(range(32))
                    quote = Quote.model_validate((await client.attest(nonce)).quote.model_dump(exclude={"digest"}))
                    verifier = SimulatedQuoteVerifier(
                        trusted_roots={"node-1": c.platforms[1].root_public_key},
                        allowed_measurements=[current_measurement()],
                    )
                    assert (
                        verifier.verify(quote, expected_nonce=nonce).identity_public_key == status.identity_public_key
                    )

                    signer = EnclaveBatchSigner(client, {1: "secp256k1", 2: "ed25519"})
                    record = c.node(1).keys.record  # type: ignore[union-attr]
                    for dest, suite, key in ((1, SECP256K1, "secp256k1"), (2, ED25519, "ed25519")):
                        request, msgs = batch(dest=dest)
                        signature = await signer.sign(request.to_port(), msgs)
                        assert verify(suite, record.group_keys.get(key), request.payload, signature)  # type: ignore[arg-type]

                    # Refused and unavailable map onto the relayer's port errors.
                    for m in (2, 3, 4):
                        c.node(m).verifier = RefusingVerifier()
                    request, msgs = batch(start=50)
                    with pytest.raises(SigningRefused, match="absent"):
                        await signer.sign(request.to_port(), msgs)
                    for m in (2, 3, 4):
                        c.node(m).verifier = c.node(1).verifier
                    for m in (3, 4, 5):
                        await c.stop(m)
                    slow = EnclaveBatchSigner(client, {2: "ed25519"}, timeout_s=0.5)
                    with pytest.raises(SigningUnavailable, match="answered"):
                        await slow.sign(request.to_port(), msgs)

                    metrics = await client.metrics()
                    assert "phala_bridge_committee_refusals_total" in metrics

                # Bad requests get clear errors and the server keeps serving (same connection, then a new one).
                answers = await _raw(
                    sock,
                    b"this is not json\n",
                    b'{"id": 7, "method": "launch_missiles"}\n',
                    b'{"id": 8, "method": "attest", "params": {"nonce": "abcd"}}\n',
                    b'{"id": 9, "method": "status"}\n',
                )
                assert [a["ok"] for a in answers] == [False, False, False, True]
                assert answers[0]["error"]["code"] == "bad_request" and answers[0]["id"] is None  # type: ignore[index]
                assert answers[1]["id"] == 7 and answers[2]["id"] == 8
                assert "params.nonce" in answers[2]["error"]["message"]  # type: ignore[index]
                assert "abcd" not in answers[2]["error"]["message"]  # type: ignore[index]
                (too_long,) = await _raw(
                    sock, b'{"id": 1, "method": "status", "pad": "' + b"x" * MAX_LINE_BYTES + b'"}\n'
                )
                assert too_long["error"]["code"] == "too_large"  # type: ignore[index]
                (again,) = await _raw(sock, b'{"id": 2, "method": "status"}\n')
                assert again["ok"] is True

                # No answer ever carried a key share.
                secrets = [f"{c.node(1).keys.share(n).secret:x}" for n in ("secp256k1", "ed25519", "encryption")]  # type: ignore[union-attr, arg-type]
                assert not any(s in json.dumps(answers) for s in secrets)
            finally:
                await server.close()
            assert not sock.exists()

    run(scenario)


def test_an_absent_enclave_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with EnclaveClient(tmp_path / "nobody.sock", connect_timeout=0.5) as client:
            with pytest.raises(EnclaveUnreachableError, match="cannot reach the enclave"):
                await client.status()
            request, msgs = batch()
            with pytest.raises(SigningUnavailable):
                await EnclaveBatchSigner(client, {2: "ed25519"}).sign(request.to_port(), msgs)
            with pytest.raises(SigningRefused, match="no committee key"):
                await EnclaveBatchSigner(client, {}).sign(request.to_port(), msgs)

    run(scenario)


def test_api_errors_name_their_code() -> None:
    err = EnclaveApiError("refused", "2 of 5 refused", {"3": "absent: gone"})
    assert err.code == "refused" and "member 3: absent: gone" in str(err)
