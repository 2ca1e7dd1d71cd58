"""bridge/evm packs batches and computes digests exactly as the contract does; every contract error has a typed,
readable Python exception."""

from __future__ import annotations

import json

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.evm import (
    BATCH_TAG,
    EXECUTE_BATCH_FUNCTION,
    EXECUTE_BATCH_SELECTOR,
    GOVERNANCE_TAG,
    Batch,
    BatchEncodingError,
    ContractCall,
    GovernanceAction,
    MessageOrigin,
    TokenRelease,
    batch_digest,
    compress_point,
    decode_batch,
    decompress_point,
    encode_batch,
    execute_batch_calldata,
    governance_digest,
    key_tag,
    message_origin,
    parse_execute_batch_calldata,
    signature_bytes,
)
from relayers.ethereum import errors
from relayers.ethereum.contracts import ARTIFACTS_DIR
from tests.contracts.conftest import CHAIN_ID, Chain, Committee

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
tokens = st.sampled_from(["0x" + "11" * 20, "0x" + "22" * 20, "0x" + "ab" * 20])
items = st.one_of(
    st.builds(TokenRelease, st.integers(0, 2**64 - 1), tokens, addresses, st.integers(0, 2**128 - 1)),
    st.builds(
        ContractCall,
        st.integers(0, 2**64 - 1),
        addresses,
        st.integers(0, 2**32 - 1),
        st.binary(max_size=80),
        st.none() | st.binary(min_size=32, max_size=32),  # with origin (kind 3) or without (kind 2)
    ),
)
unique_items = st.lists(items, min_size=1, max_size=8, unique_by=lambda i: i.nonce)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), unique_items)
@settings(max_examples=200, deadline=None)
def test_batch_round_trips(epoch: int, domain: int, batch_items: list[TokenRelease | ContractCall]) -> None:
    data = encode_batch(epoch, domain, batch_items)
    assert decode_batch(data) == Batch(epoch, domain, tuple(batch_items))


def test_batch_layout_is_the_documented_one() -> None:
    token, recipient = "0x" + "aa" * 20, "0x" + "bb" * 20
    data = encode_batch(3, 2, [TokenRelease(5, token, recipient, 7), ContractCall(6, "0x" + "cc" * 20, 9, b"\x01")])
    expected = (
        bytes.fromhex("01" "00000003" "00000002" "01") + bytes.fromhex("aa" * 20)
        + bytes.fromhex("01" "0000000000000005" "00") + bytes.fromhex("bb" * 20) + (7).to_bytes(16, "big")
        + bytes.fromhex("02" "0000000000000006") + bytes.fromhex("cc" * 20) + bytes.fromhex("00000009" "00000001" "01")
    )  # fmt: skip
    assert data == expected
    with_origin = encode_batch(3, 2, [ContractCall(6, "0x" + "cc" * 20, 9, b"\x01", b"\x5e" * 32)])
    assert with_origin == (
        bytes.fromhex("01" "00000003" "00000002" "00")
        + bytes.fromhex("03" "0000000000000006") + bytes.fromhex("cc" * 20) + bytes.fromhex("00000009" "00000001")
        + b"\x5e" * 32 + b"\x01"
    )  # fmt: skip
    batch = decode_batch(with_origin)
    assert message_origin(batch, 6) == MessageOrigin(2, b"\x5e" * 32, 6)
    assert message_origin(batch, 7) is None
    assert message_origin(decode_batch(data), 6) is None  # a call without origin


def test_encoding_refuses_bad_input() -> None:
    good = TokenRelease(1, "0x" + "11" * 20, "0x" + "22" * 20, 1)
    with pytest.raises(BatchEncodingError, match="at least one item"):
        encode_batch(1, 2, [])
    with pytest.raises(BatchEncodingError, match="repeat a nonce"):
        encode_batch(1, 2, [good, good])
    with pytest.raises(BatchEncodingError, match="amount"):
        encode_batch(1, 2, [TokenRelease(1, good.token, good.recipient, 2**128)])
    with pytest.raises(BatchEncodingError, match="recipient"):
        encode_batch(1, 2, [TokenRelease(1, good.token, "0x1234", 1)])
    with pytest.raises(BatchEncodingError, match="unknown item kind"):
        decode_batch(encode_batch(1, 2, [good])[:-46] + b"\x09" * 46)


def test_points_and_key_tag() -> None:
    committee = Committee.new()
    x, y = decompress_point(committee.group_pk)
    assert compress_point(x, y) == committee.group_pk
    assert key_tag(committee.group_pk) == keccak(x.to_bytes(32, "big"))[:24]
    with pytest.raises(BatchEncodingError):
        compress_point(x, y + 1)
    with pytest.raises(BatchEncodingError):
        decompress_point(b"\x04" + bytes(32))


def test_tags_match_the_contract_sources() -> None:
    assert keccak(b"phala-bridge/evm/batch/v1") == BATCH_TAG
    assert keccak(b"phala-bridge/evm/governance/v1") == GOVERNANCE_TAG


def test_digests_match_the_contract(chain: Chain) -> None:
    batch = encode_batch(
        1,
        2,
        [
            TokenRelease(1, chain.deployment.pha_token, chain.accounts[2], 10**18),
            ContractCall(2, chain.deployment.call_recorder, 50_000, b"\x12\x34"),
        ],
    )
    assert chain.bridge.functions.batchDigest(batch).call() == batch_digest(CHAIN_ID, chain.deployment.bridge, batch)
    params = b"\x07" * 68
    for action in GovernanceAction:
        on_chain = chain.bridge.functions.governanceDigest(int(action), params).call()
        assert on_chain == governance_digest(CHAIN_ID, chain.deployment.bridge, 1, 0, action, params)


def test_execute_batch_calldata_is_what_the_contract_reads(chain: Chain) -> None:
    from relayers.ethereum.contracts import send_data

    abi = json.loads((ARTIFACTS_DIR / "Bridge.json").read_text())["abi"]
    entries = [(e["name"], e["inputs"]) for e in abi if e.get("name", "").startswith("executeBatch")]
    assert entries == [(EXECUTE_BATCH_FUNCTION, [])]  # packed calldata, no ABI arguments
    assert keccak(f"{EXECUTE_BATCH_FUNCTION}()".encode())[:4] == EXECUTE_BATCH_SELECTOR
    assert EXECUTE_BATCH_SELECTOR[:2] == b"\x00\x00"
    batch = chain.encode([TokenRelease(5, chain.deployment.pha_token, chain.accounts[2], 10**18)])
    sig = chain.sign_batch(batch)
    data = execute_batch_calldata(batch, sig)
    assert data == EXECUTE_BATCH_SELECTOR + signature_bytes(sig) + batch
    assert parse_execute_batch_calldata(data) == (batch, sig)
    assert parse_execute_batch_calldata(b"\x12\x34\x56\x78" + data[4:]) is None
    assert parse_execute_batch_calldata(data[:141]) is None
    # cut inside the signature or the batch header: MalformedBatch(0), nothing executed
    for cut in (4, 68, 131, 132, 141):
        with pytest.raises(errors.MalformedBatch, match="at byte 0 "):
            send_data(chain.w3, chain.deployment.bridge, data[:cut], chain.accounts[3])
    # one byte more or less of batch changes the digest: the signature no longer verifies
    with pytest.raises(errors.InvalidSignature):
        send_data(chain.w3, chain.deployment.bridge, data + b"\x00", chain.accounts[3])
    assert not chain.bridge.functions.isNonceUsed(2, 5).call()
    assert send_data(chain.w3, chain.deployment.bridge, data, chain.accounts[3])["status"] == 1
    assert chain.bridge.functions.isNonceUsed(2, 5).call()


def test_signature_bytes_layout() -> None:
    assert signature_bytes((1, 2, (3).to_bytes(32, "big"), 4)) == b"".join(i.to_bytes(32, "big") for i in (1, 2, 3, 4))


# ---- errors -----------------------------------------------------------------------------------------------------


def _abi_errors() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        for entry in json.loads(path.read_text()).get("abi", []):
            if entry["type"] == "error":
                signature = entry["name"] + "(" + ",".join(i["type"] for i in entry["inputs"]) + ")"
                found[signature] = tuple(i["name"] for i in entry["inputs"])
    return found


def test_every_contract_error_has_a_typed_exception() -> None:
    by_signature = {cls.signature: cls for cls in errors.error_classes()}
    for signature, names in _abi_errors().items():
        assert signature in by_signature, f"no Python exception for {signature}"
        assert by_signature[signature].fields == names, signature
    extra = set(by_signature) - set(_abi_errors()) - {"Error(string)", "Panic(uint256)"}
    assert not extra, f"Python exceptions without a contract error: {extra}"


def test_every_exception_is_exported_and_formats() -> None:
    for cls in errors.error_classes():
        assert cls.__name__ in errors.__all__
        values = [
            "0x" + "12" * 20 if t == "address" else (b"" if t.startswith("bytes") else 1) for t in cls.abi_types()
        ]
        message = str(cls(*values))
        assert message.startswith(cls.signature.split("(")[0] + ": ") and "{" not in message


def test_decode_error_round_trip_and_fallbacks() -> None:
    from eth_abi.abi import encode

    data = errors.NonceAlreadyUsed.selector() + encode(["uint32", "uint64"], [2, 17])
    err = errors.decode_error(data)
    assert isinstance(err, errors.NonceAlreadyUsed) and isinstance(err, errors.BatchError)
    assert err.values == {"sourceDomain": 2, "nonce": 17} and err.data == data and not err.retryable
    assert isinstance(errors.decode_error("0x" + data.hex()), errors.NonceAlreadyUsed)
    unknown = errors.decode_error(b"\xde\xad\xbe\xef")
    assert isinstance(unknown, errors.UnknownRevert) and "0xdeadbeef" in str(unknown)
    assert isinstance(errors.decode_error(b""), errors.UnknownRevert)
    reason = errors.decode_error(bytes.fromhex("08c379a0") + encode(["string"], ["boom"]))
    assert isinstance(reason, errors.RevertedWithReason) and str(reason) == "Error: boom"
    truncated = errors.NonceAlreadyUsed.selector() + b"\x00"
    assert isinstance(errors.decode_error(truncated), errors.UnknownRevert)


# ---- the web3 seam --------------------------------------------------------------------------------------------


def test_call_and_send_raise_typed_errors_and_sign_locally(chain: Chain) -> None:
    from eth_account import Account

    from relayers.ethereum.contracts import call, send, send_data

    batch = encode_batch(1, 2, [TokenRelease(1, chain.deployment.pha_token, chain.accounts[2], 1)])
    assert call(chain.bridge.functions.batchDigest(batch)) == batch_digest(CHAIN_ID, chain.deployment.bridge, batch)
    bad = chain.committee.sign(b"\x00" * 32)
    with pytest.raises(errors.InvalidSignature):
        call(chain.bridge.functions.pauseWithSignature(bad), sender=chain.accounts[3])
    with pytest.raises(errors.InvalidSignature):
        send_data(chain.w3, chain.deployment.bridge, execute_batch_calldata(batch, bad), chain.accounts[3])
    # a local key (anvil's dev account 4): signed here, sent raw
    local = Account.from_key("0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a")
    assert local.address == chain.accounts[4]
    receipt = send(chain.w3, chain.pha.functions.transfer(chain.accounts[5], 7), local)
    assert receipt["status"] == 1
    with pytest.raises(errors.InsufficientBalance, match="holds"):
        send(chain.w3, chain.pha.functions.transfer(chain.accounts[5], 10**30), local)
    with pytest.raises(errors.InvalidSignature):
        send_data(chain.w3, chain.deployment.bridge, execute_batch_calldata(batch, bad), local)
    good = chain.sign_batch(batch)
    receipt = send_data(chain.w3, chain.deployment.bridge, execute_batch_calldata(batch, good), local)
    assert receipt["status"] == 1 and chain.bridge.functions.isNonceUsed(2, 1).call()
