"""phala-bridge protocol core: message models, ids, amounts, registry, policy and XCM builders.

Modules directly in this package (and its pure subpackages) do no I/O and import nothing else of ours; the
`bridge.cli` and `bridge.devnet` subpackages are the application edge that wires everything together.
"""
