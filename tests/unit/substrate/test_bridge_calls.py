"""Hand-built SCALE for the bridge's calls, signing payload and signed extrinsic, against vectors that
substrate-interface produced from the devnet runtime's metadata (spec 900, tx version 6), and strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayers.substrate.bridge_calls import (
    BatchCall,
    CallIndices,
    Remark,
    Transfer,
    encode_batch,
    encode_calls,
    parse_batch,
    parse_deposit,
)
from relayers.substrate.payload import (
    RuntimeFacts,
    SignedExtension,
    UnsupportedExtension,
    signed_extrinsic,
    signing_payload,
)
from relayers.substrate.scale import Reader, ScaleError, blake2_256, compact, signed_extrinsic_signer

INDICES = CallIndices(batch_all=(40, 2), transfer_keep_alive=(10, 3), remark_with_event=(0, 8))
EXTENSIONS = (
    SignedExtension("CheckNonZeroSender", True, True),
    SignedExtension("CheckSpecVersion", True, False),
    SignedExtension("CheckTxVersion", True, False),
    SignedExtension("CheckGenesis", True, False),
    SignedExtension("CheckMortality", False, False),
    SignedExtension("CheckNonce", False, True),
    SignedExtension("CheckWeight", True, True),
    SignedExtension("ChargeAssetTxPayment", False, True),
)
FACTS = RuntimeFacts(b"E" * 32, 900, 6, INDICES, EXTENSIONS)

# From substrate-interface on the devnet (compose_call / generate_signature_payload / create_signed_extrinsic).
TRANSFERS = [Transfer(bytes(range(32)), 10**12), Transfer(b"\xaa" * 32, 3333333)]
REMARK = b"PHBX\x01\x00\x02" + b"\x01" * 32 + b"\x02" * 32
CALL = bytes.fromhex(
    "28020c0a0300000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f070010a5d4e80a0300"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5673cb0000081d0150484258010002"
    + "01" * 32
    + "02" * 32
)
PAYLOAD_NONCE_7 = CALL + bytes.fromhex("001c0000" + "84030000" + "06000000") + b"E" * 64
SHORT_CALL = bytes.fromhex("2802080a0300" + "05" * 32 + "04" + "0008" + "0478")
SIGNED = (
    bytes.fromhex("150484003b59e69cdf5cbb8a55863e02b952b337a1f8a63d90d4c5a08941e71b23f5958c00" + "99" * 64 + "001c0000")
    + CALL
)
SIGNER = bytes.fromhex("3b59e69cdf5cbb8a55863e02b952b337a1f8a63d90d4c5a08941e71b23f5958c")


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (1, "04"), (63, "fc"), (64, "0101"), (16383, "fdff"), (16384, "02000100"), (2**30, "0300000040")],
)
def test_compact_vectors(value: int, encoded: str) -> None:
    assert compact(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).compact() == value


@given(st.integers(0, 2**128 - 1))
def test_compact_round_trip(value: int) -> None:
    reader = Reader(compact(value))
    assert reader.compact() == value
    reader.end()


@pytest.mark.parametrize("data", ["0100", "02000000", "0300000000", "07ffffffff00"])
def test_non_canonical_compacts_are_refused(data: str) -> None:
    with pytest.raises(ScaleError, match="non-canonical"):
        Reader(bytes.fromhex(data)).compact()


def test_batch_call_matches_substrate_interface() -> None:
    assert encode_batch(INDICES, TRANSFERS, REMARK) == CALL
    assert encode_batch(INDICES, [Transfer(b"\x05" * 32, 1)], b"x") == SHORT_CALL


def test_signing_payload_matches_substrate_interface() -> None:
    assert signing_payload(FACTS, CALL, 7) == PAYLOAD_NONCE_7


def test_long_payloads_are_signed_as_their_blake2_hash() -> None:
    many = [Transfer(bytes([i]) * 32, 10**12 + i) for i in range(10)]
    call = encode_batch(INDICES, many, REMARK)
    raw = call + bytes.fromhex("00" + "00" + "0000" + "84030000" + "06000000") + b"E" * 64
    assert len(raw) > 256
    assert signing_payload(FACTS, call, 0) == blake2_256(raw)


def test_signed_extrinsic_matches_substrate_interface() -> None:
    assert signed_extrinsic(FACTS, CALL, 7, SIGNER, b"\x99" * 64) == SIGNED
    assert signed_extrinsic_signer(SIGNED) == SIGNER


def test_signer_prefix_ignores_unsigned_and_other_addresses() -> None:
    assert signed_extrinsic_signer(compact(3) + b"\x04\x00\x00") is None  # unsigned v4
    assert signed_extrinsic_signer(SIGNED[:3] + b"\x01" + SIGNED[4:]) is None  # MultiAddress::Index
    assert signed_extrinsic_signer(b"") is None


def test_unknown_extensions_with_data_are_refused_and_empty_ones_ignored() -> None:
    quiet = RuntimeFacts(
        FACTS.genesis_hash, 900, 6, INDICES, (*EXTENSIONS, SignedExtension("CheckMqSequence", True, True))
    )
    assert signing_payload(quiet, CALL, 7) == PAYLOAD_NONCE_7
    for ext in (SignedExtension("Mystery", False, True), SignedExtension("Mystery", True, False)):
        facts = RuntimeFacts(FACTS.genesis_hash, 900, 6, INDICES, (*EXTENSIONS, ext))
        with pytest.raises(UnsupportedExtension, match="Mystery"):
            signing_payload(facts, CALL, 7)


transfers = st.lists(
    st.builds(Transfer, st.binary(min_size=32, max_size=32), st.integers(0, 2**128 - 1)), min_size=0, max_size=8
)


@given(transfers, st.binary(max_size=300))
def test_batches_parse_back(items: list[Transfer], remark: bytes) -> None:
    batch = parse_batch(INDICES, encode_batch(INDICES, items, remark))
    assert batch is not None
    assert batch.transfers == tuple(items) and batch.remark == remark


calls = st.lists(
    st.one_of(
        st.builds(Transfer, st.binary(min_size=32, max_size=32), st.integers(0, 2**128 - 1)),
        st.builds(Remark, st.binary(max_size=100)),
    ),
    max_size=8,
)


@given(calls, st.binary(max_size=100))
def test_gateway_batches_with_remarks_between_transfers_parse_back(items: list[BatchCall], last: bytes) -> None:
    batch = parse_batch(INDICES, encode_calls(INDICES, [*items, Remark(last)]))
    assert batch is not None and batch.calls == (*items, Remark(last)) and batch.remark == last
    assert batch.transfers == tuple(c for c in items if isinstance(c, Transfer))
    remarks_first = encode_calls(INDICES, [Remark(b"x"), Transfer(b"\x05" * 32, 1)])
    assert parse_batch(INDICES, remarks_first) is None  # a bridge batch ends with a remark
    assert (
        parse_deposit(INDICES, encode_calls(INDICES, [Transfer(b"\x05" * 32, 1), Remark(b"a"), Remark(b"b")])) is None
    )


def test_the_vector_parses_as_a_batch_and_not_as_a_deposit() -> None:
    batch = parse_batch(INDICES, CALL)
    assert batch is not None and batch.transfers == tuple(TRANSFERS) and batch.remark == REMARK
    assert parse_deposit(INDICES, CALL) is None  # two transfers
    deposit = parse_deposit(INDICES, SHORT_CALL)
    assert deposit is not None and deposit.transfers == (Transfer(b"\x05" * 32, 1),)


@pytest.mark.parametrize(
    "call",
    [
        CALL + b"\x00",  # trailing
        CALL[:-1],  # truncated
        bytes([40, 0]) + CALL[2:],  # Utility.batch, not batch_all
        CALL[:3] + bytes([10, 0]) + CALL[5:],  # Balances.transfer, not transfer_keep_alive
        CALL[:5] + b"\x01" + CALL[6:],  # MultiAddress::Index
        CALL[:2] + b"\x00" + CALL[3:],  # zero calls
        SHORT_CALL[:-3] + bytes([0, 1]) + SHORT_CALL[-2:],  # System.remark, not remark_with_event
        SHORT_CALL[:2] + b"\x04" + SHORT_CALL[3:],  # one call: a transfer and no remark
    ],
)
def test_other_shapes_are_not_bridge_batches(call: bytes) -> None:
    assert parse_batch(INDICES, call) is None


@given(st.binary(max_size=200))
def test_parsing_arbitrary_bytes_never_raises(data: bytes) -> None:
    parse_batch(INDICES, data)
    parse_deposit(INDICES, bytes(INDICES.batch_all) + data)


@pytest.mark.parametrize(
    ("genesis", "spec", "tx", "match"),
    [
        (b"E" * 32, 2**32, 6, "spec version is a u32"),
        (b"E" * 32, -1, 6, "spec version is a u32"),
        (b"E" * 32, 900, 2**32, "transaction version is a u32"),
        (b"E" * 32, 900, -1, "transaction version is a u32"),
        (b"E" * 32, True, 6, "spec version is a u32"),
        (b"E" * 5, 900, 6, "genesis hash is 32 bytes"),
        ("E" * 32, 900, 6, "genesis hash is 32 bytes"),
    ],
)
def test_runtime_facts_refuse_what_cannot_be_signed(genesis: bytes, spec: int, tx: int, match: str) -> None:
    from bridge.errors import InputError

    with pytest.raises(InputError, match=match):
        RuntimeFacts(genesis, spec, tx, INDICES, EXTENSIONS)
    assert signing_payload(RuntimeFacts(b"E" * 32, 2**32 - 1, 0, INDICES, EXTENSIONS), CALL, 7)


@pytest.mark.parametrize(
    ("version", "genesis"),
    [
        ({"specVersion": 2**32, "transactionVersion": 6}, "0x" + "45" * 32),
        ({"specVersion": 900, "transactionVersion": -1}, "0x" + "45" * 32),
        ({"specVersion": 900, "transactionVersion": 6}, "0x" + "45" * 5),
        ({"specVersion": 900, "transactionVersion": 6}, "0xnothex"),
        ({"specVersion": "x"}, "0x" + "45" * 32),
        (None, "0x" + "45" * 32),
    ],
)
def test_a_node_reporting_bad_runtime_facts_is_an_unsupported_runtime(
    version: object, genesis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from relayers.substrate import chain
    from relayers.substrate.errors import UnsupportedRuntime

    monkeypatch.setattr(chain, "_call_index", lambda si, pallet, call: (0, 0))
    monkeypatch.setattr(chain, "_extensions", lambda si: EXTENSIONS)
    replies = {"state_getRuntimeVersion": version, "chain_getBlockHash": genesis}
    client = SimpleNamespace(
        rpc=lambda method, params: replies[method], use_runtime=lambda block_hash: None, interface=None
    )
    reader = chain.ChainReader(client)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedRuntime, match="runtime at 0xhead"):
        reader.runtime_facts("0xhead")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"Module": {"index": 5, "error": "0x"}}, "{'index': 5, 'error': '0x'}"),
        ({"Module": [5, 1]}, "[5, 1]"),
        ({"Module": {"index": 5, "error": "0xzz"}}, "{'index': 5, 'error': '0xzz'}"),
        ({"Module": {"index": 256, "error": 1}}, "{'index': 256, 'error': 1}"),
        ({"Module": {"index": True, "error": 1}}, "{'index': True, 'error': 1}"),
        ({"Module": {"error": "0x01000000"}}, "{'error': '0x01000000'}"),
        (
            {"Module": {"index": 5, "error": "0xzz" + "ff" * 500}},
            ("{'index': 5, 'error': '0xzz" + "f" * 999)[:200] + "...",
        ),
    ],
)
def test_dispatch_errors_of_unknown_shape_are_reported_not_raised(value: object, error: str) -> None:
    from relayers.substrate.events import DispatchFailure, decode_dispatch_error

    def lookup(pallet: int, err: int) -> tuple[str, str, str]:
        raise AssertionError("no lookup for a shape that is not a module error")

    assert decode_dispatch_error(value, lookup) == DispatchFailure(kind="Module", pallet=None, error=error)


def test_module_errors_of_every_encoding_are_named() -> None:
    from relayers.substrate.events import decode_dispatch_error

    seen: list[tuple[int, int]] = []

    def lookup(pallet: int, err: int) -> tuple[str, str, str]:
        seen.append((pallet, err))
        return "Balances", "InsufficientBalance", "docs"

    for raw in (2, "0x02000000", b"\x02\x00\x00\x00", [2, 0, 0, 0]):
        failure = decode_dispatch_error({"Module": {"index": 10, "error": raw}}, lookup)
        assert str(failure) == "Balances.InsufficientBalance (docs)"
    assert seen == [(10, 2)] * 4
    assert str(decode_dispatch_error("BadOrigin", lookup)) == "BadOrigin"
    assert str(decode_dispatch_error({"Token": "FundsUnavailable"}, lookup)) == "Token: FundsUnavailable"
    assert decode_dispatch_error(["odd"], lookup).kind == "Unknown"
