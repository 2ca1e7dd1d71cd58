// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {FrostSecp256k1} from "../lib/FrostSecp256k1.sol";

/// @title Exposes the FROST verifier library for tests (RFC 9591 vectors, challenge cross-checks)
contract FrostVerifierHarness {
    /// @notice H2(R || PK || message) for a message of any length.
    function challenge(uint256 rx, uint256 ry, uint256 pkX, uint256 pkParity, bytes calldata message)
        external
        view
        returns (uint256)
    {
        return FrostSecp256k1.challengeBytes(rx, ry, pkX, pkParity, message);
    }

    /// @notice H2(R || PK || message) for a 32-byte message (the bridge's path).
    function challenge32(uint256 rx, uint256 ry, uint256 pkX, uint256 pkParity, bytes32 message)
        external
        view
        returns (uint256)
    {
        return FrostSecp256k1.challenge(rx, ry, pkX, pkParity, message);
    }

    /// @notice Verify a signature on a message of any length.
    function verify(bytes calldata message, uint256 pkX, uint256 pkParity, uint256 rx, uint256 ry, uint256 z)
        external
        view
        returns (bool)
    {
        return FrostSecp256k1.verifyBytes(message, pkX, pkParity, rx, ry, z);
    }

    /// @notice Verify a signature on a 32-byte message (the bridge's path).
    function verify32(bytes32 message, uint256 pkX, uint256 pkParity, uint256 rx, uint256 ry, uint256 z)
        external
        view
        returns (bool)
    {
        return FrostSecp256k1.verify(message, pkX, pkParity, rx, ry, z);
    }

    /// @notice Whether (x, y) is accepted as a group key.
    function isUsableKey(uint256 x, uint256 y) external pure returns (bool) {
        return FrostSecp256k1.isUsableKey(x, y);
    }
}
