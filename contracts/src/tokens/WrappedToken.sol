// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "./ERC20.sol";

/// @title A wrapped asset: the bridge mints it on release and burns it on deposit; the owner may pause it
/// @notice Only the bridge (fixed at construction) can mint and burn. While paused, every transfer, mint and
/// burn reverts with `TokenPaused`, so a bridge release of it fails and is queued for a later claim.
contract WrappedToken is ERC20 {
    error NotBridge(address caller);
    error NotOwner(address caller);
    error TokenPaused();

    event PausedSet(bool paused);
    event OwnerChanged(address owner);

    /// @notice The only address allowed to mint and burn.
    address public immutable bridge;
    /// @notice May pause and unpause the token.
    address public owner;
    /// @notice When true, transfers, mints and burns revert.
    bool public paused;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, address bridge_, address owner_)
        ERC20(name_, symbol_, decimals_)
    {
        bridge = bridge_;
        owner = owner_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        _;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Mint `value` to `to` (bridge only).
    function mint(address to, uint256 value) external onlyBridge returns (bool) {
        _mint(to, value);
        return true;
    }

    /// @notice Burn `value` from `from` (bridge only; the bridge burns only from its own caller).
    function burnFrom(address from, uint256 value) external onlyBridge returns (bool) {
        _burn(from, value);
        return true;
    }

    /// @notice Pause or unpause the token (owner only).
    function setPaused(bool paused_) external onlyOwner {
        paused = paused_;
        emit PausedSet(paused_);
    }

    /// @notice Hand the owner role to `owner_` (owner only).
    function setOwner(address owner_) external onlyOwner {
        owner = owner_;
        emit OwnerChanged(owner_);
    }

    function _beforeTransfer() internal view override {
        if (paused) revert TokenPaused();
    }
}
