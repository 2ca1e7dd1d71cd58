// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {GasBurner} from "./GasBurner.sol";

/// @title Reference for the gas benchmark: a t-of-n ECDSA multisig check (13 of 19), as multisig bridges do it
/// @notice t signatures (r, s, v: 65 bytes each) over a digest, signers strictly ascending (no duplicates), each
/// recovered with ecrecover and looked up in a signer set; s in the lower half of the order (no malleability).
contract EcdsaMultisigReference is GasBurner {
    error BadSignatureCount(uint256 length);
    error BadSignature(uint256 index);

    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice Signatures needed.
    uint256 public immutable threshold;
    /// @notice The signer set.
    mapping(address signer => bool) public isSigner;

    constructor(address[] memory signers, uint256 threshold_) {
        threshold = threshold_;
        for (uint256 i = 0; i < signers.length; ++i) {
            isSigner[signers[i]] = true;
        }
    }

    /// @notice Check `threshold` signatures on `digest`; reverts when one is wrong.
    function verify(bytes32 digest, bytes calldata signatures, uint256 burn) external view {
        _burnGas(burn);
        check(digest, signatures);
    }

    /// @notice Same calldata and burn, no check.
    function baseline(bytes32 digest, bytes calldata signatures, uint256 burn) external pure {
        _burnGas(burn);
        digest;
        signatures;
    }

    /// @notice The check itself.
    function check(bytes32 digest, bytes calldata signatures) public view {
        if (signatures.length != threshold * 65) revert BadSignatureCount(signatures.length);
        address last = address(0);
        for (uint256 i = 0; i < threshold; ++i) {
            bytes32 r = bytes32(signatures[i * 65:i * 65 + 32]);
            bytes32 s = bytes32(signatures[i * 65 + 32:i * 65 + 64]);
            uint8 v = uint8(signatures[i * 65 + 64]);
            if (uint256(s) > HALF_N) revert BadSignature(i);
            address signer = ecrecover(digest, v, r, s);
            if (signer <= last || !isSigner[signer]) revert BadSignature(i);
            last = signer;
        }
    }
}
