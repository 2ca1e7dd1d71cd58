// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title An example target that always reverts with a custom error (the bridge records the revert data)
contract RevertingTarget {
    error AlwaysReverts(address caller, bytes data);

    fallback(bytes calldata data) external returns (bytes memory) {
        revert AlwaysReverts(msg.sender, data);
    }
}
