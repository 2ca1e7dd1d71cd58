"""The independent verifier an enclave runs before it contributes to a signature, wired from the member's own
chain endpoints: every message re-read on its source chain (same finality, every field equal) and the exact bytes
to sign rebuilt for the destination. Any doubt is a refusal with a reason; the leader logs and counts it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import structlog

from bridge.cli.confidential_wiring import MemberChainView
from bridge.cli.wiring import deposit_checkpoints, ethereum_config, index_checkpoints, phala_config, policy_of
from bridge.confidential import ConfidentialError, decode_share_envelopes, is_confidential_call
from bridge.config.schema import NodeConfig
from bridge.domains import Domain
from bridge.enclave_api import GroupKeys
from bridge.messages import BridgeMessage
from bridge.policy import PolicyRefusal
from bridge.ports import SigningRequest, VerificationRefused
from enclave_signer.committee.omission import Lane, lane_of
from enclave_signer.committee.verification import PolicyVerifier, SigningRefusal
from enclave_signer.process.confidential import ConfidentialEngine
from relayers.ethereum import EthereumBatchVerifier, EthereumSourceVerifier
from relayers.ethereum.errors import EthereumAdapterError
from relayers.ethereum.rebuild import refusal as ethereum_refusal
from relayers.heads import SUBSTRATE_FINALIZED_HEADS, HeadNotifier, follow_heads
from relayers.substrate.dispatcher import SHARES_CONTEXT_KEY
from relayers.substrate.errors import SubstrateError
from relayers.substrate.executed_index import ExecutedIndex
from relayers.substrate.index_checkpoint import CheckpointStore
from relayers.substrate.rebuild import rebuild_confidential
from relayers.substrate.replies import ReplyView, from_notes
from relayers.substrate.source_verifier import PhalaSourceVerifier
from relayers.substrate.verifier import PhalaVerifier

log = structlog.get_logger("enclave.chain_verifier")


class ChainBatchVerifier:
    def __init__(
        self,
        cfg: NodeConfig,
        group_keys: Callable[[], GroupKeys | None],
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.group_keys = group_keys
        self.checkpoints = checkpoints  # where the executed indexes' snapshots are kept (sealed files)
        self.bridge_policy = policy_of(cfg)
        self.policy = PolicyVerifier(self.bridge_policy)
        self._executed_below: dict[Lane, int] = {}  # per lane: every nonce up to here is executed in this view
        eth = ethereum_config(cfg)
        self.eth_source = EthereumSourceVerifier(eth)
        self.eth_batch = EthereumBatchVerifier(eth)
        self._phala_key: bytes | None = None
        self._phala_source: PhalaSourceVerifier | None = None
        self._phala_dest: PhalaVerifier | None = None
        self._replies: ReplyView | None = None
        self.confidential: ConfidentialEngine | None = None  # once attached by run_enclave
        self.heads: HeadNotifier | None = None  # Phala's finalized heads, while following

    def attach_confidential(self, engine: ConfidentialEngine) -> None:
        """Confidential calls: Phala extrinsics are rebuilt from this member's own engine's results."""
        self.confidential = engine

    def _forwarded(self, request: SigningRequest) -> bytes | None:
        """This member's box of the leader's decryption shares, if the request carries one."""
        blob = request.context.get(SHARES_CONTEXT_KEY)
        if not isinstance(blob, str) or self.confidential is None:
            return None
        try:
            boxes = decode_share_envelopes(bytes.fromhex(blob.removeprefix("0x")))
        except (ValueError, ConfidentialError):
            return None  # then this member decrypts with sessions of its own
        return boxes.get(int(self.confidential.node.member_id))

    def _reply_view(self) -> ReplyView:
        # The engine's chain view already follows the bridge account's extrinsics: one connection and one scan
        # instead of two (a new connection loads the runtime's metadata, seconds on a busy machine).
        chain = None if self.confidential is None else self.confidential.chain
        if isinstance(chain, MemberChainView):
            return chain.view()
        assert self._replies is not None
        return self._replies

    def _phala(self) -> tuple[PhalaSourceVerifier, PhalaVerifier]:
        keys = self.group_keys()
        if keys is None:
            raise SigningRefusal("no_keys", "this member has no committee keys yet (no DKG)")
        if self._phala_key != keys.ed25519 or self._phala_source is None or self._phala_dest is None:
            pc = phala_config(self.cfg, keys.ed25519)  # the bridge account is the group's Ed25519 key
            self._phala_source, self._phala_dest, self._phala_key = (
                PhalaSourceVerifier(pc, checkpoints=deposit_checkpoints(self.cfg, self.checkpoints)),
                PhalaVerifier(pc, checkpoints=index_checkpoints(self.cfg, self.checkpoints, "verifier")),
                keys.ed25519,
            )
            self._replies = ReplyView(pc, checkpoints=index_checkpoints(self.cfg, self.checkpoints, "replies"))
            self._executed_below = {}  # another bridge account: its messages count from the start
        return self._phala_source, self._phala_dest

    async def follow(self, interval: float = 0.5) -> None:
        """Keep this member's Phala view current between sessions: the deposits its source check compares against,
        and the executed index and bridge-account nonce its batch check needs. It reads on every finalized-head
        notification (`chain_subscribeFinalizedHeads`), so a block is read before a leader, polling, asks about
        it; every `interval` while the subscription is down (docs/performance.md). A session then reads only the
        finalized head instead of the blocks since the last session."""
        heads = HeadNotifier(
            phala_config(self.cfg, b"\0" * 32).url,  # the endpoint does not depend on the bridge account
            SUBSTRATE_FINALIZED_HEADS,
            poll_interval=interval,
            name="phala",
        )
        self.heads = heads
        # Beside it, the Ethereum token limits at the head (new heads), for the batch check's facts.
        limits = asyncio.create_task(self.eth_batch.follow(interval), name="ethereum-limits")
        try:
            await follow_heads(heads, self._follow_once, "chain_follow_failed")
        finally:
            limits.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await limits
            # A clean stop: the next start reads only the blocks from here on.
            for index in self._indexes():
                await asyncio.to_thread(index.save_checkpoint)
            if self._phala_source is not None:  # on this thread: the view changes only on it (small file)
                self._phala_source.save_checkpoint()
            chain = None if self.confidential is None else self.confidential.chain
            if isinstance(chain, MemberChainView):  # on the loop too: the engine's Ethereum scan changes only on it
                chain.save_checkpoint()

    def _indexes(self) -> list[ExecutedIndex]:
        views = [self._replies]
        chain = None if self.confidential is None else self.confidential.chain
        if isinstance(chain, MemberChainView):
            views.append(chain.current_view)
        found = [] if self._phala_dest is None else [self._phala_dest.index]
        return found + [v.index for v in views if v is not None]

    async def _follow_once(self) -> None:
        """The chain may be down: sessions refuse on their own, and following goes on."""
        if self.group_keys() is not None:
            source, dest = self._phala()
            await source.catch_up()
            await dest.follow_once()

    # Lanes this member's view can enumerate (OmissionView); other lanes gather no evidence of omission yet.
    OMISSION_LANES = frozenset(
        {
            Lane(int(Domain.ETHEREUM), int(Domain.PHALA), "message"),
            Lane(int(Domain.ETHEREUM), int(Domain.PHALA), "reply"),
        }
    )

    def omission_lanes(self) -> frozenset[Lane]:
        """`LaneCoverage`: a leader proposing nothing in these lanes is seen stalling (omission.py, `stalled`)."""
        return self.OMISSION_LANES

    _OMISSION_SCAN = 4  # candidates read per message asked for (some are refused for good)

    async def outstanding(self, lane: Lane, below: int, limit: int) -> Sequence[BridgeMessage]:
        """`OmissionView` (enclave_signer/committee/omission.py) for Phala deposits and confidential replies to
        Ethereum: the messages of this member's own finalized Phala view (its deposit view; the outputs notes of
        the bridge account's extrinsics) below `below` that its policy lets through, that Ethereum would execute
        (`refusal` with facts read through its own connection: token enabled, recipient, target allow-listed, gas)
        and whose nonce is not used on the bridge. Anything this view cannot read raises: no evidence either way."""
        if lane not in self.OMISSION_LANES or self.group_keys() is None:
            return []
        source, _ = self._phala()
        floor = self._executed_below.get(lane, 0)
        if lane.kind == "reply":
            view = self._reply_view()
            await view.session.run(view.sync)
            found = sorted((m for m in view.replies() if floor < m.nonce < below), key=lambda m: m.nonce)
        else:
            await source.catch_up()
            found = source.known(floor, below)
        candidates = [m for m in found if m.dest_domain == Domain.ETHEREUM and lane_of(m) == lane]
        candidates = candidates[: limit * self._OMISSION_SCAN]
        if not candidates:
            return []
        passed: list[BridgeMessage] = []
        for m in candidates:
            try:
                self.bridge_policy.check(m)
            except PolicyRefusal:
                continue  # the honest leader's relayer failed it too (same policy)
            passed.append(m)
        try:
            facts = await self.eth_batch.facts(passed) if passed else None
        except (EthereumAdapterError, OSError, TimeoutError) as exc:
            raise SigningRefusal("chain_unavailable", f"{type(exc).__name__}: {exc}") from None
        used = facts.used if facts is not None else frozenset()
        # The executed prefix never comes back: later rounds start above it.
        for m in candidates:
            if (m.source_domain, m.nonce) not in used:
                break
            self._executed_below[lane] = m.nonce
        out = [
            m
            for m in passed
            if facts is not None and (m.source_domain, m.nonce) not in used and ethereum_refusal(m, facts) is None
        ]
        return out[:limit]

    async def check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        await self.policy.check(request, messages)
        try:
            await self._check(request, messages)
        except VerificationRefused:
            raise  # every adapter's refusal is this one type (with its code): passed on as it is
        except (EthereumAdapterError, SubstrateError, OSError, TimeoutError) as exc:
            # This member cannot see the chain right now: it cannot vouch, so it does not sign.
            raise SigningRefusal("chain_unavailable", f"{type(exc).__name__}: {exc}") from None

    async def _check(self, request: SigningRequest, messages: Sequence[BridgeMessage]) -> None:
        started = time.perf_counter()
        phala_source, phala_dest = self._phala()
        await self.eth_source.check(messages)
        await phala_source.check_messages([m for m in messages if not from_notes(m)])
        await self._reply_view().check(messages)
        sources_done = time.perf_counter()
        calls = [m for m in messages if is_confidential_call(m)]
        if request.destination == Domain.ETHEREUM:
            digest = await self.eth_batch.check(request, messages)
        elif request.destination == Domain.PHALA and calls:
            if self.confidential is None:
                raise SigningRefusal("no_confidential", "this member runs no confidential contracts")
            # The extrinsic must be exactly what this member's OWN execution produces: t signatures = t agreeing.
            results = await self.confidential.run(calls, forwarded=self._forwarded(request))
            digest = rebuild_confidential(request, results, await phala_dest.facts_for(request))
        elif request.destination == Domain.PHALA:
            digest = await phala_dest.check(request, messages)
        else:
            raise SigningRefusal("unknown_destination", f"no verifier for destination {request.destination}")
        if digest != request.payload:
            raise SigningRefusal("mismatch", "the bytes to sign are not the rebuilt batch")
        # Where a session's verification time goes (docs/performance.md): the sources' re-reads, the destination's.
        done = time.perf_counter()
        log.info(
            "chain_checked",
            destination=int(request.destination),
            messages=len(messages),
            sources_ms=round((sources_done - started) * 1e3, 1),
            destination_ms=round((done - sources_done) * 1e3, 1),
        )
