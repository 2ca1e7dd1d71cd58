"""The enclave process (`phala-bridge enclave run --config node.toml`): the committee member on MQTT and its narrow
local API on a Unix socket. Key material never leaves this process."""

from enclave_signer.process.main import ConfidentialSetup, EnclaveStartError, run_enclave
from enclave_signer.process.server import ApiServer

__all__ = ["ApiServer", "ConfidentialSetup", "EnclaveStartError", "run_enclave"]
