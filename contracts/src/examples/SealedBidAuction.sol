// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMessageOrigin} from "../IBridge.sol";

/// @title Settlement of sealed-bid auctions run inside the Phala committee's enclaves
/// @notice Bids are sent encrypted through `Bridge.sendMessage`; the enclaves pick the winner (highest bid, ties to
/// the earliest; first price) and the bridge calls `settle` through a committee-signed `executeBatch` call item.
/// Losing bids never reach this contract. Allow-list it on the bridge (`setAllowedTarget`).
/// `settle` accepts only the auction's own reply: a call item with origin whose `messageOrigin()` is (the Phala
/// domain, this auction's confidential contract id). The id is what the enclaves compute,
/// `contract_id_for(CONTRACT_NAME, address(this))` (enclave_signer/contracts/base.py), derived here at deployment.
contract SealedBidAuction {
    /// @notice Only the bridge settles.
    error NotBridge(address caller);
    /// @notice The bridge address must be set.
    error ZeroAddress();
    /// @notice The Phala domain id must not be 0 (the bridge's "no domain": no call item ever carries it).
    error InvalidDomain(uint32 domain);
    /// @notice An auction is settled once; a second settle (another reply, another nonce) is refused.
    error AuctionAlreadySettled(uint256 auctionId);
    /// @notice The call's origin is not this auction's confidential contract on Phala (another contract's reply, or
    /// another domain). A call item without origin reverts earlier, with the bridge's NoMessageOrigin().
    error WrongOrigin(uint32 sourceDomain, bytes32 sender);
    /// @notice A price above MAX_PRICE does not fit the outcome word (the enclaves refuse such bids).
    error PriceTooLarge(uint256 price, uint256 maxPrice);

    /// @notice An auction was settled; `winner` is zero when nobody bid.
    event Settled(uint256 indexed auctionId, address indexed winner, uint256 price);

    /// @notice The largest price (wei): 95 bits, ~3.96e28 wei, far beyond any bid; the enclave's auction refuses a
    /// larger bid (`bad_amount`), so a settle never carries one.
    uint256 public constant MAX_PRICE = (1 << 95) - 1;

    /// @notice The confidential contract's name in the enclaves (`auction.py` NAME); part of its id.
    string public constant CONTRACT_NAME = "sealed-bid-auction/v1";

    /// @notice The bridge whose generic calls deliver the enclaves' results.
    address public immutable bridge;
    /// @notice The bridge's domain id of Phala, where the enclaves' replies come from (2 on every deployment so far).
    uint32 public immutable phalaDomain;
    /// @notice This auction's confidential contract id: SHA-256(domain tag | name length u16 | name | address(this)),
    /// the sender of its replies; computed once in the constructor, so a settle reads no storage for it.
    bytes32 public immutable contractId;

    /// @dev One word per auction, so that a settle writes one storage slot: bits 0..159 winner | bits 160..254
    /// price | bit 255 settled.
    mapping(uint256 auctionId => uint256) private _outcomes;

    /// @param bridge_ the Bridge contract
    /// @param phalaDomain_ the bridge's domain id of Phala (`chains.phala.domain_id`, 2)
    constructor(address bridge_, uint32 phalaDomain_) {
        if (bridge_ == address(0)) revert ZeroAddress();
        if (phalaDomain_ == 0) revert InvalidDomain(0);
        bridge = bridge_;
        phalaDomain = phalaDomain_;
        bytes memory name = bytes(CONTRACT_NAME);
        contractId = sha256(
            abi.encodePacked("phala-bridge/confidential-contract/v1\x00", uint16(name.length), name, address(this))
        );
    }

    /// @notice Record the result of auction `auctionId` (its id in the enclaves: the opening call's message id).
    /// Only from the bridge, only as this auction's reply (its origin), once per auction, with a price of at most
    /// MAX_PRICE.
    function settle(uint256 auctionId, address winner, uint256 price) external {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        // reverts NoMessageOrigin() for a call item without origin (kind 2): refused too, with the bridge's error
        (uint32 domain, bytes32 sender,) = IMessageOrigin(bridge).messageOrigin();
        if (domain != phalaDomain || sender != contractId) revert WrongOrigin(domain, sender);
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
