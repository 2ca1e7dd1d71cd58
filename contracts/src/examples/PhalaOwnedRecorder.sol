// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMessageOrigin} from "../IBridge.sol";

/// @title An example target that only ONE Phala account (or one confidential contract) may call through the bridge
/// @notice The pattern for any target: (1) the caller must be the bridge, (2) the bridge's `messageOrigin()` must
/// name the expected source domain and sender. The sender is 32 bytes: a Phala AccountId32 (the public key behind an
/// SS58 address) for a call intent, or a confidential contract's id for its reply. Allow-list it on the bridge.
contract PhalaOwnedRecorder {
    /// @notice The caller is not the bridge.
    error NotBridge(address caller);
    /// @notice The bridge call came from another account (or domain) than the owner.
    error NotOwnerOrigin(uint32 sourceDomain, bytes32 sender);
    /// @notice A constructor argument is zero.
    error ZeroAddress();

    /// @notice The owner's call arrived: its nonce on the source domain and the tag it carried.
    event OwnerCalled(uint64 indexed nonce, bytes32 tag);

    /// @notice The bridge whose call items deliver the calls.
    address public immutable bridge;
    /// @notice The domain the owner lives on (Phala = 2).
    uint32 public immutable ownerDomain;
    /// @notice The owner: a Phala AccountId32 or a confidential contract id.
    bytes32 public immutable owner;

    /// @notice Calls accepted so far.
    uint256 public count;
    /// @notice The tag of the last accepted call.
    bytes32 public lastTag;
    /// @notice The source nonce of the last accepted call.
    uint64 public lastNonce;

    constructor(address bridge_, uint32 ownerDomain_, bytes32 owner_) {
        if (bridge_ == address(0)) revert ZeroAddress();
        bridge = bridge_;
        ownerDomain = ownerDomain_;
        owner = owner_;
    }

    /// @notice Record `tag`; only through the bridge, only from the owner.
    function record(bytes32 tag) external returns (uint256) {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        // reverts (NoMessageOrigin) for a call item without origin: such calls are refused too
        (uint32 domain, bytes32 sender, uint64 nonce) = IMessageOrigin(bridge).messageOrigin();
        if (domain != ownerDomain || sender != owner) revert NotOwnerOrigin(domain, sender);
        lastTag = tag;
        lastNonce = nonce;
        emit OwnerCalled(nonce, tag);
        return ++count;
    }
}
