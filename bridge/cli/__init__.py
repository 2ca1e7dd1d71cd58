"""The `phala-bridge` command line: the application edge that wires the core, the relayers and the enclaves."""
