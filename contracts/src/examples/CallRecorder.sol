// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title An example target of the bridge's generic calls: it records every call it receives
contract CallRecorder {
    event Recorded(address indexed caller, uint256 indexed count, bytes32 tag, bytes data);

    /// @notice Number of calls recorded.
    uint256 public count;
    /// @notice The last tag recorded by `record`.
    bytes32 public lastTag;
    /// @notice The last caller.
    address public lastCaller;

    /// @notice Record a call with a tag and opaque data; returns the new count.
    function record(bytes32 tag, bytes calldata data) external returns (uint256) {
        uint256 n = ++count;
        lastTag = tag;
        lastCaller = msg.sender;
        emit Recorded(msg.sender, n, tag, data);
        return n;
    }

    /// @notice Burn gas in a loop until at most `leave` gas is left, then record (a target that needs much gas).
    function spin(uint256 leave) external returns (uint256) {
        while (gasleft() > leave) {}
        return ++count;
    }

    /// @notice Any other call (with or without data) is recorded too.
    fallback(bytes calldata data) external returns (bytes memory) {
        uint256 n = ++count;
        lastCaller = msg.sender;
        emit Recorded(msg.sender, n, bytes32(0), data);
        return abi.encode(n);
    }
}
