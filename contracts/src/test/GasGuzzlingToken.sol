// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Test only: a token whose transfer and mint burn every unit of gas they are given (a runaway hook, or an
/// INVALID opcode), so tests can check that one such release cannot take a batch's gas with it.
contract GasGuzzlingToken {
    function transfer(address, uint256) external view returns (bool ok) {
        _burn();
        ok = true;
    }

    function mint(address, uint256) external view {
        _burn();
    }

    function _burn() private view {
        assembly {
            for {} gt(gas(), 0) {} {} // until out of gas
        }
    }
}
