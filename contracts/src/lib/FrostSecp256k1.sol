// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title FROST(secp256k1, SHA-256) signature verification, exactly as RFC 9591 defines it
/// @notice A signature (R, z) on `message` under group key PK is valid when z*G == R + c*PK, with the challenge
/// c = H2(SerializeElement(R) || SerializeElement(PK) || message) (RFC 9591 sections 5.3 and 6.5): H2 is
/// hash_to_field (RFC 9380 section 5.2) over expand_message_xmd(SHA-256) with DST "FROST-secp256k1-SHA256-v1chal"
/// and L = 48, reduced mod the group order; SerializeElement is the 33-byte compressed SEC1 encoding.
/// @dev The group equation is checked with the ecrecover precompile: with r = PK.x, v = 27 + parity(PK.y),
/// s = -c * PK.x and hash = -z * PK.x (mod n), ecrecover returns the address of PK.x^-1 * (s*PK - hash*G) =
/// z*G - c*PK, which must equal the address of R (keccak256(R.x || R.y)). R comes uncompressed and is checked to be
/// on the curve (which also excludes the identity). Requirements on the key (checked when it is registered):
/// PK on the curve, 0 < PK.x < n. Costs about 4k gas: three SHA-256 precompile calls, one ecrecover, one keccak.
library FrostSecp256k1 {
    /// @dev secp256k1 field prime p and group order n.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @dev DST_prime of expand_message_xmd: "FROST-secp256k1-SHA256-v1chal" (29 bytes) || I2OSP(29, 1),
    /// left-aligned in one word (30 bytes used).
    bytes32 internal constant DST_PRIME = "FROST-secp256k1-SHA256-v1chal\x1d";

    /// @notice Whether (x, y) is an affine point of secp256k1 (y^2 = x^3 + 7 mod p, both coordinates reduced).
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
    }

    /// @notice Whether (x, y) can serve as a group key for `verify`: on the curve and 0 < x < n.
    function isUsableKey(uint256 x, uint256 y) internal pure returns (bool) {
        return x != 0 && x < N && isOnCurve(x, y);
    }

    /// @notice The RFC 9591 challenge c = H2(R || PK || message) for FROST(secp256k1, SHA-256).
    /// @param rx R.x  @param ry R.y (only its parity is used)  @param pkX PK.x  @param pkParity PK.y mod 2
    function challenge(uint256 rx, uint256 ry, uint256 pkX, uint256 pkParity, bytes32 message)
        internal
        view
        returns (uint256 c)
    {
        assembly ("memory-safe") {
            // msg_prime = Z_pad(64) || R(33) || PK(33) || message(32) || I2OSP(48, 2) || I2OSP(0, 1) || DST_prime(30)
            // = 195 bytes, built in free memory (scratch: the free memory pointer is not moved).
            let m := mload(0x40)
            mstore(m, 0)
            mstore(add(m, 32), 0)
            mstore(add(m, 65), rx)
            mstore8(add(m, 64), add(2, and(ry, 1)))
            mstore(add(m, 98), pkX)
            mstore8(add(m, 97), add(2, pkParity))
            mstore(add(m, 130), message)
            mstore(add(m, 165), DST_PRIME)
            mstore8(add(m, 162), 0)
            mstore8(add(m, 163), 48)
            mstore8(add(m, 164), 0)
            let ok := staticcall(gas(), 2, m, 195, m, 32)
            let b0 := mload(m)
            // b_1 = H(b_0 || I2OSP(1, 1) || DST_prime)
            mstore8(add(m, 32), 1)
            mstore(add(m, 33), DST_PRIME)
            ok := and(ok, staticcall(gas(), 2, m, 63, m, 32))
            let b1 := mload(m)
            // b_2 = H(strxor(b_0, b_1) || I2OSP(2, 1) || DST_prime)
            mstore(m, xor(b0, b1))
            mstore8(add(m, 32), 2)
            ok := and(ok, staticcall(gas(), 2, m, 63, m, 32))
            if iszero(ok) { revert(0, 0) } // only on out-of-gas
            // uniform_bytes = (b_1 || b_2)[0:48]; OS2IP(uniform_bytes) mod n = (b_1 * 2^128 + b_2 >> 128) mod n
            c := addmod(mulmod(b1, shl(128, 1), N), shr(128, mload(m)), N)
        }
    }

    /// @notice The same challenge for a message of any length (the bridge signs 32-byte digests and uses
    /// `challenge`; this general form exists so the RFC 9591 test vectors, whose message is 4 bytes, can be
    /// checked on chain).
    function challengeBytes(uint256 rx, uint256 ry, uint256 pkX, uint256 pkParity, bytes memory message)
        internal
        view
        returns (uint256 c)
    {
        assembly ("memory-safe") {
            let len := mload(message)
            let m := mload(0x40)
            mstore(m, 0)
            mstore(add(m, 32), 0)
            mstore(add(m, 65), rx)
            mstore8(add(m, 64), add(2, and(ry, 1)))
            mstore(add(m, 98), pkX)
            mstore8(add(m, 97), add(2, pkParity))
            mcopy(add(m, 130), add(message, 32), len)
            let tail := add(add(m, 130), len)
            mstore(add(tail, 3), DST_PRIME)
            mstore8(tail, 0)
            mstore8(add(tail, 1), 48)
            mstore8(add(tail, 2), 0)
            let ok := staticcall(gas(), 2, m, add(163, len), m, 32)
            let b0 := mload(m)
            mstore8(add(m, 32), 1)
            mstore(add(m, 33), DST_PRIME)
            ok := and(ok, staticcall(gas(), 2, m, 63, m, 32))
            let b1 := mload(m)
            mstore(m, xor(b0, b1))
            mstore8(add(m, 32), 2)
            ok := and(ok, staticcall(gas(), 2, m, 63, m, 32))
            if iszero(ok) { revert(0, 0) }
            c := addmod(mulmod(b1, shl(128, 1), N), shr(128, mload(m)), N)
        }
    }

    /// @notice Verify a FROST(secp256k1, SHA-256) signature (R, z) on a 32-byte message.
    /// @param message the signed message (here always a 32-byte domain-separated digest)
    /// @param pkX group key x (must satisfy `isUsableKey`)  @param pkParity group key y mod 2 (0 or 1)
    /// @param rx R.x  @param ry R.y  @param z the response scalar
    /// @return ok true when z*G == R + c*PK
    function verify(bytes32 message, uint256 pkX, uint256 pkParity, uint256 rx, uint256 ry, uint256 z)
        internal
        view
        returns (bool ok)
    {
        if (z >= N || pkParity > 1 || !isOnCurve(rx, ry)) return false;
        return checkEquation(challenge(rx, ry, pkX, pkParity, message), pkX, pkParity, rx, ry, z);
    }

    /// @notice `verify` for a message of any length.
    function verifyBytes(bytes memory message, uint256 pkX, uint256 pkParity, uint256 rx, uint256 ry, uint256 z)
        internal
        view
        returns (bool ok)
    {
        if (z >= N || pkParity > 1 || !isOnCurve(rx, ry)) return false;
        return checkEquation(challengeBytes(rx, ry, pkX, pkParity, message), pkX, pkParity, rx, ry, z);
    }

    /// @notice The group equation z*G - c*PK == R, checked with ecrecover (R on the curve, z < n: see `verify`).
    function checkEquation(uint256 c, uint256 pkX, uint256 pkParity, uint256 rx, uint256 ry, uint256 z)
        internal
        view
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, rx)
            mstore(add(m, 32), ry)
            let rAddress := and(keccak256(m, 64), 0xffffffffffffffffffffffffffffffffffffffff)
            // ecrecover(hash = -z*PK.x, v = 27 + parity, r = PK.x, s = -c*PK.x) = address(z*G - c*PK)
            mstore(m, mulmod(sub(N, z), pkX, N))
            mstore(add(m, 32), add(27, pkParity))
            mstore(add(m, 64), pkX)
            mstore(add(m, 96), mulmod(sub(N, c), pkX, N))
            let success := staticcall(gas(), 1, m, 128, m, 32)
            // ecrecover returns no data when it fails: check the size, or mload(m) would read our own input
            ok := and(and(success, eq(returndatasize(), 32)), eq(mload(m), rAddress))
        }
    }
}
