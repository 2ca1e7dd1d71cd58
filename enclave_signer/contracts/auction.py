"""A sealed-bid, first-price auction run inside the enclaves (the worked example of docs/confidential-contracts.md).

- `open(close block)`: anyone opens an auction; its id is the opening call's message id (as a uint256), so ids are
  unique and cannot be squatted; the caller is the seller.
- `bid(auction, amount)`: one bid per bidder (the authenticated caller), accepted while the source block is before
  the close block.
- `close(auction)`: anyone, once the source block is at or after the close block. The highest bid wins, ties go to
  the earliest bid (lowest source nonce); the price is the winner's own bid (first price: a second-price auction
  would publish the runner-up's bid, which is a losing bid). The only output is the reply call
  `settle(auctionId, winner, price)` on the settlement contract (`SealedBidAuction.sol`); no bid: winner 0, price 0.
- `grant` / `revoke`: a bidder lets a querier read its bid (one auction, or every auction with id 0).

Losing bids appear only in sealed events; refusal reasons never carry an amount. A bidder may read its own bid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TypeVar

from eth_utils.crypto import keccak

from bridge.confidential import ConfidentialError, EthereumCall, Querier, QuerierKind, Reader
from enclave_signer.contracts import auction_codec as codec
from enclave_signer.contracts.auction_codec import (
    AuctionEvent,
    AuctionResult,
    BidPlaced,
    Granted,
    Opened,
    Revoked,
    Settled,
)
from enclave_signer.contracts.base import CallContext, Effects, contract_id_for
from enclave_signer.contracts.errors import ContractRefusal

__all__ = [
    "MAX_BIDS",
    "MAX_GRANTS",
    "MAX_PRICE",
    "SETTLE_GAS",
    "Auction",
    "Book",
    "SealedBidAuction",
    "settle_calldata",
]

NAME = "sealed-bid-auction/v1"
MAX_BIDS = 1000
MAX_GRANTS = 64  # per holder
SETTLE_GAS = 60_000  # settle uses ~25.5k (origin check, fresh outcome word, event); the target gets exactly this
MAX_PRICE = 2**95 - 1  # SealedBidAuction.sol keeps winner | price | settled in one word: 95 bits of price
ZERO_ADDRESS = bytes(20)
_SETTLE = bytes(keccak(b"settle(uint256,address,uint256)"))[:4]


def settle_calldata(auction_id: int, winner: bytes, price: int) -> bytes:
    return _SETTLE + auction_id.to_bytes(32, "big") + bytes(12) + winner + price.to_bytes(32, "big")


@dataclass(frozen=True)
class Auction:
    auction_id: int
    seller: bytes
    close_block: int
    bids: tuple[BidPlaced, ...] = field(default=(), repr=False)
    settled: Settled | None = None


Grants = frozenset[tuple[bytes, int, Querier]]  # (holder, auction id or 0, querier)


@dataclass(frozen=True)
class Book:
    """The contract's state: every auction and every grant. Never printed (bids are in it)."""

    auctions: MappingProxyType[int, Auction] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    grants: Grants = field(default=frozenset(), repr=False)


def _refuse(code: str, reason: str) -> ContractRefusal:
    return ContractRefusal(code, reason)


@dataclass(frozen=True)
class SealedBidAuction:
    settlement: bytes  # the SealedBidAuction.sol address on Ethereum (allow-listed on the bridge)
    settle_gas: int = SETTLE_GAS
    name: str = NAME

    def __post_init__(self) -> None:
        if len(self.settlement) != 20:
            raise ValueError("the settlement contract is a 20-byte address")

    @property
    def contract_id(self) -> bytes:
        return contract_id_for(self.name, self.settlement)

    def initial_state(self) -> Book:
        return Book()

    # ---- calls ----------------------------------------------------------------------------------------------------

    def handle(self, state: Book, ctx: CallContext, data: bytes) -> Effects[AuctionEvent]:
        if len(ctx.caller) != 20:
            raise _refuse("unsupported_caller", "auction calls come from Ethereum accounts")
        try:
            op = codec.decode_input(data)
        except ValueError:
            raise _refuse("malformed_input", "the input is not an auction operation") from None
        if isinstance(op, codec.Open):
            if ctx.block_number >= op.close_block:
                raise _refuse("closed", "the close block has passed")
            auction_id = int.from_bytes(ctx.call_id, "big")
            return Effects((Opened(auction_id, ctx.caller, op.close_block),))
        if isinstance(op, codec.PlaceBid):
            return Effects((self._bid(state, ctx, op),))
        if isinstance(op, codec.Close):
            settled = self._close(state, ctx, op.auction_id)
            call = EthereumCall(self.settlement, self.settle_gas, settle_calldata(*_settle_args(settled)))
            return Effects((settled,), (call,))
        return Effects((self._grant(state, ctx.caller, op),))

    def _open_auction(self, state: Book, auction_id: int) -> Auction:
        auction = state.auctions.get(auction_id)
        if auction is None:
            raise _refuse("no_auction", "no auction has this id")
        if auction.settled is not None:
            raise _refuse("settled", "the auction is settled")
        return auction

    def _bid(self, state: Book, ctx: CallContext, op: codec.PlaceBid) -> BidPlaced:
        auction = self._open_auction(state, op.auction_id)
        if ctx.block_number >= auction.close_block:
            raise _refuse("closed", "bids are accepted before the close block only")
        if any(b.bidder == ctx.caller for b in auction.bids):
            raise _refuse("already_bid", "one bid per bidder")
        if len(auction.bids) >= MAX_BIDS:
            raise _refuse("full", f"an auction takes at most {MAX_BIDS} bids")
        if not 0 < op.amount <= MAX_PRICE:
            # the settlement's outcome word holds a 95-bit price; a larger bid could win and never settle
            raise _refuse("bad_amount", "a bid must be positive and at most 2^95 - 1 wei")
        return BidPlaced(op.auction_id, ctx.caller, op.amount, ctx.source_nonce)

    def _close(self, state: Book, ctx: CallContext, auction_id: int) -> Settled:
        auction = self._open_auction(state, auction_id)
        if ctx.block_number < auction.close_block:
            raise _refuse("not_closed", "the close block is not reached")
        if not auction.bids:
            return Settled(auction_id, ZERO_ADDRESS, 0)
        best = max(auction.bids, key=lambda b: (b.amount, -b.order))
        return Settled(auction_id, best.bidder, best.amount)

    def _grant(self, state: Book, holder: bytes, op: codec.Grant | codec.Revoke) -> Granted | Revoked:
        key = (holder, op.auction_id, op.querier)
        if isinstance(op, codec.Revoke):
            if key not in state.grants:
                raise _refuse("not_granted", "no such grant")
            return Revoked(holder, op.auction_id, op.querier)
        if op.querier == Querier(QuerierKind.ETHEREUM, holder):
            raise _refuse("self_grant", "a holder can always read its own bids")
        if key in state.grants:
            raise _refuse("already_granted", "the grant exists")
        if sum(1 for g in state.grants if g[0] == holder) >= MAX_GRANTS:
            raise _refuse("too_many_grants", f"at most {MAX_GRANTS} grants per holder")
        return Granted(holder, op.auction_id, op.querier)

    # ---- events ---------------------------------------------------------------------------------------------------

    def apply(self, state: Book, event: AuctionEvent) -> Book:
        if isinstance(event, Granted | Revoked):
            key = (event.holder, event.auction_id, event.querier)
            grants = state.grants | {key} if isinstance(event, Granted) else state.grants - {key}
            return replace(state, grants=grants)
        if isinstance(event, Opened):
            updated = Auction(event.auction_id, event.seller, event.close_block)
        else:
            auction = state.auctions[event.auction_id]
            if isinstance(event, BidPlaced):
                updated = replace(auction, bids=(*auction.bids, event))
            else:
                updated = replace(auction, settled=event)
        return replace(state, auctions=MappingProxyType({**state.auctions, event.auction_id: updated}))

    def encode_event(self, event: AuctionEvent) -> bytes:
        return codec.encode_event(event)

    def decode_event(self, data: bytes) -> AuctionEvent:
        return codec.decode_event(data)

    # ---- state snapshots (the engine's sealed checkpoint; never logged, never unsealed on disk) --------------------

    def encode_state(self, state: Book) -> bytes:
        """The state as the events that rebuild it, per auction in opening order, then the grants (sorted):
        u32 n, n x (opened event | u32 bids, bid events | u8 settled, settled event?) | u32 n, n x (u16 len | granted)
        """
        out = bytearray(len(state.auctions).to_bytes(4, "big"))
        for a in state.auctions.values():
            out += codec.encode_event(Opened(a.auction_id, a.seller, a.close_block))
            out += len(a.bids).to_bytes(4, "big") + b"".join(codec.encode_event(b) for b in a.bids)
            out += b"\x00" if a.settled is None else b"\x01" + codec.encode_event(a.settled)
        grants = sorted(codec.encode_event(Granted(h, aid, q)) for h, aid, q in state.grants)
        out += len(grants).to_bytes(4, "big") + b"".join(len(g).to_bytes(2, "big") + g for g in grants)
        return bytes(out)

    def decode_state(self, data: bytes) -> Book:
        """`encode_state`'s inverse; ConfidentialError for anything else (never part of a state)."""
        r = Reader(data, "auction state")
        auctions: dict[int, Auction] = {}
        for _ in range(r.uint(4, "auctions")):
            opened = _event(r, Opened)
            if opened.auction_id in auctions:
                raise ConfidentialError("auction state: an auction is listed twice")
            n = r.uint(4, "bids")
            if n > MAX_BIDS:
                raise ConfidentialError("auction state: too many bids")
            bids = tuple(_event(r, BidPlaced) for _ in range(n))
            flag = r.uint(1, "settled flag")
            if flag not in (0, 1):
                raise ConfidentialError("auction state: bad settled flag")
            settled = _event(r, Settled) if flag else None
            if any(b.auction_id != opened.auction_id for b in bids) or (
                settled is not None and settled.auction_id != opened.auction_id
            ):
                raise ConfidentialError("auction state: an event of another auction")
            auctions[opened.auction_id] = Auction(opened.auction_id, opened.seller, opened.close_block, bids, settled)
        grants = set()
        for _ in range(r.uint(4, "grants")):
            g = codec.decode_event(r.take(r.uint(2, "grant length"), "grant"))
            if not isinstance(g, Granted):
                raise ConfidentialError("auction state: a grant is not a granted event")
            grants.add((g.holder, g.auction_id, g.querier))
        r.end()
        return Book(MappingProxyType(auctions), frozenset(grants))

    # ---- queries --------------------------------------------------------------------------------------------------

    def query(self, state: Book, querier: Querier, body: bytes) -> bytes:
        try:
            q = codec.decode_query(body)
        except ValueError:
            raise _refuse("malformed_query", "the body is not an auction query") from None
        if isinstance(q, codec.ResultOf):
            return codec.encode_result_answer(_result(state.auctions.get(q.auction_id)))
        allowed = querier == Querier(QuerierKind.ETHEREUM, q.bidder) or any(
            (q.bidder, a, querier) in state.grants for a in (q.auction_id, 0)
        )
        if not allowed:
            raise _refuse("unauthorized", "the bidder has not granted this querier")
        auction = state.auctions.get(q.auction_id)
        bid = next((b for b in auction.bids if b.bidder == q.bidder), None) if auction else None
        return codec.encode_bid_answer(None if bid is None else bid.amount)


_T = TypeVar("_T", Opened, BidPlaced, Settled)


def _event(r: Reader, kind: type[_T]) -> _T:
    e = codec.decode_event(r.take(codec.EVENT_SIZE, kind.__name__))  # every event is padded to one width
    if not isinstance(e, kind):
        raise ConfidentialError(f"auction state: expected a {kind.__name__} event")
    return e


def _settle_args(s: Settled) -> tuple[int, bytes, int]:
    return s.auction_id, s.winner, s.price


def _result(auction: Auction | None) -> AuctionResult:
    if auction is None:
        return AuctionResult(0, 0, ZERO_ADDRESS, 0)
    if auction.settled is None:
        return AuctionResult(1, auction.close_block, ZERO_ADDRESS, 0)
    return AuctionResult(2, auction.close_block, auction.settled.winner, auction.settled.price)
