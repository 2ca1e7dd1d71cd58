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
    /// @notice A price above MAX_PRICE does not fit the outcome word (the enclaves refuse such bids).
    error PriceTooLarge(uint256 price, uint256 maxPrice);

    /// @notice An auction was settled; `winner` is zero when nobody bid.
    event Settled(uint256 indexed auctionId, address indexed winner, uint256 price);

    /// @notice The largest price (wei): 95 bits, ~3.96e28 wei, far beyond any bid; the enclave's auction refuses a
    /// larger bid (`bad_amount`), so a settle never carries one.
    uint256 public constant MAX_PRICE = (1 << 95) - 1;

    /// @notice The bridge whose generic calls deliver the enclaves' results.
    address public immutable bridge;

    /// @dev One word per auction, so that a settle writes one storage slot: bits 0..159 winner | bits 160..254
    /// price | bit 255 settled.
    mapping(uint256 auctionId => uint256) private _outcomes;

    /// @param bridge_ the Bridge contract
    constructor(address bridge_) {
        if (bridge_ == address(0)) revert ZeroAddress();
        bridge = bridge_;
    }

    /// @notice Record the result of auction `auctionId` (its id in the enclaves: the opening call's message id).
    /// Only from the bridge, once per auction, with a price of at most MAX_PRICE.
    function settle(uint256 auctionId, address winner, uint256 price) external {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        if (price > MAX_PRICE) revert PriceTooLarge(price, MAX_PRICE);
        if (_outcomes[auctionId] >> 255 != 0) revert AuctionAlreadySettled(auctionId);
        _outcomes[auctionId] = (1 << 255) | (price << 160) | uint256(uint160(winner));
        emit Settled(auctionId, winner, price);
    }

    /// @notice The outcome of an auction: (settled, winner, price).
    function outcome(uint256 auctionId) external view returns (bool settled, address winner, uint256 price) {
        uint256 o = _outcomes[auctionId];
        return (o >> 255 != 0, address(uint160(o)), (o >> 160) & MAX_PRICE);
    }
}
