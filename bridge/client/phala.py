"""Deposits on Phala (the bridge account) and the search for the extrinsic that executed a message there."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from substrateinterface import Keypair

from bridge.domains import Domain
from bridge.errors import InputError
from bridge.gateway import GatewayConfig
from bridge.intents import Intent, IntentKind, encode_intent
from bridge.messages import BridgeMessage, MessageKind, SourceRef
from bridge.minimums import CLIENT_MARGIN_BLOCKS, check_minimum, schedule_for
from bridge.network import PhalaSide
from bridge.ports import ChainPosition
from relayers.substrate import PhalaConfig, PhalaWatcher, SubstrateClient
from relayers.substrate.chain import ChainReader
from relayers.substrate.executed_index import BridgeExtrinsic, ExecutedIndex
from relayers.substrate.plan import payee, static_refusal


class RecipientRefused(InputError):
    """A deposit into Phala that the bridge account would refuse for good: nothing refunds it on Ethereum, so the
    client refuses it before anything is sent."""


@dataclass(frozen=True)
class PhalaDeposit:
    extrinsic_hash: str
    block_number: int
    extrinsic_index: int
    # The signer's AccountId32: for a call, the sender its Ethereum target reads with `Bridge.messageOrigin()`.
    sender: bytes = b""


class PhalaClient:
    def __init__(
        self, net: PhalaSide, resource_id: bytes, *, timeout: float = 10.0, margin: int = CLIENT_MARGIN_BLOCKS
    ) -> None:
        self.net = net
        self.resource_id = resource_id
        self.client = SubstrateClient(net.ws_url, timeout=timeout)
        self.bridge_account = bytes.fromhex(net.bridge_account.removeprefix("0x"))
        self.minimums = net.minimums()
        self.margin = margin  # blocks ahead of the head a scheduled change of the minimum is applied already

    def close(self) -> None:
        self.client.close()

    def _config(self, start_block: int | None = None) -> PhalaConfig:
        start = self.net.start_block if start_block is None else start_block
        return PhalaConfig(
            url=self.net.ws_url,
            bridge_account=self.bridge_account,
            resource_id=self.resource_id,
            min_deposit=self.minimums,  # counting deposits as the nodes do: the same minimums
            start_block=start,
            index_start_block=start,
        )

    def free_balance(self, account: bytes) -> int:
        return self.client.free_balance(account)

    def finalized_block(self) -> int:
        return ChainReader(self.client).finalized_head().block_number

    def deposit(self, keypair: Keypair, dest_domain: int, recipient: bytes, amount: int) -> PhalaDeposit:
        """`batch_all([transfer_keep_alive(bridge, amount), remark_with_event(intent)])`, signed by `keypair`."""
        return self._submit(keypair, Intent(IntentKind.TRANSFER, dest_domain, self.resource_id, recipient), amount)

    def call(self, keypair: Keypair, target: bytes, calldata: bytes, amount: int, dest_domain: int = 1) -> PhalaDeposit:
        """A call of `target` (an allow-listed contract on Ethereum) with `calldata`, by the bridge: the same
        extrinsic as a deposit, with a call intent; `amount` (planck) pays for it and stays with the bridge. Both
        refuse (`BelowMinimum`) an amount under the destination's minimum for its kind, before signing."""
        return self._submit(keypair, Intent(IntentKind.CALL, dest_domain, self.resource_id, target, calldata), amount)

    def check_amount(self, dest_domain: int, amount: int, *, call: bool = False) -> None:
        """Raise `BelowMinimum` (naming the minimum in PHA) when the bridge would refuse and hold `amount` planck: by
        the minimum at the finalized head, or a higher one scheduled within `margin` blocks of it (the deposit may
        land after the switch). A destination whose minimum never changes needs no read of the chain."""
        constant = schedule_for(self.minimums, dest_domain).is_constant
        head = 0 if constant else self.finalized_block()
        check_minimum(self.minimums, dest_domain, amount, call=call, head=head, margin=self.margin)

    def check_recipient(self, recipient: bytes, amount: int, gateway: GatewayConfig | None = None) -> None:
        """Raise `RecipientRefused` when the bridge account would refuse for good an Ethereum deposit of `amount`
        planck to `recipient` (an account id, or an XCM destination for `gateway`), by the relayers' own rules
        (relayers/substrate/plan.py) at Phala's finalized head. Those tokens would stay locked in the Ethereum bridge
        (docs/contracts.md, "Left for later"), so the CLI asks this before every deposit into Phala.

        Stricter than the bridge in one case: below the existential deposit the bridge still pays an account that a
        larger transfer creates first; a client cannot count on one, so it asks for an account that exists now."""
        message = BridgeMessage(
            source_domain=Domain.ETHEREUM,
            dest_domain=Domain.PHALA,
            nonce=0,
            kind=MessageKind.TRANSFER,
            sender=b"",
            recipient=recipient,
            resource_id=self.resource_id,
            amount=amount,
            source=SourceRef(block_number=0, block_hash=bytes(32), tx_hash=bytes(32), index=0),
        )
        reason = static_refusal(
            message,
            domain=Domain.PHALA,
            bridge_account=self.bridge_account,
            resource_id=self.resource_id,
            gateway=gateway,
        )
        if reason is not None:
            raise RecipientRefused(f"the bridge on Phala would refuse this deposit for good: {reason}")
        to = payee(message, gateway)
        reader = ChainReader(self.client)
        ed = reader.existential_deposit()
        if amount < ed and not reader.account(to, reader.finalized_head().block_hash).exists:
            whom = "the recipient" if to == recipient else "the account it would be paid to"
            raise RecipientRefused(
                f"the bridge on Phala would refuse this deposit for good: {amount} planck is below the existential "
                f"deposit ({ed}) and {whom}, 0x{to.hex()}, has no account"
            )

    def _submit(self, keypair: Keypair, intent_value: Intent, amount: int) -> PhalaDeposit:
        # Before anything is signed: below its minimum a deposit would be refused and its funds held by the bridge.
        self.check_amount(intent_value.dest_domain, amount, call=intent_value.kind is IntentKind.CALL)
        intent = encode_intent(intent_value)
        c = self.client
        call = c.compose_call(
            "Utility",
            "batch_all",
            {
                "calls": [
                    c.compose_call(
                        "Balances", "transfer_keep_alive", {"dest": "0x" + self.bridge_account.hex(), "value": amount}
                    ),
                    c.compose_call("System", "remark_with_event", {"remark": "0x" + intent.hex()}),
                ]
            },
        )
        outcome = c.submit(call, keypair).raise_for_failure()
        return PhalaDeposit(outcome.extrinsic_hash, outcome.block_number, outcome.extrinsic_index, keypair.public_key)

    def message_of(self, deposit: PhalaDeposit) -> str | None:
        """The message id of a deposit: its number comes from counting deposits from the start block, the same scan
        the relayers and the enclaves run."""
        return asyncio.run(self._message_of(deposit))

    async def _message_of(self, deposit: PhalaDeposit) -> str | None:
        watcher = PhalaWatcher(self._config())
        try:
            position: ChainPosition | None = None
            while True:
                result = await watcher.poll(position)
                for m in result.messages:
                    if m.source.block_number == deposit.block_number and m.source.index == deposit.extrinsic_index:
                        return m.id_hex
                done = position is not None and result.position.block_number == position.block_number
                position = result.position
                if done or position.block_number >= max(result.head, deposit.block_number):
                    return None
        finally:
            watcher.close()

    def find_execution(self, message_id: str, from_block: int) -> str | None:
        """The bridge extrinsic that executed `message_id` (Ethereum -> Phala), searched from `from_block`."""
        found = self.execution_of(message_id, from_block)
        return None if found is None else found.hash

    def execution_of(self, message_id: str, from_block: int) -> BridgeExtrinsic | None:
        """The same, with where it is (block, index) and its outcome."""
        index = ExecutedIndex(self._config(from_block))
        reader = ChainReader(self.client)
        head = reader.finalized_head()
        while not index.sync(reader, head):
            pass
        tx = index.executed_by(message_id)
        return None if tx is None else index.extrinsic(tx)
