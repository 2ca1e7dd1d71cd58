// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMessageOrigin} from "../IBridge.sol";

/// @title Test only: a call target that reports what `Bridge.messageOrigin()` says at each step
/// @notice `Seen(step, has, ...)`: has = false when messageOrigin reverted (no origin). Steps: 0 `probe`, 1 before
/// and 2 after the inner call of `reenter`. `probeThenRevert` and `probeThenBurn` read the origin and then fail
/// (revert, out of gas), so tests can check that the origin is put back after a failing target.
contract OriginProbe {
    error Refused();

    event Seen(uint8 indexed step, bool has, uint32 sourceDomain, bytes32 sender, uint64 nonce);

    address public immutable bridge;

    constructor(address bridge_) {
        bridge = bridge_;
    }

    /// @notice Emit what messageOrigin says now.
    function probe() public {
        _see(0);
    }

    /// @notice Read the origin, then revert.
    function probeThenRevert() external {
        _see(0);
        revert Refused();
    }

    /// @notice Read the origin, then burn all gas.
    function probeThenBurn() external {
        _see(0);
        while (true) {}
    }

    /// @notice Emit the origin, call the bridge with `data` (e.g. another executeBatch), emit the origin again.
    function reenter(bytes calldata data) external returns (bool ok) {
        _see(1);
        (ok,) = bridge.call(data);
        _see(2);
    }

    function _see(uint8 step) private {
        try IMessageOrigin(bridge).messageOrigin() returns (uint32 domain, bytes32 sender, uint64 nonce) {
            emit Seen(step, true, domain, sender, nonce);
        } catch {
            emit Seen(step, false, 0, 0, 0);
        }
    }
}
