"""The enclave's confidential engine over a real committee protocol (5 nodes, in-memory hub, real DKG and tdec
sessions): the state key recovered by every member, the leader's results reproduced byte for byte by a member from
the forwarded shares (no session of its own), a forged forwarded share caught by its proof (the member decrypts by
itself and still agrees), and a fresh engine (a restart) that rebuilds the state from the records alone, reply
counters included (dense, in source order, continuing the finalized log's outputs notes).

The chain here is a list (the port's contract); the devnet e2e tests run the same engine against real chains."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import nacl.public

from bridge.client.confidential import encrypt_call
from bridge.confidential import (
    CallStatus,
    ExecutedCall,
    NoteTail,
    decode_record,
    note_log_hash,
    phala_batch_parts,
    reply_nonce,
)
from bridge.messages import BridgeMessage
from enclave_signer.contracts import Registry, SealedBidAuction
from enclave_signer.contracts.auction_codec import Close, Open, PlaceBid, encode_input
from enclave_signer.identity import ed25519_to_x25519_public
from enclave_signer.process.confidential import ConfidentialEngine, encode_bundle
from tests.unit.committee.helpers import cluster, metric, run, with_dkg
from tests.unit.confidential.helpers import message

MEMBERS = (1, 2, 3, 4, 5)
CONTRACT = SealedBidAuction(b"\x42" * 20)
REGISTRY = Registry([CONTRACT])


@dataclass
class ListChain:
    calls: list[BridgeMessage] = field(default_factory=list)
    notes: list[bytes] = field(default_factory=list)

    async def notes_after(self, position: int) -> NoteTail:
        if position > len(self.notes):
            return NoteTail(position, None, ())
        return NoteTail(position, note_log_hash(self.notes[:position]), tuple(self.notes[position:]))

    async def final_calls(self) -> list[BridgeMessage]:
        return list(self.calls)

    def append(self, results: list[ExecutedCall]) -> None:
        self.notes.extend(phala_batch_parts(results)[0])  # records and outputs notes, as the extrinsic has them


def _call(pk: bytes, caller: bytes, data: bytes, nonce: int, block: int | None = None) -> BridgeMessage:
    payload = encrypt_call(pk, CONTRACT.contract_id, caller, data)
    return message(caller, payload, nonce, block=10 + nonce if block is None else block)


def _tdec_led(engine: ConfidentialEngine) -> float:
    return metric(engine.node, "sessions", kind="tdec", role="leader", outcome="ok")


def test_members_reproduce_the_leaders_results_and_rebuild_state_from_records() -> None:
    async def scenario() -> None:
        async with cluster() as c:
            await with_dkg(c, MEMBERS)
            chain = ListChain()
            engines = {m: ConfidentialEngine(c.node(m), REGISTRY, chain) for m in MEMBERS}
            for m, e in engines.items():
                c.node(m).decryption_verifier = e.policy
            record = c.node(1).record
            assert record is not None
            pk = record.group_keys.encryption
            seller, alice, bob = b"\x01" * 20, b"\x02" * 20, b"\x03" * 20
            opened = _call(pk, seller, encode_input(Open(1_000)), 1)
            auction = int.from_bytes(opened.id, "big")
            first = [opened, _call(pk, alice, encode_input(PlaceBid(auction, 700)), 2)]
            chain.calls.extend(first)

            keys = {(await e.keyring()).key_id() for e in engines.values()}
            assert len(keys) == 1  # one state key, recovered by every member

            leader = engines[1]
            results = await leader.run(first)
            assert [decode_record(r.record).status for r in results] == [CallStatus.EXECUTED] * 2
            boxes = leader.forward(first)
            assert sorted(boxes) == [2, 3, 4, 5]

            # member 2: the forwarded shares, proofs checked, no session of its own
            before = _tdec_led(engines[2])
            assert await engines[2].run(first, forwarded=boxes[2]) == results
            assert _tdec_led(engines[2]) == before

            # member 3: the leader swapped a share; its proof fails, member 3 decrypts itself and still agrees
            used = {m.id: leader._shares_of[m.id] for m in first}
            forged = {cid: [replace(s[0], d=s[1].d), *s[1:]] for cid, s in used.items()}
            key = nacl.public.PublicKey(ed25519_to_x25519_public(c.node(3).identity.public_key))
            box = bytes(nacl.public.SealedBox(key).encrypt(encode_bundle(forged)))
            before = _tdec_led(engines[3])
            assert await engines[3].run(first, forwarded=box) == results
            assert _tdec_led(engines[3]) == before + len(first)

            # anyone can seal a bundle to a member: shares for calls it is not running are not kept (memory)
            junk = {bytes([i]) * 32: used[first[0].id] for i in range(50)}
            box = bytes(nacl.public.SealedBox(key).encrypt(encode_bundle(junk)))
            assert await engines[3].run(first, forwarded=box) == results
            assert engines[3]._offered == {}

            # the records go on chain; a new engine (an enclave restarted) replays them and agrees on what follows
            chain.append(results)
            nxt = [
                _call(pk, bob, encode_input(PlaceBid(auction, 900)), 3),
                _call(pk, alice, encode_input(PlaceBid(auction, 1)), 4),
            ]
            chain.calls.extend(nxt)
            restarted = ConfidentialEngine(c.node(4), REGISTRY, chain)
            again = await restarted.run(nxt)
            assert again == await leader.run(nxt)
            assert [decode_record(r.record).code for r in again] == ["", "already_bid"]
            assert decode_record(again[0].record).position == 2  # after the two replayed records

            # replies: two closes in one batch get consecutive counters from 0; a restarted engine continues at 2
            chain.append(again)
            second = _call(pk, seller, encode_input(Open(1_000)), 5)
            chain.calls.append(second)
            chain.append(await leader.run([second]))
            closes = [
                _call(pk, bob, encode_input(Close(auction)), 6, block=1_000),
                _call(pk, bob, encode_input(Close(int.from_bytes(second.id, "big"))), 7, block=1_000),
            ]
            chain.calls.extend(closes)
            closed = await leader.run(closes)
            assert [(len(r.outputs), r.first_reply) for r in closed] == [(1, 0), (1, 1)]
            assert await engines[2].run(closes, forwarded=leader.forward(closes)[2]) == closed
            chain.append(closed)
            third = _call(pk, seller, encode_input(Open(2_000)), 8, block=1_001)
            chain.calls.append(third)
            chain.append(await leader.run([third]))
            last = _call(pk, alice, encode_input(Close(int.from_bytes(third.id, "big"))), 9, block=2_000)
            chain.calls.append(last)
            fresh = ConfidentialEngine(c.node(5), REGISTRY, chain)
            (done,) = await fresh.run([last])
            assert done.first_reply == 2 and done == (await leader.run([last]))[0]
            assert reply_nonce(done.first_reply) >> 8 == reply_nonce(0) >> 8  # the same bitmap word

    run(scenario, timeout=60)
