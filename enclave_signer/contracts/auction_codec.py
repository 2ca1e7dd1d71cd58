"""The sealed-bid auction's inputs, events, queries and answers (pure; the caller SDK and tests use it too).

Inputs (encrypted; every input is padded with zeros to INPUT_SIZE bytes, so its length does not say what it is):

    open   = 0x01 | close block u64
    bid    = 0x02 | auction id (32) | amount u128
    close  = 0x03 | auction id (32)
    grant  = 0x04 | auction id (32; 0 = every auction) | querier (kind u8 | len u8 | identity)
    revoke = 0x05 | auction id (32) | querier

Events (sealed; every event is padded with zeros to EVENT_SIZE bytes, so a chain observer cannot tell a bid from an
opening, a grant or a settlement by its length):

    opened  = 0x01 | auction id (32) | seller (20) | close block u64
    bid     = 0x02 | auction id (32) | bidder (20) | amount u128 | order u64
    settled = 0x03 | auction id (32) | winner (20) | price u128
    granted = 0x04 | holder (20) | auction id (32) | querier
    revoked = 0x05 | holder (20) | auction id (32) | querier

Queries / answers:

    bid of  = 0x01 | auction id (32) | bidder (20)   -> has bid u8 (0 or 1) | amount u128 (0 when no bid)
    result  = 0x02 | auction id (32)                 -> status u8 (0 unknown, 1 open, 2 settled) | close block u64 |
                                                        winner (20) | price u128
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.confidential import ConfidentialError, Querier, Reader

__all__ = [
    "EVENT_SIZE",
    "INPUT_SIZE",
    "AuctionEvent",
    "AuctionInput",
    "AuctionQuery",
    "AuctionResult",
    "BidOf",
    "BidPlaced",
    "Close",
    "Grant",
    "Granted",
    "Open",
    "Opened",
    "PlaceBid",
    "ResultOf",
    "Revoke",
    "Revoked",
    "Settled",
    "decode_bid_answer",
    "decode_event",
    "decode_input",
    "decode_query",
    "decode_result_answer",
    "encode_bid_answer",
    "encode_event",
    "encode_input",
    "encode_query",
    "encode_result_answer",
]

INPUT_SIZE = 72
EVENT_SIZE = 88  # the longest event: a grant to an Ed25519 querier, 87 bytes
_U64 = 2**64 - 1
_U128 = 2**128 - 1
_U256 = 2**256 - 1


def _int(value: int, maximum: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ConfidentialError(f"auction: {name} out of range")
    return value


def _addr(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 20:
        raise ConfidentialError(f"auction: {name} must be 20 bytes")
    return value


def _u(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


@dataclass(frozen=True)
class Open:
    close_block: int


@dataclass(frozen=True)
class PlaceBid:
    auction_id: int
    amount: int = field(repr=False)


@dataclass(frozen=True)
class Close:
    auction_id: int


@dataclass(frozen=True)
class Grant:
    auction_id: int  # 0: every auction of the holder
    querier: Querier


@dataclass(frozen=True)
class Revoke:
    auction_id: int
    querier: Querier


AuctionInput = Open | PlaceBid | Close | Grant | Revoke


def encode_input(op: AuctionInput) -> bytes:
    if isinstance(op, Open):
        body = b"\x01" + _u(_int(op.close_block, _U64, "close block"), 8)
    elif isinstance(op, PlaceBid):
        body = b"\x02" + _u(_int(op.auction_id, _U256, "auction id"), 32) + _u(_int(op.amount, _U128, "amount"), 16)
    elif isinstance(op, Close):
        body = b"\x03" + _u(_int(op.auction_id, _U256, "auction id"), 32)
    else:
        tag = b"\x04" if isinstance(op, Grant) else b"\x05"
        body = tag + _u(_int(op.auction_id, _U256, "auction id"), 32) + op.querier.encode()
    return body + bytes(INPUT_SIZE - len(body))


def decode_input(data: bytes) -> AuctionInput:
    if len(data) != INPUT_SIZE:
        raise ConfidentialError(f"auction: an input is {INPUT_SIZE} bytes")
    r = Reader(data, "auction input")
    tag = r.uint(1, "operation")
    op: AuctionInput
    if tag == 1:
        op = Open(r.uint(8, "close block"))
    elif tag == 2:
        op = PlaceBid(r.uint(32, "auction id"), r.uint(16, "amount"))
    elif tag == 3:
        op = Close(r.uint(32, "auction id"))
    elif tag in (4, 5):
        auction_id = r.uint(32, "auction id")
        querier = Querier.read(r)
        op = Grant(auction_id, querier) if tag == 4 else Revoke(auction_id, querier)
    else:
        raise ConfidentialError(f"auction: unknown operation {tag}")
    if any(r.rest()):
        raise ConfidentialError("auction: the padding is not zero")
    return op


@dataclass(frozen=True)
class Opened:
    auction_id: int
    seller: bytes
    close_block: int


@dataclass(frozen=True)
class BidPlaced:
    auction_id: int
    bidder: bytes
    amount: int = field(repr=False)
    order: int = 0  # the call's source nonce: lower is earlier


@dataclass(frozen=True)
class Settled:
    auction_id: int
    winner: bytes  # zero address: no bid
    price: int


@dataclass(frozen=True)
class Granted:
    holder: bytes
    auction_id: int
    querier: Querier


@dataclass(frozen=True)
class Revoked:
    holder: bytes
    auction_id: int
    querier: Querier


AuctionEvent = Opened | BidPlaced | Settled | Granted | Revoked


def encode_event(e: AuctionEvent) -> bytes:
    if isinstance(e, Opened):
        body = b"\x01" + _u(e.auction_id, 32) + _addr(e.seller, "seller") + _u(e.close_block, 8)
    elif isinstance(e, BidPlaced):
        body = b"\x02" + _u(e.auction_id, 32) + _addr(e.bidder, "bidder") + _u(e.amount, 16) + _u(e.order, 8)
    elif isinstance(e, Settled):
        body = b"\x03" + _u(e.auction_id, 32) + _addr(e.winner, "winner") + _u(e.price, 16)
    else:
        tag = b"\x04" if isinstance(e, Granted) else b"\x05"
        body = tag + _addr(e.holder, "holder") + _u(e.auction_id, 32) + e.querier.encode()
    return body + bytes(EVENT_SIZE - len(body))


def decode_event(data: bytes) -> AuctionEvent:
    if len(data) != EVENT_SIZE:
        raise ConfidentialError(f"auction: an event is {EVENT_SIZE} bytes")
    r = Reader(data, "auction event")
    tag = r.uint(1, "event")
    e: AuctionEvent
    if tag == 1:
        e = Opened(r.uint(32, "auction id"), r.take(20, "seller"), r.uint(8, "close block"))
    elif tag == 2:
        e = BidPlaced(r.uint(32, "auction id"), r.take(20, "bidder"), r.uint(16, "amount"), r.uint(8, "order"))
    elif tag == 3:
        e = Settled(r.uint(32, "auction id"), r.take(20, "winner"), r.uint(16, "price"))
    elif tag in (4, 5):
        holder, auction_id = r.take(20, "holder"), r.uint(32, "auction id")
        querier = Querier.read(r)
        e = Granted(holder, auction_id, querier) if tag == 4 else Revoked(holder, auction_id, querier)
    else:
        raise ConfidentialError(f"auction: unknown event {tag}")
    if any(r.rest()):
        raise ConfidentialError("auction: the event's padding is not zero")
    return e


@dataclass(frozen=True)
class BidOf:
    auction_id: int
    bidder: bytes


@dataclass(frozen=True)
class ResultOf:
    auction_id: int


AuctionQuery = BidOf | ResultOf


def encode_query(q: AuctionQuery) -> bytes:
    if isinstance(q, BidOf):
        return b"\x01" + _u(_int(q.auction_id, _U256, "auction id"), 32) + _addr(q.bidder, "bidder")
    return b"\x02" + _u(_int(q.auction_id, _U256, "auction id"), 32)


def decode_query(data: bytes) -> AuctionQuery:
    r = Reader(data, "auction query")
    tag = r.uint(1, "query")
    q: AuctionQuery
    if tag == 1:
        q = BidOf(r.uint(32, "auction id"), r.take(20, "bidder"))
    elif tag == 2:
        q = ResultOf(r.uint(32, "auction id"))
    else:
        raise ConfidentialError(f"auction: unknown query {tag}")
    r.end()
    return q


@dataclass(frozen=True)
class AuctionResult:
    status: int  # 0 unknown, 1 open, 2 settled
    close_block: int
    winner: bytes
    price: int


def encode_bid_answer(amount: int | None) -> bytes:
    return b"\x00" + bytes(16) if amount is None else b"\x01" + _u(_int(amount, _U128, "amount"), 16)


def decode_bid_answer(data: bytes) -> int | None:
    """The inverse of `encode_bid_answer`: has bid 0 with a zero amount (no bid) or 1 (a bid, of any amount)."""
    r = Reader(data, "bid answer")
    has, amount = r.uint(1, "has bid"), r.uint(16, "amount")
    r.end()
    if has not in (0, 1):
        raise ConfidentialError("auction: bid answer: has bid must be 0 or 1")
    if not has and amount:
        raise ConfidentialError("auction: bid answer: no bid, but a non-zero amount")
    return amount if has else None


def encode_result_answer(res: AuctionResult) -> bytes:
    return bytes([res.status]) + _u(res.close_block, 8) + _addr(res.winner, "winner") + _u(res.price, 16)


def decode_result_answer(data: bytes) -> AuctionResult:
    r = Reader(data, "result answer")
    res = AuctionResult(r.uint(1, "status"), r.uint(8, "close block"), r.take(20, "winner"), r.uint(16, "price"))
    r.end()
    return res
