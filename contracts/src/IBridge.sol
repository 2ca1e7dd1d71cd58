// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Custom errors of the bridge (no revert strings anywhere)
/// @notice The Python side (relayers/ethereum/errors.py) maps every one of them to a typed exception.
interface IBridgeErrors {
    // ---- roles ----
    error NotAdmin(address caller);
    error NotPendingAdmin(address caller);
    error NotGuardian(address caller);
    error ZeroAddress();
    // ---- pause ----
    error BridgePaused();
    error NotPaused();
    error AlreadyPaused();
    // ---- committee key and signatures ----
    error KeyAlreadyInitialized();
    error KeyNotInitialized();
    error InvalidPublicKey(uint256 x, uint256 y);
    error UnknownKeyEpoch(uint32 epoch, uint32 currentEpoch);
    error PreviousKeyExpired(uint32 epoch, uint256 validUntil);
    error WrongSigningKey();
    error InvalidSignature();
    error OverlapTooLong(uint256 overlap, uint256 maxOverlap);
    // ---- batches (each reverts the whole batch: nothing is executed) ----
    error MalformedBatch(uint256 offset);
    error UnsupportedBatchVersion(uint8 version);
    error InvalidSourceDomain(uint32 domain);
    error EmptyBatch();
    error UnknownItemKind(uint256 offset, uint8 kind);
    error NonceAlreadyUsed(uint32 sourceDomain, uint64 nonce);
    error UnknownToken(address token);
    error TargetNotAllowed(address target);
    error InsufficientGasForCall(uint64 nonce, uint256 gasLimit);
    /// @notice `messageOrigin` was read while no call item with an origin was running.
    error NoMessageOrigin();
    // ---- why a release was queued (recorded as `reason` in ReleaseQueued, never thrown) ----
    error RateLimited(address token, uint256 amount, uint256 available);
    error LargeTransferDelayed(address token, uint256 amount, uint256 threshold);
    error TokenCallReverted(address token, bytes reason);
    // ---- delay queue ----
    error ReleaseNotPending(uint32 sourceDomain, uint64 nonce);
    error ReleaseNotReady(uint32 sourceDomain, uint64 nonce, uint256 readyAt);
    error TokenCallFailed(address token, bytes reason);
    // ---- deposits and messages ----
    error UnsupportedDestination(uint32 domain);
    error UnknownResource(bytes32 resourceId);
    error ZeroAmount();
    error InexactAmount(uint256 amount, uint256 granularity);
    error AmountTooLarge(uint256 amount, uint256 maxAmount);
    error InvalidRecipientLength(uint256 length, uint256 maxLength);
    error InvalidRecipient(uint32 destinationDomain, uint256 length);
    error UnknownRecipientRule(uint8 rule);
    error InvalidPayloadLength(uint256 length, uint256 maxLength);
    error IncorrectFee(uint256 sent, uint256 required);
    // ---- configuration ----
    error InvalidTokenConfig(address token);
    error NotAContract(address account);
    error FeeTransferFailed(address to, uint256 amount);
}

/// @title Events of the bridge
interface IBridgeEvents {
    /// @notice Tokens were locked (or burned) toward `destinationDomain`; `nonce` is the bridge's outbound nonce.
    event Deposit(
        uint64 indexed nonce,
        uint32 indexed destinationDomain,
        bytes32 indexed resourceId,
        address depositor,
        bytes recipient,
        uint256 amount
    );
    /// @notice A generic or confidential message (opaque payload) toward `destinationDomain`.
    event MessageSent(
        uint64 indexed nonce, uint32 indexed destinationDomain, address indexed sender, bytes payload, uint256 fee
    );
    /// @notice A generic call item ran; `result` is its return or revert data (at most 256 bytes).
    event CallExecuted(
        uint32 indexed sourceDomain, uint64 indexed nonce, address indexed target, bool success, bytes result
    );
    /// @notice A token item did not complete and waits in the delay queue until `readyAt`; `reason` is an encoded
    /// custom error: RateLimited, LargeTransferDelayed or TokenCallReverted.
    event ReleaseQueued(
        uint32 indexed sourceDomain,
        uint64 indexed nonce,
        address indexed token,
        address recipient,
        uint256 amount,
        uint256 readyAt,
        bytes reason
    );
    /// @notice A queued release was paid out.
    event ReleaseClaimed(
        uint32 indexed sourceDomain, uint64 indexed nonce, address indexed token, address recipient, uint256 amount
    );
    /// @notice The admin cancelled a queued release (the tokens stay in the bridge).
    event ReleaseCancelled(uint32 indexed sourceDomain, uint64 indexed nonce);
    /// @notice The bridge was paused by the guardian or by a committee signature (`by` = the caller).
    event Paused(address indexed by);
    /// @notice The bridge was unpaused by a committee signature.
    event Unpaused();
    /// @notice A committee key became active for `epoch`; the previous one stays valid until `previousValidUntil`.
    event KeyRotated(uint32 indexed epoch, uint256 pkX, uint256 pkY, uint256 previousValidUntil);
    event GuardianChanged(address guardian);
    event AdminTransferStarted(address pendingAdmin);
    event AdminChanged(address admin);
    event ResourceSet(bytes32 indexed resourceId, address token, uint8 granularityDecimals);
    event TokenConfigured(
        address indexed token,
        uint8 kind,
        uint8 unitDecimals,
        uint32 window,
        uint256 capacity,
        uint256 largeThreshold,
        uint32 delay
    );
    event DestinationSet(uint32 indexed domain, bool enabled);
    event RecipientRuleSet(uint32 indexed domain, uint8 rule);
    event TargetAllowed(address indexed target, bool allowed);
    event MessageFeeSet(uint256 fee);
    event FeesWithdrawn(address to, uint256 amount);
}

/// @title What a call target reads from the bridge: the authenticated origin of the call it is receiving
/// @notice Import this in a target (see contracts/src/examples/PhalaOwnedRecorder.sol and docs/ethereum-side.md,
/// "Receiving calls from Phala"). Check `msg.sender == bridge` first, then the origin.
interface IMessageOrigin {
    /// @notice (source domain, sender there, nonce) of the call item being executed, exactly as the committee signed
    /// it; reverts NoMessageOrigin when the bridge is not running a call item that carries an origin.
    function messageOrigin() external view returns (uint32 sourceDomain, bytes32 sender, uint64 nonce);
}
