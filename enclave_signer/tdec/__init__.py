"""Threshold ECIES over edwards25519: encrypt to the committee's Ed25519 group key, decrypt with t members' shares
(each with a DLEQ proof), identify members whose shares are wrong."""

from enclave_signer.tdec.dleq import DleqProof, dleq_prove, dleq_verify
from enclave_signer.tdec.ecies import Ciphertext, decrypt_with_shared_point, derive_key, encrypt
from enclave_signer.tdec.threshold import (
    DecryptionShare,
    combine_shares,
    decryption_share,
    threshold_decrypt,
    verify_decryption_share,
)

__all__ = [
    "Ciphertext",
    "DecryptionShare",
    "DleqProof",
    "combine_shares",
    "decrypt_with_shared_point",
    "decryption_share",
    "derive_key",
    "dleq_prove",
    "dleq_verify",
    "encrypt",
    "threshold_decrypt",
    "verify_decryption_share",
]
