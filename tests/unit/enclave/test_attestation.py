"""Quotes and their verification: every rejection is typed and says why; the roster admits only verified keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave_signer.attestation import (
    AdmissionError,
    BadQuoteSignatureError,
    MalformedQuoteError,
    MeasurementNotAllowedError,
    NonceMismatchError,
    Quote,
    QuoteRejectedError,
    QuoteVerifier,
    Roster,
    SimulatedPlatform,
    SimulatedQuoteVerifier,
    StaleQuoteError,
    UnknownPlatformRootError,
    new_nonce,
)
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import Measurement, current_measurement, measure_tree
from tests.unit.enclave.helpers import FakeClock

OTHER_BUILD = Measurement(b"\xbb" * 32)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def platform(clock: FakeClock) -> SimulatedPlatform:
    return SimulatedPlatform.generate("node-1", clock=clock)


@pytest.fixture
def verifier(platform: SimulatedPlatform, clock: FakeClock) -> SimulatedQuoteVerifier:
    return SimulatedQuoteVerifier(
        trusted_roots={platform.platform_id: platform.root_public_key},
        allowed_measurements=[current_measurement()],
        max_age_ms=60_000,
        clock=clock,
    )


def _quote(platform: SimulatedPlatform, nonce: bytes, **kw: object) -> Quote:
    return platform.quote(identity_public_key=IdentityKey.generate().public_key, nonce=nonce, **kw)  # type: ignore[arg-type]


def test_good_quote(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    nonce = new_nonce()
    quote = _quote(platform, nonce)
    verified = verifier.verify(quote, expected_nonce=nonce)
    assert verified.measurement == current_measurement()
    assert verified.identity_public_key == quote.identity_public_key
    assert verified.platform_id == "node-1"
    assert verified.quote_digest == quote.digest() and len(quote.digest()) == 32
    assert isinstance(verifier, QuoteVerifier)


def test_unknown_root(verifier: SimulatedQuoteVerifier, clock: FakeClock) -> None:
    nonce = new_nonce()
    stranger = SimulatedPlatform.generate("node-9", clock=clock)
    with pytest.raises(UnknownPlatformRootError, match="node-9"):
        verifier.verify(_quote(stranger, nonce), expected_nonce=nonce)


def test_impostor_platform_with_a_trusted_id(verifier: SimulatedQuoteVerifier, clock: FakeClock) -> None:
    nonce = new_nonce()
    impostor = SimulatedPlatform.generate("node-1", clock=clock)  # same id, another root key
    with pytest.raises(BadQuoteSignatureError):
        verifier.verify(_quote(impostor, nonce), expected_nonce=nonce)


def test_measurement_not_allowed(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    nonce = new_nonce()
    with pytest.raises(MeasurementNotAllowedError, match=OTHER_BUILD.short()):
        verifier.verify(_quote(platform, nonce, measurement=OTHER_BUILD), expected_nonce=nonce)


def test_stale_and_future_quotes(
    platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier, clock: FakeClock
) -> None:
    nonce = new_nonce()
    quote = _quote(platform, nonce)
    clock.advance(60_001)
    with pytest.raises(StaleQuoteError, match="old"):
        verifier.verify(quote, expected_nonce=nonce)
    clock.advance(-60_001 - 30_001)
    with pytest.raises(StaleQuoteError, match="future"):
        verifier.verify(quote, expected_nonce=nonce)


def test_nonce_mismatch(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    quote = _quote(platform, new_nonce())
    with pytest.raises(NonceMismatchError):
        verifier.verify(quote, expected_nonce=new_nonce())


FIELDS = ["measurement", "identity_public_key", "nonce", "timestamp_ms", "platform_id", "signature"]


@pytest.mark.parametrize("field", FIELDS)
def test_tampered_fields(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier, field: str) -> None:
    nonce = new_nonce()
    quote = _quote(platform, nonce)
    value = getattr(quote, field)
    if isinstance(value, bytes):
        value = bytes([value[0] ^ 1]) + value[1:]
    elif isinstance(value, int):
        value += 1
    else:
        value = "node-2"
    tampered = quote.model_copy(update={field: value})
    with pytest.raises(QuoteRejectedError) as info:
        verifier.verify(tampered, expected_nonce=nonce)
    assert info.value.reason in {"bad_signature", "unknown_root"}


def test_json_round_trip_and_malformed_json(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    nonce = new_nonce()
    quote = _quote(platform, nonce)
    again = Quote.from_json(quote.to_json())
    assert again == quote and again.digest() == quote.digest()
    verifier.verify(again, expected_nonce=nonce)
    with pytest.raises(MalformedQuoteError, match="measurement"):
        Quote.from_json(quote.to_json().replace(quote.measurement.hex(), "abcd"))
    with pytest.raises(MalformedQuoteError):
        Quote.from_json("{not json")


def test_unsupported_format(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    nonce = new_nonce()
    quote = _quote(platform, nonce).model_copy(update={"format": "sgx-dcap-v4"})
    with pytest.raises(MalformedQuoteError, match="unsupported quote format"):
        verifier.verify(quote, expected_nonce=nonce)


def test_roster_admits_only_verified_quotes(platform: SimulatedPlatform, verifier: SimulatedQuoteVerifier) -> None:
    roster = Roster("devnet", 1)
    nonce = new_nonce()
    key = IdentityKey.generate()
    quote = platform.quote(identity_public_key=key.public_key, nonce=nonce)
    with pytest.raises(NonceMismatchError):
        roster.admit(1, quote, verifier, expected_nonce=new_nonce())
    assert 1 not in roster
    member = roster.admit(1, quote, verifier, expected_nonce=nonce)
    assert member.identity_public_key == key.public_key and member.x25519_public_key == key.x25519_public_key
    assert member.quote_digest == quote.digest()
    nonce2 = new_nonce()
    other = platform.quote(identity_public_key=IdentityKey.generate().public_key, nonce=nonce2)
    with pytest.raises(AdmissionError, match="another identity key"):
        roster.admit(1, other, verifier, expected_nonce=nonce2)
    nonce3 = new_nonce()
    same_key = platform.quote(identity_public_key=key.public_key, nonce=nonce3)
    with pytest.raises(AdmissionError, match="belongs to member 1"):
        roster.admit(2, same_key, verifier, expected_nonce=nonce3)
    with pytest.raises(AdmissionError):
        roster.admit(0, same_key, verifier, expected_nonce=nonce3)
    assert roster.member_ids == (1,)


def test_platform_refuses_invalid_identity_key(platform: SimulatedPlatform) -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        platform.quote(identity_public_key=b"\x00" * 32, nonce=new_nonce())


def test_measurement_covers_every_py_file(tmp_path: Path) -> None:
    pkg = tmp_path / "enclave_signer"
    (pkg / "contracts").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "contracts" / "vault.py").write_text("SECRET_LOGIC = 1\n")
    first = measure_tree(pkg)
    (pkg / "contracts" / "vault.py").write_text("SECRET_LOGIC = 2\n")
    assert measure_tree(pkg) != first
    (pkg / "contracts" / "vault.py").write_text("SECRET_LOGIC = 1\n")
    assert measure_tree(pkg) == first
    (pkg / "notes.txt").write_text("not code")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "x.py").write_text("cache")
    assert measure_tree(pkg) == first
    # A file moved to another path is another tree.
    (pkg / "contracts" / "vault.py").rename(pkg / "vault.py")
    assert measure_tree(pkg) != first


def test_current_measurement_is_cached_and_public() -> None:
    assert current_measurement() is current_measurement()
    m = current_measurement()
    assert Measurement.from_hex(m.hex()) == m and m.hex() in repr(m)
    with pytest.raises(ValueError):
        Measurement(b"short")
