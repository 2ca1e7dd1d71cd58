"""What the bridge will carry: resources (tokens) per domain, decimals, per-message limits, allowed call targets.

The same checks run in every relayer (before batching) and in every enclave (before signing), so a message that
breaks policy is refused by honest members whatever a leader proposes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bridge.amounts import convert_amount
from bridge.domains import Domain
from bridge.errors import AmountError, InputError, UnknownChainError, UnknownResourceError
from bridge.gateway import fallback_of, is_destination
from bridge.messages import BridgeMessage, MessageKind

RECIPIENT_LENGTH = {Domain.ETHEREUM: 20, Domain.PHALA: 32}


_REPLY_NONCE_FLOOR = 1 << 63  # bridge.confidential.reply_nonce: replies (source domain Phala) set the top bit


def _is_reply(msg: BridgeMessage) -> bool:
    return msg.source_domain == Domain.PHALA and msg.nonce >= _REPLY_NONCE_FLOOR


class PolicyRefusal(InputError):
    """A message the bridge refuses to carry; the reason is recorded with the message."""


@dataclass(frozen=True)
class Resource:
    name: str
    resource_id: bytes
    decimals: Mapping[int, int]  # domain id -> decimals
    max_per_message: int | None = None  # in destination units of the largest-decimals domain; None = no limit


@dataclass(frozen=True)
class BridgePolicy:
    resources: Mapping[bytes, Resource]
    domains: frozenset[int] = frozenset(int(d) for d in Domain)
    call_targets: Mapping[int, frozenset[bytes]] = field(default_factory=dict)  # domain -> allowed targets
    # Targets only confidential contracts' replies may call (e.g. SealedBidAuction.settle): a user's Phala -> Ethereum
    # call to one is refused before it is signed (settle also checks the origin; this keeps such calls off chain).
    reply_only_targets: frozenset[bytes] = frozenset()

    @classmethod
    def of(cls, resources: Iterable[Resource], **kw: object) -> BridgePolicy:
        return cls(resources={r.resource_id: r for r in resources}, **kw)  # type: ignore[arg-type]

    def resource(self, resource_id: bytes) -> Resource:
        try:
            return self.resources[resource_id]
        except KeyError:
            raise UnknownResourceError(f"unknown resource 0x{resource_id.hex()}") from None

    def check(self, msg: BridgeMessage) -> None:
        """Raise PolicyRefusal (with the reason) when the bridge must not carry `msg`."""
        try:
            self._check(msg)
        except PolicyRefusal:
            raise
        except (AmountError, UnknownResourceError, UnknownChainError) as exc:
            raise PolicyRefusal(str(exc)) from None

    def _check(self, msg: BridgeMessage) -> None:
        for d in (msg.source_domain, msg.dest_domain):
            if d not in self.domains:
                raise UnknownChainError(f"unknown domain {d}")
        if msg.source_domain == msg.dest_domain:
            raise PolicyRefusal("source and destination are the same chain")
        if msg.kind is MessageKind.CALL and bytes(msg.recipient) in self.reply_only_targets and not _is_reply(msg):
            raise PolicyRefusal(f"call target 0x{msg.recipient.hex()} takes only confidential contracts' replies")
        if msg.gas_limit is not None and not (msg.kind is MessageKind.CALL and _is_reply(msg)):
            # a reply's gas is what the enclaves' contract asked for; nothing else chooses its own
            raise PolicyRefusal("only a confidential contract's reply carries its own call gas limit")
        if msg.kind is MessageKind.TRANSFER:
            self._check_transfer(msg)

    def _check_transfer(self, msg: BridgeMessage) -> None:
        if msg.resource_id is None:
            raise PolicyRefusal("a transfer needs a resource id")
        res = self.resource(msg.resource_id)
        if msg.source_domain not in res.decimals or msg.dest_domain not in res.decimals:
            raise PolicyRefusal(f"{res.name} is not bridged between domains {msg.source_domain} and {msg.dest_domain}")
        expected = convert_amount(msg.source_amount, res.decimals[msg.source_domain], res.decimals[msg.dest_domain])
        if msg.amount != expected:
            raise PolicyRefusal(f"amount {msg.amount} does not match the source amount (expected {expected})")
        want = RECIPIENT_LENGTH.get(Domain(msg.dest_domain)) if msg.dest_domain in Domain._value2member_map_ else None
        if msg.dest_domain == Domain.PHALA and is_destination(msg.recipient):
            # On to a parachain through the XCM gateway: the gateway sends it or refunds the fallback
            # (bridge/gateway.py); without a readable fallback there is nowhere safe to put the funds on Phala.
            if fallback_of(msg.recipient) is None:
                raise PolicyRefusal("malformed XCM destination: no fallback account on Phala to refund")
        elif want is not None and len(msg.recipient) != want and msg.payload == b"":
            raise PolicyRefusal(f"recipient must be {want} bytes on domain {msg.dest_domain}, got {len(msg.recipient)}")
        if res.max_per_message is not None:
            top = max(res.decimals.values())
            in_top = convert_amount(msg.amount, res.decimals[msg.dest_domain], top)
            if in_top > res.max_per_message:
                raise PolicyRefusal(f"amount exceeds the per-message limit of {res.name}")
