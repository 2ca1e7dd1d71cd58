// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Settlement of sealed-bid auctions run inside the Phala committee's enclaves
/// @notice Bids are sent encrypted through `Bridge.sendMessage`; the enclaves pick the winner (highest bid, ties to
/// the earliest; first price) and the bridge calls `settle` through a committee-signed `executeBatch` call item.
/// Losing bids never reach this contract. Allow-list it on the bridge (`setAllowedTarget`).
contract SealedBidAuction {
    /// @notice Only the bridge settles.
    error NotBridge(address caller);
    /// @notice The bridge address must be set.
    error ZeroAddress();
    /// @notice An auction is settled once; a second settle (another reply, another nonce) is refused.
    error AuctionAlreadySettled(uint256 auctionId);

    /// @notice An auction was settled; `winner` is zero when nobody bid.
    event Settled(uint256 indexed auctionId, address indexed winner, uint256 price);

    struct Outcome {
        address winner;
        bool settled;
        uint256 price;
    }

    /// @notice The bridge whose generic calls deliver the enclaves' results.
    address public immutable bridge;

    mapping(uint256 => Outcome) private _outcomes;

    /// @param bridge_ the Bridge contract
    constructor(address bridge_) {
        if (bridge_ == address(0)) revert ZeroAddress();
        bridge = bridge_;
    }

    /// @notice Record the result of auction `auctionId` (its id in the enclaves: the opening call's message id).
    /// Only from the bridge, once per auction.
    function settle(uint256 auctionId, address winner, uint256 price) external {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        Outcome storage o = _outcomes[auctionId];
        if (o.settled) revert AuctionAlreadySettled(auctionId);
        o.winner = winner;
        o.settled = true;
        o.price = price;
        emit Settled(auctionId, winner, price);
    }

    /// @notice The outcome of an auction: (settled, winner, price).
    function outcome(uint256 auctionId) external view returns (bool settled, address winner, uint256 price) {
        Outcome storage o = _outcomes[auctionId];
        return (o.settled, o.winner, o.price);
    }
}
