// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Burns a fixed amount of gas, so that two probe transactions with the same calldata both stay above the
/// EIP-7623 calldata floor and their gasUsed difference is exactly the work in between (benchmarks only)
abstract contract GasBurner {
    function _burnGas(uint256 iterations) internal pure {
        assembly {
            let x := 0
            for { let i := 0 } lt(i, iterations) { i := add(i, 1) } { x := add(x, i) }
            if eq(x, not(0)) { revert(0, 0) } // never true; keeps the optimizer from dropping the loop
        }
    }
}
