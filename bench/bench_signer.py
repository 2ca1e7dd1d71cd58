"""Signer benchmark: FROST 3-of-5 per step and per signature for both suites, threshold decryption, DKG; each beside
a single-key signature from the same library in the same run (pynacl Ed25519, coincurve BIP-340 Schnorr).

Run: `python -m bench.bench_signer` (or `python -m bench signer`). In process, no network; times are medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

import coincurve
import nacl.signing

from bench.results import record
from enclave_signer.dkg import run_dkg
from enclave_signer.frost import (
    ED25519,
    SECP256K1,
    Ciphersuite,
    aggregate,
    commit,
    sign,
    sign_with_shares,
    trusted_dealer_keygen,
    verify,
    verify_signature_share,
)
from enclave_signer.tdec import decryption_share, encrypt, threshold_decrypt, verify_decryption_share

N, T = 5, 3
MSG = b"\x11" * 32  # a 32-byte batch digest, what the committee signs


def _ms(fn: Callable[[], object], repeat: int = 7, number: int = 20) -> float:
    """Median over `repeat` runs of the mean time of `number` calls, in milliseconds."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples) * 1e3


def _baseline(key: str) -> tuple[float, float]:
    """(sign ms, verify ms) of one single-key signature with the same library."""
    if key == "ed25519":
        sk = nacl.signing.SigningKey.generate()
        vk, sig = sk.verify_key, sk.sign(MSG).signature
        return _ms(lambda: sk.sign(MSG), number=200), _ms(lambda: vk.verify(MSG, sig), number=200)
    priv = coincurve.PrivateKey()
    xonly = coincurve.PublicKeyXOnly.from_secret(priv.secret)
    ssig = priv.sign_schnorr(MSG)
    return _ms(lambda: priv.sign_schnorr(MSG), number=200), _ms(lambda: xonly.verify(ssig, MSG), number=200)


def bench_suite(key: str, suite: Ciphersuite) -> None:
    pk, shares = trusted_dealer_keygen(suite, N, T)
    signers = shares[:T]
    verifying = {s.identifier: s.public for s in shares}
    base_sign, base_verify = _baseline(key)
    lib = "pynacl Ed25519" if key == "ed25519" else "coincurve BIP-340 schnorr"
    prefix = f"signer.frost_{key}"

    commit_ms = _ms(lambda: commit(suite, signers[0]))
    rounds = [commit(suite, s) for s in signers]
    comms = [c for _, c in rounds]

    def one_share() -> int:
        nonces, _ = commit(suite, signers[0])  # nonces are single use: commit again, subtract its cost below
        fresh = [nonces.commitment, *comms[1:]]
        return sign(suite, signers[0], nonces, MSG, fresh)

    share_ms = _ms(one_share) - commit_ms
    z = {s.identifier: sign(suite, s, n, MSG, comms) for s, (n, _) in zip(signers, rounds, strict=True)}
    vshare_ms = _ms(lambda: verify_signature_share(suite, 1, verifying[1], z[1], comms, pk, MSG))
    agg_ms = _ms(lambda: aggregate(suite, comms, MSG, pk, z))
    sig = aggregate(suite, comms, MSG, pk, z)
    verify_ms = _ms(lambda: verify(suite, pk, MSG, sig))
    total_ms = _ms(lambda: sign_with_shares(suite, signers, MSG), number=10)

    record(f"{prefix}.round1_commit_ms", commit_ms, "ms", note="one member's commit (2 nonces, 2 base mults)")
    record(f"{prefix}.round2_share_ms", share_ms, "ms", note="one member's signature share, incl. input validation")
    record(f"{prefix}.verify_share_ms", vshare_ms, "ms", note="coordinator's check of one share")
    record(f"{prefix}.aggregate_ms", agg_ms, "ms", note="aggregate 3 shares (no share checks)")
    record(
        f"{prefix}.verify_ms", verify_ms, "ms", note=f"group signature; single-key {lib} verify {base_verify:.3f} ms"
    )
    record(f"{prefix}.verify_vs_single_key_x", verify_ms / base_verify, "x", note=f"vs {lib} verify, same run")
    record(
        f"{prefix}.sign_3of5_ms",
        total_ms,
        "ms",
        note="both rounds for 3 members + aggregate + final verify, in one process",
    )
    record(f"{prefix}.signatures_per_s", 1e3 / total_ms, "sig/s", note="one core, 3-of-5, in process")
    record(f"{prefix}.single_key_sign_ms", base_sign, "ms", note=f"{lib}, same run")
    record(f"{prefix}.sign_vs_single_key_x", total_ms / base_sign, "x", note=f"3-of-5 FROST vs one {lib} signature")


def bench_tdec() -> None:
    outs = run_dkg(ED25519, N, T, session_id=b"bench")
    pk, verifying = outs[0].group_public_key, outs[0].verifying_shares
    shares = [o.key_share for o in outs[:T]]
    payload = b"\x42" * 256
    ct = encrypt(pk, payload, aad=b"contract")
    ds = [decryption_share(s, ct) for s in shares]
    enc_ms = _ms(lambda: encrypt(pk, payload, aad=b"contract"))
    share_ms = _ms(lambda: decryption_share(shares[0], ct))
    vshare_ms = _ms(lambda: verify_decryption_share(verifying[1], ct, ds[0]))
    dec_ms = _ms(lambda: threshold_decrypt(pk, ct, ds, verifying, T, aad=b"contract"))
    sk = nacl.signing.SigningKey.generate()
    base = _ms(lambda: sk.sign(payload), number=200)
    record("signer.tdec.encrypt_ms", enc_ms, "ms", note="ECIES to the group key, 256-byte payload")
    record("signer.tdec.share_with_proof_ms", share_ms, "ms", note="D_i = s_i*U plus DLEQ proof")
    record("signer.tdec.verify_share_ms", vshare_ms, "ms", note="DLEQ check of one decryption share")
    record("signer.tdec.combine_decrypt_ms", dec_ms, "ms", note="verify 3 shares + Lagrange combine + AEAD")
    record("signer.tdec.combine_vs_ed25519_sign_x", dec_ms / base, "x", note="vs one pynacl Ed25519 signature")


def bench_dkg() -> None:
    for key, suite in (("ed25519", ED25519), ("secp256k1", SECP256K1)):
        ms = _ms(partial(run_dkg, suite, N, T), repeat=3, number=2)
        record(f"signer.dkg_{key}.3of5_in_process_ms", ms, "ms", note="all 5 members, 3 rounds, one process")


def main() -> None:
    bench_suite("secp256k1", SECP256K1)
    bench_suite("ed25519", ED25519)
    bench_tdec()
    bench_dkg()


if __name__ == "__main__":
    main()
