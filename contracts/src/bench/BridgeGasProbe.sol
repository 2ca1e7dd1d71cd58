// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Bridge} from "../Bridge.sol";
import {GasBurner} from "./GasBurner.sol";

/// @title The bridge plus two entry points that isolate the cost of its signature check (benchmarks only)
/// @notice `probeVerify` runs executeBatch's prologue (pause and header checks, key epoch, digest) and the
/// signature check; `probeBaseline` runs the same prologue only. Same calldata, same burned gas: the gasUsed
/// difference is what the FROST check costs inside executeBatch.
contract BridgeGasProbe is Bridge, GasBurner {
    constructor(address admin_, address guardian_, uint128 messageFee_) Bridge(admin_, guardian_, messageFee_) {}

    /// @notice Prologue + signature check of executeBatch, nothing executed.
    function probeVerify(bytes calldata batch, Signature calldata signature, uint256 burn) external view {
        _burnGas(burn);
        (, uint256 keyWord, bytes32 digest) = _openBatch(batch);
        _authenticateSignature(keyWord, digest, signature);
    }

    /// @notice Prologue of executeBatch only.
    function probeBaseline(bytes calldata batch, Signature calldata signature, uint256 burn) external view {
        _burnGas(burn);
        _openBatch(batch);
        signature;
    }
}
