"""Committee sessions: DKG, resharing, signing, threshold decryption (leader/coordinator and member sides)."""
