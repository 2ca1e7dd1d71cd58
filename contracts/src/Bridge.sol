// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBridgeErrors, IBridgeEvents} from "./IBridge.sol";
import {FrostSecp256k1} from "./lib/FrostSecp256k1.sol";

/// @title phala-bridge: the Ethereum side of the Ethereum <-> Phala bridge
/// @notice Outbound: `deposit` locks (PHA) or burns (wrapped assets) tokens and `sendMessage` carries an opaque
/// payload; both emit an event with the bridge's outbound nonce. Inbound: `executeBatch` checks ONE FROST
/// (secp256k1, SHA-256) signature of the committee over a domain-separated digest of a tightly packed batch, marks
/// every item's nonce, then executes each item: a token release (transfer for lock/release tokens, mint for
/// wrapped tokens) or a call to an allow-listed target. The ERC-20 lock/release, mint/burn and generic-call
/// handlers are inlined here (no handler contracts): a cross-contract hop per item would cost ~2.6k gas cold.
/// @dev Roles: `admin` configures resources, limits and targets (production: a governance multisig); the
/// committee (through its signature) executes batches, rotates its key and pauses/unpauses; `guardian` can only
/// pause. Batch wire format and digest: docs/contracts.md and bridge/evm (Python, byte-identical).
contract Bridge is IBridgeErrors, IBridgeEvents {
    // ---------------------------------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------------------------------

    /// @notice This chain's domain id (Ethereum = 1, Phala = 2).
    uint32 public constant DOMAIN_ID = 1;
    /// @notice Version byte that every batch starts with.
    uint8 internal constant BATCH_VERSION = 1;
    /// @notice Item kinds: a token release (46 bytes), a generic call (37 bytes + calldata) and a generic call with
    /// its authenticated origin (69 bytes + calldata: the call's 37-byte header, then the 32-byte source sender).
    uint8 internal constant ITEM_TOKEN = 1;
    uint8 internal constant ITEM_CALL = 2;
    uint8 internal constant ITEM_CALL_WITH_ORIGIN = 3;
    /// @notice Token handler kinds.
    uint8 internal constant KIND_LOCK = 1;
    uint8 internal constant KIND_MINT = 2;
    /// @notice Governance actions signed by the committee.
    uint8 internal constant ACTION_PAUSE = 1;
    uint8 internal constant ACTION_UNPAUSE = 2;
    uint8 internal constant ACTION_ROTATE_KEY = 3;

    /// @notice Domain-separation tags of the two digests the committee signs.
    bytes32 internal constant BATCH_TAG = keccak256("phala-bridge/evm/batch/v1");
    bytes32 internal constant GOVERNANCE_TAG = keccak256("phala-bridge/evm/governance/v1");

    /// @notice Sizes of the wire formats (bytes).
    uint256 internal constant HEADER_LENGTH = 10; // version u8 | epoch u32 | sourceDomain u32 | tokenCount u8
    uint256 internal constant TOKEN_ITEM_LENGTH = 46; // kind | nonce u64 | tokenIndex u8 | recipient | amount u128
    uint256 internal constant CALL_ITEM_HEADER_LENGTH = 37; // kind | nonce u64 | target | gasLimit u32 | len u32
    uint256 internal constant ORIGIN_LENGTH = 32; // kind 3: the sender after the call header, before the data
    /// @notice Where the batch starts in executeBatch's packed calldata: selector (4) | R.x | R.y | z | PK.x.
    uint256 internal constant PACKED_BATCH_OFFSET = 132;

    uint256 internal constant MAX_RECIPIENT_LENGTH = 256;
    /// @notice Recipient rules per destination (`setRecipientRule`): any bytes, or what a Substrate chain with the
    /// XCM gateway can pay: a 32-byte AccountId, or an XCM destination ("PHXD" | version 1 | fallback AccountId |
    /// route) whose fallback account can be read. Anything else the destination would refuse for good, and nothing
    /// would refund it: it is refused here, before the tokens move.
    uint8 internal constant RECIPIENT_ANY = 0;
    uint8 internal constant RECIPIENT_SUBSTRATE = 1;
    bytes4 internal constant XCM_DESTINATION_MAGIC = "PHXD";
    uint256 internal constant XCM_DESTINATION_HEAD = 37; // magic | version u8 | fallback (32)
    uint256 internal constant MAX_PAYLOAD_LENGTH = 16_384;
    uint256 internal constant MAX_RESULT_LENGTH = 256;
    uint256 internal constant MAX_KEY_OVERLAP = 30 days;
    uint256 internal constant MAX_AMOUNT = type(uint128).max;
    /// @notice Gas kept back after a generic call (for its event and the rest of the batch).
    uint256 internal constant CALL_GAS_RESERVE = 10_000;
    /// @notice Gas a token call (transfer or mint) gets, at most: a standard ERC-20 needs ~30k, a proxied one with
    /// hooks ~60k. Bounded, so a token that burns all it is given (an INVALID, a loop) costs the batch this much
    /// and its release is queued, instead of taking 63/64 of the batch's gas and reverting the rest with it.
    uint256 internal constant TOKEN_CALL_GAS = 100_000;
    /// @notice Gas that must be left before each token call: TOKEN_CALL_GAS + TOKEN_CALL_GAS / 63 (EIP-150 passes
    /// at most 63/64 of what is left) + 40,000 to queue the release if the call fails (a fresh slot, its event).
    /// With it, a token call that fails failed because the token refused or needed more than TOKEN_CALL_GAS, never
    /// because a relayer sent too little gas (which would queue a good release). A literal: assembly reads it.
    uint256 internal constant TOKEN_CALL_MIN_GAS = 141_587;

    bytes4 private constant TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 private constant TRANSFER_FROM = 0x23b872dd; // transferFrom(address,address,uint256)
    bytes4 private constant MINT = 0x40c10f19; // mint(address,uint256)
    bytes4 private constant BURN_FROM = 0x79cc6790; // burnFrom(address,uint256)

    /// @dev Bytes per token in the rate-limit cache of a batch (see `_loadLimits`).
    uint256 private constant CACHE_ENTRY = 160;
    uint256 private constant MASK32 = 0xffffffff;
    uint256 private constant MASK40 = 0xffffffffff;
    uint256 private constant MASK56 = 0xffffffffffffff;
    uint256 private constant MASK64 = 0xffffffffffffffff;
    uint256 private constant MASK128 = 0xffffffffffffffffffffffffffffffff;
    uint256 private constant ADDRESS_MASK = 0x00ffffffffffffffffffffffffffffffffffffffff;
    /// @dev Bits 64..255 of a key word: the key tag, i.e. the first 24 bytes of keccak256(abi.encode(PK.x)).
    uint256 private constant TAG_MASK = 0xffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000;
    /// @dev The tag and the parity bit (bit 1) of the key state word.
    uint256 private constant KEY_MASK = TAG_MASK | 2;
    /// @dev The outbound word's pause copy (bit 255) and its first destination bit (domain d is bit 192 + d).
    uint256 private constant OUTBOUND_PAUSED = 1 << 255;
    uint256 private constant DESTINATION_BITS = 192;
    /// @dev Destinations below this are bits of the outbound word; larger ones live in `_destinations`.
    uint32 private constant PACKED_DESTINATIONS = 63;

    // ---------------------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The hot word read by every batch: bit 0 paused | bit 1 parity of PK.y | bits 8..39 key epoch |
    /// bits 64..255 key tag = the first 24 bytes of keccak256(abi.encode(PK.x)). PK.x itself travels with the
    /// signature (32 bytes of calldata, ~0.5k gas) and is checked against the tag: cheaper than a cold 2.1k read.
    uint256 private _keyState;
    /// @dev The previous key during the overlap after a rotation: bits 0..39 valid until | bit 40 parity |
    /// bits 64..255 key tag.
    uint256 private _previousKey;
    /// @dev Replay protection: bit (nonce & 255) of word [(sourceDomain << 64) | (nonce >> 8)].
    mapping(uint256 wordKey => uint256) private _nonceWords;
    /// @dev Per token, one word read and written by every batch that releases it (layout at `_packLimit`).
    mapping(address token => uint256) private _tokenLimits;
    /// @dev Per token, the delay of the delay queue (read only when a release is queued).
    mapping(address token => uint32) private _tokenDelays;
    /// @dev Deposits: resource id -> token and the decimals that amounts must be a multiple of.
    mapping(bytes32 resourceId => Resource) private _resources;
    /// @dev Destination domains >= PACKED_DESTINATIONS accepted by deposit and sendMessage (smaller ones: `_outbound`).
    mapping(uint32 domain => bool) private _destinations;
    /// @dev Allow-listed targets of generic calls.
    mapping(address target => bool) private _allowedTargets;
    /// @dev Delay queue: (sourceDomain << 64 | nonce) -> keccak256(abi.encode(token, recipient, amount, readyAt)).
    mapping(uint256 releaseKey => bytes32) private _pendingReleases;

    /// @notice Configuration role (production: a governance multisig).
    address public admin;
    /// @notice Proposed admin, who must accept.
    address public pendingAdmin;
    /// @notice May pause (only pause).
    address public guardian;
    /// @notice Sequence number of committee-signed governance actions (part of their digest).
    uint64 public governanceNonce;
    /// @dev The one word every deposit and message reads and writes (one cold slot instead of three): bits 0..63
    /// the last outbound nonce (the first is 1) | bits 64..191 the sendMessage fee (wei) | bits 192..254 enabled
    /// destinations 0..62 (domain d is bit 192 + d) | bit 255 a copy of the pause flag (bit 0 of `_keyState`, which
    /// batches read): `_pause` and `unpause`, the only writers of the flag, write both.
    uint256 private _outbound;
    /// @dev Per destination, the recipient rule deposits to it must meet (RECIPIENT_ANY by default).
    mapping(uint32 domain => uint8) private _recipientRules;
    /// @dev The message origin (EIP-1153 transient storage), set only while a kind 3 call item's target runs and
    /// put back to what it was right after (`_runCall`): sourceDomain << 64 | nonce (0 = no origin), and the sender.
    uint256 private transient _originWord;
    bytes32 private transient _originSender;

    struct Resource {
        address token;
        uint8 granularityDecimals;
    }

    /// @notice A FROST(secp256k1, SHA-256) signature: R uncompressed, z = SerializeScalar(z) (32 bytes, big-endian,
    /// as RFC 9591 encodes it), and the x of the group key it is under (the contract keeps only a tag of it and
    /// the parity of y, and checks pkX against the tag). Governance functions take it ABI-encoded; executeBatch
    /// reads the same four words packed at the start of its calldata.
    struct Signature {
        uint256 rx;
        uint256 ry;
        bytes32 z;
        uint256 pkX;
    }

    /// @notice Token limits as stored (amounts converted to base units).
    struct TokenLimit {
        uint8 kind;
        uint8 unitDecimals;
        uint32 window;
        uint32 lastUpdate;
        uint256 available;
        uint256 capacity;
        uint256 largeThreshold;
        uint32 delay;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction and roles
    // ---------------------------------------------------------------------------------------------------------

    /// @param admin_ the configuration role  @param guardian_ may pause  @param messageFee_ sendMessage fee (wei)
    constructor(address admin_, address guardian_, uint128 messageFee_) {
        if (admin_ == address(0)) revert ZeroAddress();
        admin = admin_;
        guardian = guardian_;
        _outbound = uint256(messageFee_) << 64;
        emit AdminChanged(admin_);
        emit GuardianChanged(guardian_);
        emit MessageFeeSet(messageFee_);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    modifier whenNotPaused() {
        if (_keyState & 1 != 0) revert BridgePaused();
        _;
    }

    /// @notice Propose a new admin; it takes over when it calls `acceptAdmin`.
    function transferAdmin(address newAdmin) external onlyAdmin {
        pendingAdmin = newAdmin;
        emit AdminTransferStarted(newAdmin);
    }

    /// @notice Accept the admin role proposed by `transferAdmin`.
    function acceptAdmin() external {
        if (msg.sender != pendingAdmin || msg.sender == address(0)) revert NotPendingAdmin(msg.sender);
        admin = msg.sender;
        pendingAdmin = address(0);
        emit AdminChanged(msg.sender);
    }

    /// @notice Set the guardian (who can pause, never unpause). Zero disables it.
    function setGuardian(address guardian_) external onlyAdmin {
        guardian = guardian_;
        emit GuardianChanged(guardian_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Committee key: bootstrap, rotation
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Set the committee's first group key (epoch 1) once the DKG has run. Admin only, exactly once.
    /// @param pkX group key x  @param pkY group key y (must be on secp256k1 with 0 < x < n)
    function initializeKey(uint256 pkX, uint256 pkY) external onlyAdmin {
        uint256 st = _keyState;
        if (uint32(st >> 8) != 0) revert KeyAlreadyInitialized();
        _keyState = _keyWord(pkX, pkY) | (uint256(1) << 8) | (st & 1);
        emit KeyRotated(1, pkX, pkY, 0);
    }

    /// @notice Replace the committee key with (newX, newY) under epoch + 1, signed by the current key. The
    /// current key stays valid for batches of its epoch during `overlapSeconds` (at most MAX_KEY_OVERLAP).
    /// @param signature by the current key over governanceDigest(ACTION_ROTATE_KEY, abi.encodePacked(newX, newY,
    /// overlapSeconds))
    function rotateKey(uint256 newX, uint256 newY, uint32 overlapSeconds, Signature calldata signature) external {
        uint256 st = _keyState;
        uint32 epoch = uint32(st >> 8);
        if (epoch == 0) revert KeyNotInitialized();
        if (overlapSeconds > MAX_KEY_OVERLAP) revert OverlapTooLong(overlapSeconds, MAX_KEY_OVERLAP);
        _authenticateGovernance(st, ACTION_ROTATE_KEY, abi.encodePacked(newX, newY, overlapSeconds), signature);
        uint256 validUntil = block.timestamp + overlapSeconds;
        // previous: tag | parity at bit 40 | validUntil
        _previousKey = (st & TAG_MASK) | ((st & 2) << 39) | validUntil;
        _keyState = _keyWord(newX, newY) | (uint256(epoch + 1) << 8) | (st & 1);
        emit KeyRotated(epoch + 1, newX, newY, validUntil);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Pause
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Pause the bridge (guardian only). Deposits, messages, batches and claims then revert. Also moves
    /// `governanceNonce`, voiding every committee governance signature made before it.
    function pause() external {
        if (msg.sender != guardian || msg.sender == address(0)) revert NotGuardian(msg.sender);
        // A committee signature made before this pause (an UNPAUSE whose transaction reverted is public) must not
        // lift it: every governance signature names the nonce, so moving it voids them all.
        ++governanceNonce;
        _pause();
    }

    /// @notice Pause the bridge with a committee signature over governanceDigest(ACTION_PAUSE, "").
    function pauseWithSignature(Signature calldata signature) external {
        uint256 st = _keyState;
        if (uint32(st >> 8) == 0) revert KeyNotInitialized();
        if (st & 1 != 0) revert AlreadyPaused();
        _authenticateGovernance(st, ACTION_PAUSE, "", signature);
        _pause();
    }

    /// @notice Unpause the bridge with a committee signature over governanceDigest(ACTION_UNPAUSE, "").
    function unpause(Signature calldata signature) external {
        uint256 st = _keyState;
        if (uint32(st >> 8) == 0) revert KeyNotInitialized();
        if (st & 1 == 0) revert NotPaused();
        _authenticateGovernance(st, ACTION_UNPAUSE, "", signature);
        _keyState = st & ~uint256(1);
        _outbound &= ~OUTBOUND_PAUSED;
        emit Unpaused();
    }

    function _pause() private {
        uint256 st = _keyState;
        if (st & 1 != 0) revert AlreadyPaused();
        _keyState = st | 1;
        _outbound |= OUTBOUND_PAUSED;
        emit Paused(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Outbound: deposit and sendMessage
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Send `amount` of a resource's token to `recipient` on `destinationDomain`: the bridge locks it
    /// (lock/release tokens such as PHA, which needs an allowance) or burns it from the caller (wrapped tokens).
    /// @param recipient opaque destination account (1..MAX_RECIPIENT_LENGTH bytes, e.g. a 32-byte AccountId)
    /// @param amount base units; must be non-zero and a multiple of 10**granularityDecimals (PHA: 10**6, since
    /// Phala counts PHA with 12 decimals and Ethereum with 18)
    /// @return nonce the bridge's outbound nonce of this deposit
    function deposit(uint32 destinationDomain, bytes32 resourceId, bytes calldata recipient, uint256 amount)
        external
        returns (uint64 nonce)
    {
        uint256 out = _openOutbound(destinationDomain);
        Resource memory res = _resources[resourceId];
        uint256 kind = _tokenLimits[res.token] & 0xff;
        if (res.token == address(0) || kind == 0) revert UnknownResource(resourceId);
        if (amount == 0) revert ZeroAmount();
        uint256 granularity = _pow10(res.granularityDecimals);
        if (amount % granularity != 0) revert InexactAmount(amount, granularity);
        if (amount > MAX_AMOUNT) revert AmountTooLarge(amount, MAX_AMOUNT);
        if (recipient.length == 0 || recipient.length > MAX_RECIPIENT_LENGTH) {
            revert InvalidRecipientLength(recipient.length, MAX_RECIPIENT_LENGTH);
        }
        if (_recipientRules[destinationDomain] == RECIPIENT_SUBSTRATE && !_isSubstrateRecipient(recipient)) {
            revert InvalidRecipient(destinationDomain, recipient.length);
        }
        nonce = _nextNonce(out);
        emit Deposit(nonce, destinationDomain, resourceId, msg.sender, recipient, amount);
        bool ok = kind == KIND_LOCK
            ? _callToken3(res.token, TRANSFER_FROM, msg.sender, address(this), amount)
            : _callToken(res.token, BURN_FROM, msg.sender, amount);
        if (!ok) revert TokenCallFailed(res.token, _returnDataPrefix());
    }

    /// @notice Send an opaque (possibly encrypted) payload to `destinationDomain`; msg.value must equal
    /// `messageFee`.
    /// @return nonce the bridge's outbound nonce of this message
    function sendMessage(uint32 destinationDomain, bytes calldata payload)
        external
        payable
        returns (uint64 nonce)
    {
        uint256 out = _openOutbound(destinationDomain);
        if (payload.length == 0 || payload.length > MAX_PAYLOAD_LENGTH) {
            revert InvalidPayloadLength(payload.length, MAX_PAYLOAD_LENGTH);
        }
        uint256 fee = (out >> 64) & MASK128;
        if (msg.value != fee) revert IncorrectFee(msg.value, fee);
        nonce = _nextNonce(out);
        emit MessageSent(nonce, destinationDomain, msg.sender, payload, msg.value);
    }

    /// @dev The outbound word, after the checks every deposit and message starts with: not paused (BridgePaused),
    /// destination enabled (UnsupportedDestination).
    function _openOutbound(uint32 destinationDomain) private view returns (uint256 out) {
        out = _outbound;
        if (out & OUTBOUND_PAUSED != 0) revert BridgePaused();
        if (!_isDestination(out, destinationDomain)) revert UnsupportedDestination(destinationDomain);
    }

    /// @dev Take the next outbound nonce of the word `out` (read by `_openOutbound`) and store it.
    function _nextNonce(uint256 out) private returns (uint64 nonce) {
        nonce = uint64(out) + 1; // checked: reverts after 2^64 - 1 outbound messages rather than wrap
        _outbound = (out & ~MASK64) | nonce;
    }

    /// @dev RECIPIENT_SUBSTRATE: a 32-byte AccountId that does not start with the XCM destination magic, or an XCM
    /// destination of version 1 long enough to hold its fallback account.
    function _isSubstrateRecipient(bytes calldata recipient) private pure returns (bool) {
        if (recipient.length >= 4 && bytes4(recipient[:4]) == XCM_DESTINATION_MAGIC) {
            return recipient.length >= XCM_DESTINATION_HEAD && uint8(recipient[4]) == 1;
        }
        return recipient.length == 32;
    }

    function _isDestination(uint256 out, uint32 domain) private view returns (bool) {
        if (domain < PACKED_DESTINATIONS) return (out >> (DESTINATION_BITS + domain)) & 1 != 0;
        return _destinations[domain];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Inbound: executeBatch
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Verify the committee's FROST signature over a batch and execute every item once.
    /// @dev Calldata is packed, not ABI-encoded (the ABI's offset and length words and the batch's padding would
    /// cost ~420 gas of calldata and its decoding ~100 more): selector | R.x | R.y | z | PK.x (32 bytes each, z
    /// as RFC 9591 serializes it) | batch (the rest of the calldata; `bridge.evm.execute_batch_calldata` builds
    /// it). Calldata shorter than the signature and a batch header reverts with MalformedBatch(0).
    /// Reverts as a whole (nothing executed) when paused, on a bad header, key or signature, a malformed
    /// item, a used nonce, an unknown token or a target that is not allow-listed. Run-time failures do not
    /// revert: a release over a limit, or whose token call fails, goes to the delay queue (ReleaseQueued); a call
    /// records its success or revert data (CallExecuted). Two passes over the items: pass 1 makes every storage
    /// effect (nonce bits, rate limits, queued releases), pass 2 makes the token and target calls.
    /// Batch: header (version u8 | epoch u32 | sourceDomain u32 | tokenCount u8 | tokens) then items.
    function executeBatch_DNw() external {
        if (msg.data.length < PACKED_BATCH_OFFSET + HEADER_LENGTH) revert MalformedBatch(0);
        bytes calldata batch;
        assembly ("memory-safe") {
            // msg.data[PACKED_BATCH_OFFSET:], without the slice's bounds check (done just above)
            batch.offset := PACKED_BATCH_OFFSET
            batch.length := sub(calldatasize(), PACKED_BATCH_OFFSET)
        }
        (uint32 sourceDomain, uint256 keyWord, bytes32 digest) = _openBatch(batch);
        uint256 rx;
        uint256 ry;
        uint256 z;
        uint256 pkX;
        assembly ("memory-safe") {
            rx := calldataload(4)
            ry := calldataload(36)
            z := calldataload(68)
            pkX := calldataload(100)
        }
        _authenticate(keyWord, digest, rx, ry, z, pkX);
        (uint256 cache, uint256[] memory deferred) = _applyEffects(batch, sourceDomain);
        _interact(batch, sourceDomain, cache, deferred);
    }

    /// @notice Pay out a queued release once its delay is over (anyone may call; the tokens go to `recipient`).
    /// @dev The arguments must match the ReleaseQueued event.
    function claimRelease(
        uint32 sourceDomain,
        uint64 nonce,
        address token,
        address recipient,
        uint256 amount,
        uint256 readyAt
    ) external whenNotPaused {
        uint256 key = _releaseKey(sourceDomain, nonce);
        bytes32 expected = _pendingReleases[key];
        if (expected == 0 || expected != keccak256(abi.encode(token, recipient, amount, readyAt))) {
            revert ReleaseNotPending(sourceDomain, nonce);
        }
        if (block.timestamp < readyAt) revert ReleaseNotReady(sourceDomain, nonce, readyAt);
        uint256 kind = _tokenLimits[token] & 0xff;
        if (kind == 0) revert UnknownToken(token);
        delete _pendingReleases[key];
        emit ReleaseClaimed(sourceDomain, nonce, token, recipient, amount);
        if (!_callToken(token, kind == KIND_LOCK ? TRANSFER : MINT, recipient, amount)) {
            revert TokenCallFailed(token, _returnDataPrefix());
        }
    }

    /// @notice Drop a queued release (admin only, e.g. after an incident); its tokens stay in the bridge.
    function cancelRelease(uint32 sourceDomain, uint64 nonce) external onlyAdmin {
        uint256 key = _releaseKey(sourceDomain, nonce);
        if (_pendingReleases[key] == 0) revert ReleaseNotPending(sourceDomain, nonce);
        delete _pendingReleases[key];
        emit ReleaseCancelled(sourceDomain, nonce);
    }

    /// @dev Pause and header checks, the key that signs the batch's epoch (keyWord: its tag in bits 64..255 and
    /// its parity in bit 1), and the digest.
    function _openBatch(bytes calldata batch)
        internal
        view
        returns (uint32 sourceDomain, uint256 keyWord, bytes32 digest)
    {
        uint256 st = _keyState;
        if (st & 1 != 0) revert BridgePaused();
        if (batch.length < HEADER_LENGTH) revert MalformedBatch(0);
        uint256 head;
        assembly ("memory-safe") {
            head := calldataload(batch.offset)
        }
        uint8 version = uint8(head >> 248);
        uint32 epoch = uint32(head >> 216);
        sourceDomain = uint32(head >> 184);
        if (version != BATCH_VERSION) revert UnsupportedBatchVersion(version);
        if (sourceDomain == DOMAIN_ID || sourceDomain == 0) revert InvalidSourceDomain(sourceDomain);
        uint32 current = uint32(st >> 8);
        if (current == 0) revert KeyNotInitialized();
        if (epoch == current) {
            keyWord = st & KEY_MASK;
        } else if (uint256(epoch) + 1 == current) {
            uint256 previous = _previousKey;
            uint256 validUntil = previous & MASK40;
            if (block.timestamp > validUntil) revert PreviousKeyExpired(epoch, validUntil);
            keyWord = (previous & TAG_MASK) | ((previous >> 39) & 2);
        } else {
            revert UnknownKeyEpoch(epoch, current);
        }
        digest = _batchDigest(batch);
    }

    /// @dev keccak256(BATCH_TAG | chainid (32) | this (20) | batch), hashed straight from calldata.
    function _batchDigest(bytes calldata batch) internal view returns (bytes32 digest) {
        bytes32 tag = BATCH_TAG;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, tag)
            mstore(add(m, 32), chainid())
            mstore(add(m, 64), shl(96, address()))
            calldatacopy(add(m, 84), batch.offset, batch.length)
            digest := keccak256(m, add(84, batch.length))
        }
    }

    /// @dev Check that the signature's key is the one in `keyWord` (tag of PK.x, parity), then the signature.
    function _authenticate(uint256 keyWord, bytes32 digest, uint256 rx, uint256 ry, uint256 z, uint256 pkX)
        internal
        view
    {
        uint256 hashed;
        assembly ("memory-safe") {
            mstore(0, pkX)
            hashed := keccak256(0, 32)
        }
        if ((hashed ^ keyWord) & TAG_MASK != 0) revert WrongSigningKey();
        if (!FrostSecp256k1.verify(digest, pkX, (keyWord >> 1) & 1, rx, ry, z)) revert InvalidSignature();
    }

    /// @dev `_authenticate` for a signature passed as the ABI struct (governance functions).
    function _authenticateSignature(uint256 keyWord, bytes32 digest, Signature calldata signature) internal view {
        _authenticate(keyWord, digest, signature.rx, signature.ry, uint256(signature.z), signature.pkX);
    }

    /// @dev Pass 1, every storage effect before any external call: check the framing, set each nonce bit (one
    /// SSTORE per bitmap word), check call targets against the allow-list, take each release from its token's
    /// rate limit (cached in memory, one SSTORE per token) and queue the releases that must wait.
    /// Returns `cache`: per entry of the header's token table, 5 words (limit word, unit, available units,
    /// threshold units, slot; see `_loadLimits`); and `deferred`: the queued items by increasing offset, each
    /// (available << 64) | (calldata position << 8) | reason code (1 = above the large threshold, 2 = rate limit).
    function _applyEffects(bytes calldata batch, uint32 sourceDomain)
        private
        returns (uint256 cache, uint256[] memory deferred)
    {
        uint256 tokenCount = _tokenCount(batch);
        uint256 start;
        unchecked {
            start = HEADER_LENGTH + 20 * tokenCount; // tokenCount < 256
        }
        if (start > batch.length) revert MalformedBatch(HEADER_LENGTH - 1);
        if (start == batch.length) revert EmptyBatch();
        cache = _loadLimits(batch, tokenCount);
        uint256 base = _calldataOffset(batch);
        uint256 failure;
        unchecked {
            // calldata offsets and lengths are far below 2^64
            (failure, deferred) = _scan(base + start, base + batch.length, uint256(sourceDomain) << 64, cache);
        }
        if (failure != 0) _revertBatch(batch, sourceDomain, failure & 0xff, failure >> 8, base);
        _storeLimits(cache, tokenCount);
        for (uint256 i = 0; i < deferred.length; ++i) {
            _deferRelease(batch, sourceDomain, cache, deferred[i]);
        }
    }

    /// @dev The loop of pass 1 over the items in calldata [p, end). On failure returns (argument << 8) | code:
    /// 1 nonce used (argument: nonce), 2 malformed, 3 unknown kind (argument: item position in calldata),
    /// 4 target not allowed (argument: target).
    function _scan(uint256 p, uint256 end, uint256 domainKey, uint256 cache)
        private
        returns (uint256 failure, uint256[] memory deferred)
    {
        // (legacy codegen reaches 16 stack slots: the item count lives in memory, the token count at cache - 32)
        assembly ("memory-safe") {
            let list := mload(0x40)
            mstore(list, 0)
            let q := p
            let e := end
            let wordKey := not(0)
            let wordSlot := 0 // storage slot of wordKey's bitmap word (hashed once per word)
            let word := 0
            for {} lt(q, e) {} {
                let head := calldataload(q)
                {
                    // replay protection: bit (nonce & 255) of word (domain << 64 | nonce >> 8), cached on the
                    // stack and written back when the next item is in another word
                    let nonce := and(shr(184, head), MASK64)
                    {
                        let key := or(domainKey, shr(8, nonce))
                        if iszero(eq(key, wordKey)) {
                            if iszero(eq(wordKey, not(0))) { sstore(wordSlot, word) }
                            wordKey := key
                            mstore(0, key)
                            mstore(32, _nonceWords.slot)
                            wordSlot := keccak256(0, 64)
                            word := sload(wordSlot)
                        }
                    }
                    if and(word, shl(and(nonce, 255), 1)) {
                        failure := or(shl(8, nonce), 1)
                        break
                    }
                    word := or(word, shl(and(nonce, 255), 1))
                }
                switch shr(248, head)
                case 1 {
                    // token item: kind | nonce u64 | tokenIndex u8 | recipient (20) | amount u128
                    let c := and(shr(176, head), 0xff) // token index
                    if or(gt(add(q, 46), e), iszero(lt(c, mload(sub(cache, 32))))) {
                        failure := or(shl(8, q), 2)
                        break
                    }
                    c := add(cache, mul(c, CACHE_ENTRY))
                    let units := and(calldataload(add(q, 14)), MASK128)
                    {
                        let unit := mload(add(c, 32))
                        units := div(add(units, sub(unit, 1)), unit) // rounded up
                    }
                    let available := mload(add(c, 64))
                    switch or(gt(units, mload(add(c, 96))), gt(units, available))
                    case 0 { mstore(add(c, 64), sub(available, units)) }
                    default {
                        // queued: 1 = above the large-transfer threshold, 2 = over the rate limit
                        units := sub(2, gt(units, mload(add(c, 96))))
                        c := add(mload(list), 1) // number of queued items
                        mstore(list, c)
                        mstore(add(list, shl(5, c)), or(shl(64, available), or(shl(8, q), units)))
                    }
                    q := add(q, 46)
                }
                default {
                    // call item: kind | nonce u64 | target (20) | gasLimit u32 | dataLength u32 | data, and kind 3
                    // (call with origin): the same header, then sender (32), then data. Token items never get here.
                    let kind := shr(248, head)
                    if iszero(or(eq(kind, 2), eq(kind, 3))) {
                        failure := or(shl(8, q), 3)
                        break
                    }
                    let next := add(add(q, add(37, shl(5, eq(kind, 3)))), and(shr(192, calldataload(add(q, 29))), MASK32))
                    if gt(next, e) {
                        failure := or(shl(8, q), 2)
                        break
                    }
                    mstore(0, and(shr(24, head), ADDRESS_MASK))
                    mstore(32, _allowedTargets.slot)
                    if iszero(sload(keccak256(0, 64))) {
                        failure := or(shl(8, mload(0)), 4)
                        break
                    }
                    q := next
                }
            }
            if iszero(failure) { sstore(wordSlot, word) }
            mstore(0x40, add(list, shl(5, add(mload(list), 1))))
            deferred := list
        }
    }

    /// @dev Revert with the error `_scan` found (positions converted to byte offsets in the batch).
    function _revertBatch(bytes calldata batch, uint32 sourceDomain, uint256 failure, uint256 arg, uint256 base)
        private
        pure
    {
        if (failure == 1) revert NonceAlreadyUsed(sourceDomain, uint64(arg));
        if (failure == 2) revert MalformedBatch(arg - base);
        if (failure == 3) revert UnknownItemKind(arg - base, uint8(batch[arg - base]));
        revert TargetNotAllowed(address(uint160(arg)));
    }

    /// @dev Read the rate limit of every token in the header's table into memory, refilled to now: per token
    /// CACHE_ENTRY bytes, 5 words (limit word, unit = 10**unitDecimals, available units, large-transfer threshold
    /// units, the limit word's storage slot, hashed once for the read and the write-back).
    function _loadLimits(bytes calldata batch, uint256 tokenCount) private view returns (uint256 cache) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, tokenCount) // read by _scan at cache - 32
            cache := add(m, 32)
            mstore(0x40, add(cache, mul(tokenCount, CACHE_ENTRY)))
        }
        for (uint256 i = 0; i < tokenCount; ++i) {
            address token = _tableToken(batch, i);
            for (uint256 j = 0; j < i; ++j) {
                // a token listed twice would get two caches, and the second write-back would undo the first
                if (_tableToken(batch, j) == token) revert MalformedBatch(HEADER_LENGTH + 20 * i);
            }
            uint256 slot;
            uint256 limit;
            assembly ("memory-safe") {
                mstore(0, token)
                mstore(32, _tokenLimits.slot)
                slot := keccak256(0, 64)
                limit := sload(slot)
            }
            if (limit & 0xff == 0) revert UnknownToken(token);
            (uint256 available, uint256 last) = _refill(limit);
            limit = (limit & ~(MASK32 << 48)) | (last << 48);
            uint256 unit = _pow10((limit >> 8) & 0xff);
            uint256 threshold = limit >> 192;
            assembly ("memory-safe") {
                let c := add(cache, mul(i, CACHE_ENTRY))
                mstore(c, limit)
                mstore(add(c, 32), unit)
                mstore(add(c, 64), available)
                mstore(add(c, 96), threshold)
                mstore(add(c, 128), slot)
            }
        }
    }

    /// @dev Write each token's limit back (available and lastUpdate as `_loadLimits` left them, the rest unchanged).
    function _storeLimits(uint256 cache, uint256 tokenCount) private {
        assembly ("memory-safe") {
            for { let c := cache } lt(c, add(cache, mul(tokenCount, CACHE_ENTRY))) { c := add(c, CACHE_ENTRY) } {
                sstore(mload(add(c, 128)), or(and(mload(c), not(shl(80, MASK56))), shl(80, mload(add(c, 64)))))
            }
        }
    }

    /// @dev Queue a release that pass 1 found over a limit (readyAt = now + the token's delay).
    function _deferRelease(bytes calldata batch, uint32 sourceDomain, uint256 cache, uint256 entry) private {
        uint256 offset = ((entry >> 8) & MASK56) - _calldataOffset(batch);
        (uint64 nonce, uint256 index, address recipient, uint256 amount) = _tokenItem(batch, offset);
        address token = _tableToken(batch, index);
        uint256 unit;
        uint256 threshold;
        assembly ("memory-safe") {
            let c := add(cache, mul(index, CACHE_ENTRY))
            unit := mload(add(c, 32))
            threshold := mload(add(c, 96))
        }
        bytes memory reason = entry & 0xff == 1
            ? abi.encodeWithSelector(LargeTransferDelayed.selector, token, amount, threshold * unit)
            : abi.encodeWithSelector(RateLimited.selector, token, amount, (entry >> 64) * unit);
        _queue(sourceDomain, nonce, token, recipient, amount, block.timestamp + _tokenDelays[token], reason);
    }

    /// @dev Pass 2, the interactions: transfer or mint for each token item that was not queued, and each call.
    /// Token items run in a tight loop; a call item, or a token call that fails, drops out to Solidity.
    function _interact(bytes calldata batch, uint32 sourceDomain, uint256 cache, uint256[] memory deferred) private {
        uint256 table;
        uint256 p;
        uint256 end;
        unchecked {
            // calldata offsets and lengths are far below 2^64, tokenCount below 256
            table = _calldataOffset(batch) + HEADER_LENGTH;
            p = table + 20 * _tokenCount(batch);
            end = _calldataOffset(batch) + batch.length;
        }
        uint256 d; // index of the next queued item in `deferred`
        while (p < end) {
            // halt: 1 = call item (kind 2 or 3) at p, 2 = its token call failed, 3 = queued in pass 1, 4 = too little gas
            uint256 halt;
            uint256 skip = d < deferred.length ? (deferred[d] >> 8) & MASK56 : type(uint256).max;
            assembly ("memory-safe") {
                for {} lt(p, end) { p := add(p, 46) } {
                    let head := calldataload(p)
                    if gt(shr(248, head), 1) {
                        halt := 1
                        break
                    }
                    if eq(p, skip) {
                        halt := 3
                        break
                    }
                    if lt(gas(), TOKEN_CALL_MIN_GAS) {
                        halt := 4
                        break
                    }
                    let index := and(shr(176, head), 0xff)
                    // lock/release tokens: transfer(recipient, amount); mint/burn tokens: mint(recipient, amount)
                    let selector := TRANSFER
                    if eq(and(mload(add(cache, mul(index, CACHE_ENTRY))), 0xff), 2) { selector := MINT }
                    let m := mload(0x40)
                    mstore(m, selector)
                    mstore(add(m, 4), and(shr(16, head), ADDRESS_MASK))
                    mstore(add(m, 36), and(calldataload(add(p, 14)), MASK128))
                    let token := shr(96, calldataload(add(table, mul(20, index))))
                    let ok := call(TOKEN_CALL_GAS, token, 0, m, 68, 0, 32)
                    if iszero(and(ok, or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1))))) {
                        halt := 2
                        break
                    }
                }
            }
            if (halt == 0) break;
            if (halt == 1) {
                p = _runCall(sourceDomain, p);
            } else if (halt == 4) {
                revert InsufficientGasForCall(uint64(_word(p) >> 184), TOKEN_CALL_MIN_GAS);
            } else {
                if (halt == 2) _failRelease(batch, sourceDomain, p - _calldataOffset(batch));
                else ++d;
                p += TOKEN_ITEM_LENGTH;
            }
        }
    }

    /// @dev A token call of pass 2 failed: queue the release, claimable at once, with the token's revert data.
    function _failRelease(bytes calldata batch, uint32 sourceDomain, uint256 offset) private {
        bytes memory returned = _returnDataPrefix(); // first, before any other call overwrites it
        (uint64 nonce, uint256 index, address recipient, uint256 amount) = _tokenItem(batch, offset);
        address token = _tableToken(batch, index);
        bytes memory reason = abi.encodeWithSelector(TokenCallReverted.selector, token, returned);
        _queue(sourceDomain, nonce, token, recipient, amount, block.timestamp, reason);
    }

    /// @dev Generic call handler: the allow-listed target (checked in pass 1) gets exactly gasLimit gas and no
    /// value; the outcome (success or revert, with up to MAX_RESULT_LENGTH bytes of data) is recorded. A kind 3 item
    /// sets the message origin (`messageOrigin`) for the length of the call; a kind 2 item hides any origin of an
    /// enclosing call (a target re-entering executeBatch), so a target only ever sees its own item's origin. Both
    /// put back what was there before (nothing at the outermost level), also after a reverting or out-of-gas target:
    /// the transient words are written in this frame, which the call cannot revert.
    /// @param p calldata position of the call item  @return next calldata position of the next item
    function _runCall(uint32 sourceDomain, uint256 p) private returns (uint256 next) {
        uint256 head;
        uint256 tail;
        assembly ("memory-safe") {
            head := calldataload(p)
            tail := calldataload(add(p, 29))
        }
        uint64 nonce = uint64(head >> 184);
        address target = address(uint160(head >> 24));
        uint256 gasLimit = tail >> 224;
        uint256 length = (tail >> 192) & MASK32;
        // EIP-150 passes at most 63/64 of what is left: make sure the target really gets gasLimit, or a relayer
        // could make a good call fail (and use up its nonce) by sending too little gas.
        if (gasleft() < gasLimit + gasLimit / 63 + CALL_GAS_RESERVE) revert InsufficientGasForCall(nonce, gasLimit);
        bool withOrigin = head >> 248 == ITEM_CALL_WITH_ORIGIN;
        uint256 data;
        unchecked {
            data = p + CALL_ITEM_HEADER_LENGTH;
        }
        // The enclosing call's origin (0 outside executeBatch's calls). Invariant: the sender word is 0 whenever the
        // origin word is, so it is read (and saved) only when there is an enclosing origin.
        uint256 outer = _originWord;
        bytes32 outerSender;
        if (outer != 0) outerSender = _originSender;
        if (withOrigin) {
            // sourceDomain is never 0 (`_openBatch`), so a set origin word is never 0
            _originWord = (uint256(sourceDomain) << 64) | nonce;
            _originSender = bytes32(_word(data));
            unchecked {
                data += ORIGIN_LENGTH; // a calldata position, far below 2^64
            }
        } else if (outer != 0) {
            _originWord = 0;
            _originSender = 0;
        }
        bool success;
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, data, length)
            success := call(gasLimit, target, 0, m, length, 0, 0)
        }
        if (withOrigin || outer != 0) {
            _originWord = outer;
            _originSender = outerSender;
        }
        unchecked {
            next = data + length; // pass 1 checked it is within the batch
        }
        emit CallExecuted(sourceDomain, nonce, target, success, _returnDataPrefix());
    }

    function _queue(
        uint32 sourceDomain,
        uint64 nonce,
        address token,
        address recipient,
        uint256 amount,
        uint256 readyAt,
        bytes memory reason
    ) private {
        _pendingReleases[_releaseKey(sourceDomain, nonce)] = keccak256(abi.encode(token, recipient, amount, readyAt));
        emit ReleaseQueued(sourceDomain, nonce, token, recipient, amount, readyAt, reason);
    }

    /// @dev The token item at byte `offset` of the batch.
    function _tokenItem(bytes calldata batch, uint256 offset)
        private
        pure
        returns (uint64 nonce, uint256 index, address recipient, uint256 amount)
    {
        uint256 head;
        assembly ("memory-safe") {
            head := calldataload(add(batch.offset, offset))
            amount := and(calldataload(add(batch.offset, add(offset, 14))), MASK128)
        }
        nonce = uint64(head >> 184);
        index = (head >> 176) & 0xff;
        recipient = address(uint160(head >> 16));
    }

    /// @dev The header's tokenCount byte (the batch is at least HEADER_LENGTH bytes: `_openBatch` checked it).
    function _tokenCount(bytes calldata batch) private pure returns (uint256 count) {
        assembly ("memory-safe") {
            count := shr(248, calldataload(add(batch.offset, 9)))
        }
    }

    /// @dev Entry `index` of the header's token table.
    function _tableToken(bytes calldata batch, uint256 index) private pure returns (address token) {
        assembly ("memory-safe") {
            token := shr(96, calldataload(add(batch.offset, add(HEADER_LENGTH, mul(20, index)))))
        }
    }

    /// @dev 10**d without Solidity's checked-exponentiation loop (d <= 38 is enforced by the configuration).
    function _pow10(uint256 d) private pure returns (uint256 r) {
        assembly ("memory-safe") {
            r := exp(10, d)
        }
    }

    function _word(uint256 p) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(p)
        }
    }

    function _calldataOffset(bytes calldata data) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := data.offset
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Configuration (admin)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Register or update a token handler and its limits. Releases count against a bucket of
    /// `capacity` that refills in `window` seconds; a release above `largeThreshold`, or above what the bucket
    /// holds, waits `delay` seconds in the delay queue. The limiter counts in units of 10**unitDecimals base units
    /// (releases round up), so that it fits one storage word. kind 0 disables the token. `delay` must be > 0 for an
    /// enabled token: with 0 a queued release could be claimed in the same block, and the limit would bind nothing.
    /// @param capacity base units per window (at most (2^56 - 1) units)
    /// @param largeThreshold base units (at most (2^64 - 1) units; use the maximum for "no threshold")
    function configureToken(
        address token,
        uint8 kind,
        uint8 unitDecimals,
        uint32 window,
        uint256 capacity,
        uint256 largeThreshold,
        uint32 delay
    ) external onlyAdmin {
        if (token.code.length == 0) revert NotAContract(token);
        uint256 unit = 10 ** uint256(unitDecimals);
        uint256 capacityUnits = capacity / unit;
        uint256 thresholdUnits = largeThreshold / unit;
        if (
            kind > KIND_MINT || unitDecimals > 38 || window == 0 || capacityUnits > MASK56
                || thresholdUnits > MASK64 || _allowedTargets[token] || (kind != 0 && delay == 0)
        ) revert InvalidTokenConfig(token);
        uint256 old = _tokenLimits[token];
        uint256 available = (old >> 80) & MASK56;
        if (((old >> 8) & 0xff) != unitDecimals || old == 0 || available > capacityUnits) available = capacityUnits;
        _tokenLimits[token] = kind == 0 ? 0 : _packLimit(kind, unitDecimals, window, available, capacityUnits, thresholdUnits);
        _tokenDelays[token] = delay;
        emit TokenConfigured(token, kind, unitDecimals, window, capacityUnits * unit, thresholdUnits * unit, delay);
    }

    /// @notice Map a resource id to a token for deposits (token zero removes it). Deposit amounts must be
    /// multiples of 10**granularityDecimals (PHA: 6, the 18 - 12 decimals difference with Phala).
    function setResource(bytes32 resourceId, address token, uint8 granularityDecimals) external onlyAdmin {
        if (granularityDecimals > 38) revert InvalidTokenConfig(token);
        _resources[resourceId] = Resource(token, granularityDecimals);
        emit ResourceSet(resourceId, token, granularityDecimals);
    }

    /// @notice Enable or disable a destination domain for deposits and messages.
    function setDestination(uint32 domain, bool enabled) external onlyAdmin {
        if (domain == DOMAIN_ID || domain == 0) revert UnsupportedDestination(domain);
        if (domain < PACKED_DESTINATIONS) {
            uint256 bit = uint256(1) << (DESTINATION_BITS + domain);
            _outbound = enabled ? _outbound | bit : _outbound & ~bit;
        } else {
            _destinations[domain] = enabled;
        }
        emit DestinationSet(domain, enabled);
    }

    /// @notice The recipient rule deposits to `domain` must meet: RECIPIENT_ANY (0) or RECIPIENT_SUBSTRATE (1).
    function setRecipientRule(uint32 domain, uint8 rule) external onlyAdmin {
        if (rule > RECIPIENT_SUBSTRATE) revert UnknownRecipientRule(rule);
        _recipientRules[domain] = rule;
        emit RecipientRuleSet(domain, rule);
    }

    /// @notice Allow or forbid a generic-call target. The bridge itself and registered tokens are refused.
    function setAllowedTarget(address target, bool allowed) external onlyAdmin {
        if (allowed && (target == address(this) || _tokenLimits[target] != 0 || target == address(0))) {
            revert TargetNotAllowed(target);
        }
        // A call to an address without code succeeds doing nothing: the message would be spent, reported executed.
        if (allowed && target.code.length == 0) revert NotAContract(target);
        _allowedTargets[target] = allowed;
        emit TargetAllowed(target, allowed);
    }

    /// @notice Set the sendMessage fee (wei).
    function setMessageFee(uint128 fee) external onlyAdmin {
        _outbound = (_outbound & ~(MASK128 << 64)) | (uint256(fee) << 64);
        emit MessageFeeSet(fee);
    }

    /// @notice Send the collected message fees to `to`.
    function withdrawFees(address payable to) external onlyAdmin {
        uint256 amount = address(this).balance;
        emit FeesWithdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert FeeTransferFailed(to, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The digest the committee signs for `batch` (FROST message).
    function batchDigest(bytes calldata batch) external view returns (bytes32) {
        return _batchDigest(batch);
    }

    /// @notice The digest the committee signs for a governance action at the current epoch and nonce.
    function governanceDigest(uint8 action, bytes calldata params) external view returns (bytes32) {
        return _governanceDigest(uint32(_keyState >> 8), action, params);
    }

    /// @notice Current key epoch (0 before initializeKey), key tag (first 24 bytes of keccak256(PK.x)), PK.y
    /// parity and the pause flag.
    function keyState() external view returns (uint32 epoch, bytes24 keyTag, uint8 parity, bool isPaused) {
        uint256 st = _keyState;
        return (uint32(st >> 8), bytes24(bytes32(st & TAG_MASK)), uint8((st >> 1) & 1), st & 1 != 0);
    }

    /// @notice The previous key's tag and parity, and until when it signs batches of epoch - 1.
    function previousKey() external view returns (bytes24 keyTag, uint8 parity, uint256 validUntil) {
        uint256 previous = _previousKey;
        return (bytes24(bytes32(previous & TAG_MASK)), uint8((previous >> 40) & 1), previous & MASK40);
    }

    /// @notice Whether the bridge is paused.
    function paused() external view returns (bool) {
        return _keyState & 1 != 0;
    }

    /// @notice Whether (sourceDomain, nonce) has been executed (or queued) already.
    function isNonceUsed(uint32 sourceDomain, uint64 nonce) external view returns (bool) {
        return _nonceWords[(uint256(sourceDomain) << 64) | (nonce >> 8)] & (1 << (nonce & 255)) != 0;
    }

    /// @notice The raw bitmap word holding nonces [index * 256, index * 256 + 255] of `sourceDomain`.
    function nonceWord(uint32 sourceDomain, uint64 index) external view returns (uint256) {
        return _nonceWords[(uint256(sourceDomain) << 64) | index];
    }

    /// @notice A token's handler kind and limits (amounts in base units; `available` as of the last update).
    function tokenLimit(address token) external view returns (TokenLimit memory t) {
        uint256 limit = _tokenLimits[token];
        uint256 unit = 10 ** ((limit >> 8) & 0xff);
        t.kind = uint8(limit);
        t.unitDecimals = uint8(limit >> 8);
        t.window = uint32(limit >> 16);
        t.lastUpdate = uint32(limit >> 48);
        t.available = ((limit >> 80) & MASK56) * unit;
        t.capacity = ((limit >> 136) & MASK56) * unit;
        t.largeThreshold = (limit >> 192) * unit;
        t.delay = _tokenDelays[token];
    }

    /// @notice What a release of `token` could take right now without being queued (base units).
    function availableToRelease(address token) external view returns (uint256) {
        uint256 limit = _tokenLimits[token];
        if (limit == 0) return 0;
        (uint256 available,) = _refill(limit);
        return available * 10 ** ((limit >> 8) & 0xff);
    }

    /// @notice The resource's token and deposit granularity decimals.
    function resource(bytes32 resourceId) external view returns (address token, uint8 granularityDecimals) {
        Resource memory r = _resources[resourceId];
        return (r.token, r.granularityDecimals);
    }

    /// @notice The recipient rule of deposits to `domain` (see `setRecipientRule`).
    function recipientRule(uint32 domain) external view returns (uint8) {
        return _recipientRules[domain];
    }

    /// @notice Whether deposits and messages may go to `domain`.
    function isDestination(uint32 domain) external view returns (bool) {
        return _isDestination(_outbound, domain);
    }

    /// @notice Last outbound nonce used by deposit and sendMessage (the first is 1).
    function outboundNonce() external view returns (uint64) {
        return uint64(_outbound);
    }

    /// @notice Fee in wei for sendMessage.
    function messageFee() external view returns (uint128) {
        return uint128(_outbound >> 64);
    }

    /// @notice The origin of the call item being executed: the source domain (Phala = 2), the sender there as the
    /// committee signed it (a Phala AccountId32 for an intent; a confidential contract's id for its reply) and the
    /// message's nonce on that domain. Set only while the bridge calls a target for a call item that carries its origin
    /// (kind 3); reverts with NoMessageOrigin at any other time (outside executeBatch, during a call item without
    /// origin, during the token calls of a batch sent from outside). A target must also check `msg.sender == bridge`:
    /// a contract called by a target during its bridge call (a token of a batch the target sends included) would
    /// otherwise read that target's origin.
    function messageOrigin() external view returns (uint32 sourceDomain, bytes32 sender, uint64 nonce) {
        uint256 word = _originWord;
        if (word == 0) revert NoMessageOrigin();
        sender = _originSender;
        return (uint32(word >> 64), sender, uint64(word));
    }

    /// @notice Whether generic calls may target `target`.
    function isAllowedTarget(address target) external view returns (bool) {
        return _allowedTargets[target];
    }

    /// @notice The hash of a queued release (zero when none): keccak256(abi.encode(token, recipient, amount,
    /// readyAt)).
    function pendingRelease(uint32 sourceDomain, uint64 nonce) external view returns (bytes32) {
        return _pendingReleases[_releaseKey(sourceDomain, nonce)];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Token limit word: bits 0..7 kind | 8..15 unitDecimals | 16..47 window | 48..79 lastUpdate |
    /// 80..135 available (units) | 136..191 capacity (units) | 192..255 largeThreshold (units).
    function _packLimit(
        uint256 kind,
        uint256 unitDecimals,
        uint256 window,
        uint256 available,
        uint256 capacityUnits,
        uint256 thresholdUnits
    ) private view returns (uint256) {
        return kind | (unitDecimals << 8) | (window << 16) | (block.timestamp << 48) | (available << 80)
            | (capacityUnits << 136) | (thresholdUnits << 192);
    }

    /// @dev A limit word's bucket refilled to now: returns (available units, new lastUpdate). The bucket gains
    /// capacity / window units per second; lastUpdate advances by the time the whole units credited stand for,
    /// ROUNDED UP (never past now: refill * window <= elapsed * capacity), so no second is credited twice (rounded
    /// down, the same fraction of a second was credited again by every later batch, without limit within one
    /// block) and frequent batches lose less than a second of refill per refill (a full bucket resets it to now).
    function _refill(uint256 limit) private view returns (uint256 available, uint256 last) {
        available = (limit >> 80) & MASK56;
        last = (limit >> 48) & MASK32;
        if (block.timestamp == last) return (available, last);
        uint256 capacity = (limit >> 136) & MASK56;
        uint256 window = (limit >> 16) & MASK32;
        // no overflow (last <= now < 2^32, capacity < 2^56) and no division by zero (window > 0 by configuration;
        // capacity > available + refill >= 0 where it divides): plain EVM arithmetic, without Solidity's checks
        uint256 refill;
        assembly ("memory-safe") {
            refill := div(mul(sub(timestamp(), last), capacity), window)
        }
        if (available + refill >= capacity) return (capacity, block.timestamp);
        assembly ("memory-safe") {
            available := add(available, refill)
            last := add(last, div(add(mul(refill, window), sub(capacity, 1)), capacity))
        }
    }

    /// @dev The key part of a key state word (tag | parity << 1), after checking the key suits the verifier.
    function _keyWord(uint256 x, uint256 y) private pure returns (uint256) {
        if (!FrostSecp256k1.isUsableKey(x, y)) revert InvalidPublicKey(x, y);
        return (uint256(keccak256(abi.encode(x))) & TAG_MASK) | ((y & 1) << 1);
    }

    /// @dev keccak256(GOVERNANCE_TAG | chainid (32) | this (20) | epoch u32 | governanceNonce u64 | action u8 |
    /// params).
    function _governanceDigest(uint32 epoch, uint8 action, bytes memory params) private view returns (bytes32) {
        return keccak256(
            abi.encodePacked(GOVERNANCE_TAG, block.chainid, address(this), epoch, governanceNonce, action, params)
        );
    }

    /// @dev Verify a governance action signed by the current key and consume its nonce.
    function _authenticateGovernance(uint256 st, uint8 action, bytes memory params, Signature calldata signature)
        private
    {
        _authenticateSignature(st & KEY_MASK, _governanceDigest(uint32(st >> 8), action, params), signature);
        ++governanceNonce;
    }

    function _releaseKey(uint32 sourceDomain, uint64 nonce) private pure returns (uint256) {
        return (uint256(sourceDomain) << 64) | nonce;
    }

    /// @dev token.selector(to, amount); true when it did not revert and returned nothing or true.
    function _callToken(address token, bytes4 selector, address to, uint256 amount) private returns (bool ok) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, selector)
            mstore(add(m, 4), to)
            mstore(add(m, 36), amount)
            ok := call(gas(), token, 0, m, 68, 0, 32)
            ok := and(ok, or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1))))
        }
    }

    /// @dev token.selector(from, to, amount) with the same success rule.
    function _callToken3(address token, bytes4 selector, address from, address to, uint256 amount)
        private
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, selector)
            mstore(add(m, 4), from)
            mstore(add(m, 36), to)
            mstore(add(m, 68), amount)
            ok := call(gas(), token, 0, m, 100, 0, 32)
            ok := and(ok, or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1))))
        }
    }

    /// @dev The last call's return data, cut to MAX_RESULT_LENGTH bytes (a target cannot make us copy more).
    function _returnDataPrefix() private pure returns (bytes memory data) {
        uint256 length = MAX_RESULT_LENGTH;
        assembly ("memory-safe") {
            if lt(returndatasize(), length) { length := returndatasize() }
            data := mload(0x40)
            mstore(data, length)
            returndatacopy(add(data, 32), 0, length)
            mstore(0x40, add(add(data, 32), and(add(length, 31), not(31))))
        }
    }
}
