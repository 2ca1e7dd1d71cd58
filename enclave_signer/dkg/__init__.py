"""Distributed key generation (Pedersen DKG with proofs of knowledge) and resharing, as pure state machines."""

from enclave_signer.dkg.ceremony import exchange, run_dkg, run_reshare
from enclave_signer.dkg.complaints import Complaint, ComplaintKind
from enclave_signer.dkg.pedersen import DkgOutput, DkgParticipant, Round1Package, Round2Share
from enclave_signer.dkg.pok import prove_knowledge, verify_knowledge
from enclave_signer.dkg.resharing import ReshareDealing, ReshareRecipient, ReshareShare, deal_reshare

__all__ = [
    "Complaint",
    "ComplaintKind",
    "DkgOutput",
    "DkgParticipant",
    "ReshareDealing",
    "ReshareRecipient",
    "ReshareShare",
    "Round1Package",
    "Round2Share",
    "deal_reshare",
    "exchange",
    "prove_knowledge",
    "run_dkg",
    "run_reshare",
    "verify_knowledge",
]
