"""The Ethereum adapter: contract bindings and typed errors (contracts, errors), deployment (deploy)."""
