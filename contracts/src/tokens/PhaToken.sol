// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "./ERC20.sol";

/// @title PHA on the devnet: a fixed-supply ERC-20 with 18 decimals, standing in for the real PHA token
/// @notice The bridge locks and releases it (it never mints it), as it would the real PHA.
contract PhaToken is ERC20 {
    /// @param holder receives the whole supply  @param supply total supply in base units (18 decimals)
    constructor(address holder, uint256 supply) ERC20("Phala Token (devnet)", "PHA", 18) {
        _mint(holder, supply);
    }
}
