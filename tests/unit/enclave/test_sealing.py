"""Sealing: round trip, binding to platform and measurement, tampering, purpose labels, file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer.attestation import SimulatedPlatform
from enclave_signer.identity import IdentityKey
from enclave_signer.measurement import Measurement, current_measurement
from enclave_signer.sealing import (
    InsecurePermissionsError,
    MalformedSealError,
    Sealer,
    TamperedSealError,
    UnsealError,
    WrongMeasurementError,
    WrongPlatformError,
    WrongPurposeError,
    hkdf_sha256,
)

SECRET = b"\x07" * 32
OTHER_BUILD = Measurement(b"\xaa" * 32)


@given(st.binary(max_size=4096), st.sampled_from(["key-share/secp256k1", "identity-key", "x"]))
@settings(max_examples=50)
def test_round_trip(data: bytes, purpose: str) -> None:
    sealer = Sealer(SECRET)
    blob = sealer.seal(data, purpose=purpose)
    assert len(data) < 16 or data not in blob
    assert sealer.unseal(blob, purpose=purpose) == data


def test_sealing_is_randomised() -> None:
    sealer = Sealer(SECRET)
    assert sealer.seal(b"share", purpose="p") != sealer.seal(b"share", purpose="p")


def test_another_measurement_cannot_unseal() -> None:
    blob = Sealer(SECRET).seal(b"share", purpose="key-share")
    with pytest.raises(WrongMeasurementError, match="sealed by enclave build"):
        Sealer(SECRET, OTHER_BUILD).unseal(blob, purpose="key-share")


def test_another_platform_cannot_unseal() -> None:
    a, b = SimulatedPlatform.generate("a"), SimulatedPlatform.generate("b")
    blob = a.sealer().seal(b"share", purpose="key-share")
    with pytest.raises(WrongPlatformError):
        b.sealer().unseal(blob, purpose="key-share")
    assert a.sealer().unseal(blob, purpose="key-share") == b"share"


def test_platform_from_seed_is_stable_across_restarts() -> None:
    seed = b"s" * 32
    blob = SimulatedPlatform.from_seed("node-1", seed).sealer().seal(b"share", purpose="key-share")
    assert SimulatedPlatform.from_seed("node-1", seed).sealer().unseal(blob, purpose="key-share") == b"share"
    with pytest.raises(WrongPlatformError):
        SimulatedPlatform.from_seed("node-2", seed).sealer().unseal(blob, purpose="key-share")


def test_wrong_purpose_is_refused() -> None:
    sealer = Sealer(SECRET)
    blob = sealer.seal(b"k", purpose="identity-key")
    with pytest.raises(WrongPurposeError):
        sealer.unseal(blob, purpose="key-share")


def test_every_tampered_byte_is_detected() -> None:
    sealer = Sealer(SECRET)
    blob = sealer.seal(b"a key share", purpose="key-share")
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(UnsealError):
            sealer.unseal(bytes(bad), purpose="key-share")
    # Flips in nonce or ciphertext (past the header) are caught by the AEAD itself.
    bad = bytearray(blob)
    bad[-1] ^= 0x80
    with pytest.raises(TamperedSealError):
        sealer.unseal(bytes(bad), purpose="key-share")


@pytest.mark.parametrize("blob", [b"", b"PBSEAL", b"PBSEAL\x02\x00", b"garbage" * 20, b"PBSEAL\x01\x05abc"])
def test_malformed_blobs(blob: bytes) -> None:
    with pytest.raises(MalformedSealError):
        Sealer(SECRET).unseal(blob, purpose="abc")


def test_errors_and_reprs_carry_no_secret() -> None:
    sealer = Sealer(SECRET)
    assert SECRET.hex() not in repr(sealer)
    platform = SimulatedPlatform.generate("p")
    assert platform.platform_secret().hex() not in repr(platform)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(sealer)


def test_short_platform_secret_and_bad_purpose_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Sealer(b"short")
    with pytest.raises(ValueError, match="purpose"):
        Sealer(SECRET).seal(b"x", purpose="Has Spaces")


def test_file_round_trip_modes(tmp_path: Path) -> None:
    sealer = Sealer(SECRET)
    path = tmp_path / "sealed" / "share.bin"
    sealer.seal_to_file(path, b"share", purpose="key-share")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sealer.unseal_file(path, purpose="key-share") == b"share"
    sealer.seal_to_file(path, b"share v2", purpose="key-share")  # atomic replace
    assert sealer.unseal_file(path, purpose="key-share") == b"share v2"
    assert [p.name for p in path.parent.iterdir()] == ["share.bin"]  # no temp files left


def test_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    sealer = Sealer(SECRET)
    path = tmp_path / "sealed" / "share.bin"
    sealer.seal_to_file(path, b"share", purpose="key-share")
    os.chmod(path, 0o644)
    with pytest.raises(InsecurePermissionsError, match=r"mode 644.*chmod 600"):
        sealer.unseal_file(path, purpose="key-share")


def test_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    sealer = Sealer(SECRET)
    directory = tmp_path / "sealed"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    with pytest.raises(InsecurePermissionsError, match="chmod 700"):
        sealer.seal_to_file(directory / "x", b"share", purpose="key-share")
    os.chmod(directory, 0o700)
    sealer.seal_to_file(directory / "x", b"share", purpose="key-share")
    os.chmod(directory, 0o770)
    with pytest.raises(InsecurePermissionsError):
        sealer.unseal_file(directory / "x", purpose="key-share")


def test_symlink_is_refused(tmp_path: Path) -> None:
    sealer = Sealer(SECRET)
    directory = tmp_path / "sealed"
    sealer.seal_to_file(directory / "real", b"share", purpose="key-share")
    (directory / "link").symlink_to(directory / "real")
    with pytest.raises(InsecurePermissionsError, match="symlink"):
        sealer.unseal_file(directory / "link", purpose="key-share")


def test_identity_key_sealed_at_rest(tmp_path: Path) -> None:
    platform = SimulatedPlatform.generate("p")
    path = tmp_path / "enclave" / "identity.sealed"
    first = IdentityKey.load_or_generate(platform.sealer(), path)
    again = IdentityKey.load_or_generate(platform.sealer(), path)
    assert again.public_key == first.public_key
    assert again.sign(b"m") == first.sign(b"m")  # Ed25519 is deterministic: same private key
    with pytest.raises(WrongMeasurementError):
        IdentityKey.load(platform.sealer(OTHER_BUILD), path)
    blob = first.seal(platform.sealer())
    assert IdentityKey.unseal(platform.sealer(), blob).public_key == first.public_key


def test_hkdf_rfc5869_case_1() -> None:
    salt, info = bytes.fromhex("000102030405060708090a0b0c"), bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = hkdf_sha256(bytes.fromhex("0b" * 22), salt=salt, info=info, length=42)
    assert okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"


def test_default_measurement_is_this_build() -> None:
    assert Sealer(SECRET).measurement == current_measurement()
