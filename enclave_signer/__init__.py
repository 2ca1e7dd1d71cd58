"""Everything that holds key material: FROST, DKG, resharing, threshold decryption, sealing, attestation,
the committee protocol and the enclave process. Key material never leaves this package's process."""
