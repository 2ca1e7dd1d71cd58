"""A committee member: its enclave's end of the committee protocol, over any `Transport`.

One `CommitteeNode` per enclave. It reads the transport (attestation handshake on `attest`, envelopes on
`broadcast` and `member/{id}`), verifies every envelope, and dispatches by kind: replies addressed to a session this
node leads go to that session; everything else to the member-side handlers (signing, DKG, resharing, threshold
decryption). It broadcasts heartbeats, tracks who is up, and runs sessions as leader for its local API.

    node = CommitteeNode(config, identity=..., platform=..., quote_verifier=..., transport=..., keystore=...)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.wait_started()
        outcome = await node.sign("secp256k1", request, messages)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import structlog

from bridge.enclave_api import CommitteeRecord, KeyName, SigningRequestModel, StatusResult
from bridge.messages import BridgeMessage
from enclave_signer.attestation.quote import Quote
from enclave_signer.attestation.verifier import QuoteVerifier
from enclave_signer.committee.admission import ATTEST_TOPIC, Admission, Directory, QuoteSource
from enclave_signer.committee.channel import Channel, Received
from enclave_signer.committee.distrust import DistrustBook
from enclave_signer.committee.envelope import MAX_ENVELOPE_SIZE, Envelope
from enclave_signer.committee.errors import EnvelopeRejectedError, TooManySessionsError, TransportError
from enclave_signer.committee.heartbeat import Liveness, heartbeat_session
from enclave_signer.committee.messages import Heartbeat, PayloadError, SignRequest, decode, encode
from enclave_signer.committee.metrics import CommitteeMetrics
from enclave_signer.committee.omission import CheckFailures, OmissionView, OmissionWatch, Skipped
from enclave_signer.committee.replay import ReplayGuard
from enclave_signer.committee.sessions.common import (
    DEFAULT_RESHARE_APPROVAL_S,
    BusyError,
    CeremonyFailedError,
    NotReadyError,
    RequestTooLargeError,
    SessionSettings,
    majority_threshold,
    short,
)
from enclave_signer.committee.sessions.dkg import DkgCoordinator, DkgMembers
from enclave_signer.committee.sessions.reshare import ReshareCoordinator, ReshareMembers
from enclave_signer.committee.sessions.signing import SigningLeader, SigningParticipant, SignOutcome
from enclave_signer.committee.sessions.tdec import DecryptionOutcome, TdecLeader, TdecParticipant
from enclave_signer.committee.transport import BROADCAST_TOPIC, Transport, member_topic
from enclave_signer.committee.verification import (
    BatchVerifier,
    DecryptionVerifier,
    DenyAllDecryptions,
    PolicyVerifier,
)
from enclave_signer.identity import IdentityKey
from enclave_signer.keystore import EpochKeys, Keystore
from enclave_signer.measurement import current_measurement

__all__ = ["CommitteeConfig", "CommitteeNode"]

_log = structlog.get_logger(__name__)
R = TypeVar("R")

_OPENERS = frozenset({"dkg.start", "reshare.start", "sign.request", "tdec.request"})
# The upper bound of `DkgStart.timeout_ms` and `ReshareStart.timeout_ms` (messages.py; a test keeps them equal).
MAX_CEREMONY_TIMEOUT_MS = 3_600_000
_LEADER_KINDS = frozenset(
    {
        "sign.commit",
        "sign.refuse",
        "sign.share",
        "dkg.result",
        "reshare.result",
        "reshare.ack",
        "tdec.share",
        "tdec.refuse",
    }
)


@dataclass(frozen=True)
class CommitteeConfig:
    committee_id: str
    member_id: int
    members: tuple[int, ...]  # the committee before its first DKG (afterwards: the sealed record's)
    threshold: int
    epoch: int = 1  # the epoch to start in without sealed keys (a member joining by resharing: the new epoch)
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 3.5
    # How long after its last poll a relayer still counts as attached. Longer than a relayer restart (~2-3 s), so a
    # restart does not move the lead; a dead or hung relayer hands it over within this time.
    relayer_timeout: float = 10.0
    # A member refusing this many proposals of one leader in a row, for their content, distrusts it for
    # `distrust_ttl` seconds; t members distrusting it move the lead past it (distrust.py).
    distrust_strikes: int = 3
    distrust_ttl: float = 300.0
    # A leader that passes over a message this member's own view says it should deliver (omission.py), for this
    # long, is struck (`skipped`); one that proposes nothing at all in a lane while a message of it waits, for
    # `stall_grace`, likewise (`stalled`); checked every `omission_check_interval`. Only with a verifier that
    # implements `OmissionView`.
    omission_grace: float = 60.0
    stall_grace: float = 120.0
    omission_check_interval: float = 5.0
    attest_interval: float = 1.0
    sessions: SessionSettings = field(default_factory=SessionSettings)


class _Leading(Protocol):
    session_id: bytes

    def on_message(self, msg: Received) -> None: ...


class CommitteeNode:
    def __init__(
        self,
        config: CommitteeConfig,
        *,
        identity: IdentityKey,
        platform: QuoteSource,
        quote_verifier: QuoteVerifier,
        transport: Transport,
        keystore: Keystore | None = None,
        keys: EpochKeys | None = None,
        verifier: BatchVerifier | None = None,
        decryption_verifier: DecryptionVerifier | None = None,
        metrics: CommitteeMetrics | None = None,
    ) -> None:
        self.config = config
        self.member_id = config.member_id
        self.committee_id = config.committee_id
        self.settings = config.sessions
        self.identity = identity
        self._platform = platform
        self.transport = transport
        self.keystore = keystore
        self.verifier: BatchVerifier = verifier or PolicyVerifier()
        self.decryption_verifier: DecryptionVerifier = decryption_verifier or DenyAllDecryptions()
        self.metrics = metrics or CommitteeMetrics()
        # A session another member opened here is kept at most as long as the longest one its handlers keep: a
        # resharing's member side, two ceremony timeouts plus the member grace period (ReshareMembers.ttl).
        # (new members, threshold) -> until (loop time): the resharings this member's operator approved
        self._reshare_approvals: dict[tuple[tuple[int, ...], int], float] = {}
        self.replay = ReplayGuard(
            max_remote_lifetime_ms=2 * MAX_CEREMONY_TIMEOUT_MS + int(config.sessions.member_session_ttl * 1000)
        )
        directory = Directory(config.committee_id, quote_verifier)
        self.channel = Channel(
            committee_id=config.committee_id,
            member_id=config.member_id,
            identity=identity,
            directory=directory,
            transport=transport,
            replay=self.replay,
            session_opener=self._opens_session,
        )
        self.admission = Admission(
            committee_id=config.committee_id,
            member_id=config.member_id,
            identity=identity,
            platform=platform,
            directory=directory,
            publish=self._publish,
            interval=config.attest_interval,
        )
        self.liveness = Liveness(config.member_id, config.heartbeat_timeout, relayer_timeout=config.relayer_timeout)
        self.distrust = DistrustBook(
            config.member_id,
            strikes=config.distrust_strikes,
            ttl=config.distrust_ttl,
            measurement_of=self._measurement_of,
        )
        directory.listeners.append(lambda m: self.distrust.readmitted(m.member_id, m.measurement.value))
        self.omission = OmissionWatch(config.member_id, grace=config.omission_grace, stall_grace=config.stall_grace)
        if keys is None and keystore is not None:
            keys = keystore.load()
        self._keys = keys
        self._epoch = keys.epoch if keys is not None else config.epoch
        if keys is not None:
            directory.pin(keys.record)
        self.signing = SigningParticipant(self)
        self.dkg_members = DkgMembers(self)
        self.reshare_members = ReshareMembers(self)
        self.tdec = TdecParticipant(self)
        self._leading: dict[bytes, _Leading] = {}
        self._started = asyncio.Event()
        self._quote_rejections_seen: Counter[str] = Counter()
        self._log = _log.bind(member_id=self.member_id, committee_id=self.committee_id)

    # ---- state ----------------------------------------------------------------------------------------------------

    @property
    def keys(self) -> EpochKeys | None:
        return self._keys

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def committee_members(self) -> tuple[int, ...]:
        return self._keys.record.member_ids if self._keys is not None else tuple(sorted(self.config.members))

    @property
    def threshold(self) -> int:
        return self._keys.record.threshold if self._keys is not None else self.config.threshold

    @property
    def record(self) -> CommitteeRecord | None:
        return None if self._keys is None else self._keys.record

    def install_keys(self, keys: EpochKeys | None, epoch: int) -> None:
        """Switch to `epoch` with `keys` (None: this member holds no share in it)."""
        self._keys = keys
        self._epoch = epoch
        self._retain_epochs()
        if keys is not None:
            self.channel.directory.pin(keys.record)
            self.admission.expect(keys.record.member_ids)
        self._log.info("epoch_installed", epoch=epoch, has_keys=keys is not None)

    def _retain_epochs(self) -> None:
        keep = {self._epoch, self._epoch + 1}
        for epoch in set(self.channel.epochs) - keep:
            self.replay.close_session(heartbeat_session(self.committee_id, epoch))
        self.channel.retain_epochs(keep)
        self._open_heartbeat_sessions()

    def _open_heartbeat_sessions(self) -> None:
        """Open the heartbeat sessions of our epoch and the next (also retried by housekeeping: a full session table
        must not fail `install_keys` at the end of a ceremony, nor leave heartbeats refused for good)."""
        for epoch in (self._epoch, self._epoch + 1):
            sid = heartbeat_session(self.committee_id, epoch)
            if self.replay.is_open(sid):
                continue
            try:
                self.replay.open_session(sid)
            except ValueError:
                pass  # closed before: session ids are single-use
            except TooManySessionsError as exc:
                self._log.warning("heartbeat_session_not_opened", epoch=epoch, error=str(exc))

    def members_up(self) -> tuple[int, ...]:
        return self.liveness.up(self.committee_members)

    def leader(self) -> int | None:
        return self.liveness.leader(self.committee_members, skip=self.skipped_leaders())

    def skipped_leaders(self) -> frozenset[int]:
        """Members t members up distrust: they do not lead (distrust.py)."""
        skipped = self.distrust.skipped(self.members_up(), self.threshold)
        self.metrics.distrusted.set(len(skipped))
        return skipped

    def _measurement_of(self, member_id: int) -> bytes | None:
        member = self.channel.directory.get(member_id)
        return None if member is None else member.measurement.value

    # ---- running --------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the committee until cancelled."""
        for topic in (BROADCAST_TOPIC, member_topic(self.member_id), ATTEST_TOPIC):
            await self.transport.subscribe(topic)
        self.admission.admit_self()
        self._retain_epochs()
        self.admission.expect(self.committee_members)
        self._log.info(
            "committee_node_started",
            epoch=self._epoch,
            has_keys=self._keys is not None,
            members=list(self.committee_members),
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read_transport(), name="committee-transport")
            tg.create_task(self._read_local(), name="committee-local")
            tg.create_task(self._heartbeats(), name="committee-heartbeats")
            tg.create_task(self.admission.run(), name="committee-admission")
            tg.create_task(self._housekeeping(), name="committee-housekeeping")
            tg.create_task(self._omission_checks(), name="committee-omission")
            self._started.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def _read_transport(self) -> None:
        async for raw in self.transport.messages():
            if raw.topic_suffix == ATTEST_TOPIC:
                await self.admission.on_message(raw.payload)
                continue
            try:
                msg = self.channel.open(raw.payload)
            except EnvelopeRejectedError as exc:
                self.metrics.rejections.labels(exc.reason).inc()
                if exc.reason != "own_message":
                    self._log.debug("envelope_rejected", reason=exc.reason, topic=raw.topic_suffix)
                continue
            await self._dispatch(msg)

    async def _read_local(self) -> None:
        while True:
            await self._dispatch(await self.channel.local.get())

    async def _dispatch(self, msg: Received) -> None:
        try:
            await self._handle(msg)
        finally:
            if not msg.local:
                self._release_unclaimed(msg)

    async def _handle(self, msg: Received) -> None:
        kind = msg.kind
        if kind == "hb":
            if not msg.local:
                try:
                    beat = decode(Heartbeat, msg.payload, kind="hb")
                except PayloadError as exc:
                    # Authenticated but malformed: still a sign of life; its relayer flag is unknown.
                    self._log.warning("heartbeat_malformed", sender=msg.sender, error=str(exc))
                    self.liveness.saw(msg.sender)
                else:
                    self.liveness.saw(msg.sender, relaying=beat.relaying)
                    self.distrust.announced(msg.sender, beat.distrust)
            return
        if not msg.local:
            self.liveness.saw(msg.sender)
        try:
            if kind in _LEADER_KINDS:
                leading = self._leading.get(msg.session_id)
                if leading is not None:
                    leading.on_message(msg)
                return
            family = kind.split(".", 1)[0]
            if family == "sign":
                await self.signing.on_message(msg)
            elif family == "dkg":
                await self.dkg_members.on_message(msg)
            elif family == "reshare":
                await self.reshare_members.on_message(msg)
            elif family == "tdec":
                await self.tdec.on_message(msg)
        except Exception:
            # A bug handling one message must not stop the member; the message is dropped.
            self._log.exception("message_handler_failed", kind=kind, sender=msg.sender)

    def _release_unclaimed(self, msg: Received) -> None:
        """Drop a session another member's envelope opened here once no handler took it (a payload that does not
        decode, a leader or member outside the key record, a build that speaks otherwise): nothing would ever close
        it, and its opener could keep it alive with traffic. Handlers register synchronously while handling."""
        sid = msg.session_id
        opener = self.replay.opener_of(sid)
        if opener is None or self._claimed(sid):
            return
        self.replay.discard_session(sid)
        self._log.debug("unclaimed_session_dropped", session_id=short(sid), opener=opener, kind=msg.kind)

    def _claimed(self, sid: bytes) -> bool:
        # The member-side handlers keep their sessions until their sweeps and `*.done` close them.
        return sid in self._leading or any(
            h.holds(sid) for h in (self.signing, self.tdec, self.dkg_members, self.reshare_members)
        )

    def _opens_session(self, env: Envelope) -> bool:
        return env.kind in _OPENERS

    async def _heartbeats(self) -> None:
        while True:
            epoch = self._epoch
            if self.channel.can_sign(epoch):
                beat = Heartbeat(
                    epoch=epoch,
                    has_keys=self._keys is not None,
                    relaying=self.liveness.relaying,
                    distrust=tuple(sorted(self.distrust.distrusted())),
                )
                # Without distrust the field is left out: members of an older build (extra fields forbidden) still
                # read the heartbeat, relayer flag included.
                body = beat.model_dump_json(exclude=None if beat.distrust else {"distrust"}).encode()
                await self.channel.broadcast(epoch, heartbeat_session(self.committee_id, epoch), "hb", body)
            await asyncio.sleep(self.config.heartbeat_interval)

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            self.signing.sweep(now)
            self.dkg_members.sweep(now)
            self.reshare_members.sweep(now)
            self.tdec.sweep(now)
            self._open_heartbeat_sessions()
            self.metrics.members_up.set(len(self.members_up()))
            self.skipped_leaders()  # expiries and changes are logged (and the gauge set) even when nobody asks
            for reason, count in self.channel.directory.rejections.items():
                delta = count - self._quote_rejections_seen[reason]
                if delta > 0:
                    self.metrics.quote_rejections.labels(reason).inc(delta)
                    self._quote_rejections_seen[reason] = count
            await asyncio.sleep(1.0)

    async def _omission_checks(self) -> None:
        """Strike the leader for messages it passes over (omission.py), when the verifier can say what waits."""
        interval = self.config.omission_check_interval
        failures = CheckFailures(self._log)
        while True:
            await asyncio.sleep(interval)
            view = self.verifier
            if not isinstance(view, OmissionView):
                continue
            try:
                async with asyncio.timeout(max(interval, self.settings.verify_timeout)):
                    strikes = await self.omission.check(self.leader(), view)
            except Exception as exc:
                # This member cannot see what waits right now: no evidence either way (never a strike).
                failures.failed(f"{type(exc).__name__}: {exc}")
                continue
            failures.succeeded()
            for s in strikes:
                destination, lane = str(s.lane.destination), str(s.lane)
                if isinstance(s, Skipped):
                    self.metrics.skipped.labels(destination, s.lane.kind).inc()
                    self._log.warning(
                        "leader_skipped_message", leader=s.leader, message_id=s.message_id[:18], lane=lane,
                        age_s=round(s.age, 1),
                    )  # fmt: skip
                    self.distrust.refused(s.leader, "skipped")
                else:
                    self.metrics.stalled.labels(destination, s.lane.kind).inc()
                    self._log.warning(
                        "leader_stalled_lane", leader=s.leader, message_id=s.message_id[:18], lane=lane,
                        age_s=round(s.age, 1), waiting=s.waiting,
                    )  # fmt: skip
                    self.distrust.refused(s.leader, "stalled")

    async def _publish(self, topic: str, payload: bytes) -> None:
        try:
            await self.transport.publish(topic, payload)
        except TransportError as exc:
            self._log.warning("publish_failed", topic=topic, error=str(exc))

    # ---- the local API's operations -------------------------------------------------------------------------------

    async def _lead(self, session: _Leading, run: Callable[[], Awaitable[R]]) -> R:
        """Run a session this node leads: replies addressed to it are routed to it while it runs."""
        self._leading[session.session_id] = session
        try:
            return await run()
        except TooManySessionsError:
            raise BusyError("too many committee sessions are open on this member; retry shortly") from None
        finally:
            del self._leading[session.session_id]

    def attest(self, nonce: bytes) -> Quote:
        """A quote over this enclave's identity key and the caller's nonce."""
        return self._platform.quote(identity_public_key=self.identity.public_key, nonce=nonce)

    def _signing_keys(self) -> EpochKeys:
        keys = self._keys
        if keys is None or self.member_id not in keys.record.member_ids:
            raise NotReadyError("this member holds no group keys yet: run `phala-bridge committee dkg`")
        if not self.channel.can_sign(keys.epoch):
            raise NotReadyError("this enclave is not admitted (its own quote does not verify)")
        return keys

    async def sign(
        self,
        key: KeyName,
        request: SigningRequestModel,
        messages: Sequence[BridgeMessage],
        *,
        timeout_s: float | None = None,
    ) -> SignOutcome:
        """Lead a signing session. Raises SessionRefusedError (a `SigningRefused`) or SessionUnavailableError (a
        `SigningUnavailable`), NotReadyError, RequestTooLargeError."""
        keys = self._signing_keys()
        body = encode(SignRequest(attempt=0, key=key, request=request, messages=tuple(messages)))
        if len(body) > MAX_ENVELOPE_SIZE - 4096:
            raise RequestTooLargeError(f"the batch ({len(body)} bytes) does not fit one committee message")
        session = SigningLeader(
            self, keys, key=key, request=request, messages=messages, timeout=timeout_s or self.settings.session_timeout
        )
        return await self._lead(session, session.run)

    async def dkg(
        self, participants: Sequence[int] | None = None, threshold: int | None = None, *, timeout_s: float = 60.0
    ) -> tuple[CommitteeRecord, bytes]:
        if not self.channel.can_sign(self._epoch):
            raise NotReadyError("this enclave is not admitted (its own quote does not verify)")
        session = DkgCoordinator(
            self,
            participants=tuple(participants or self.config.members),
            threshold=threshold or self.config.threshold,
            timeout=timeout_s,
        )
        return await self._lead(session, session.run), session.session_id

    def approve_reshare(
        self, new_members: Sequence[int], new_threshold: int, *, ttl_s: float = DEFAULT_RESHARE_APPROVAL_S
    ) -> float:
        """This member's operator approves resharing to exactly this committee for `ttl_s` seconds (the local API:
        only the operator reaches it). A member deals, takes new shares, or erases its own on commit only for a
        committee its operator approved: no single operator (nor a rogue coordinator enclave) can move the keys to a
        committee of its choosing. Returns the approval's end (monotonic seconds)."""
        members = tuple(sorted(set(new_members)))
        if not 1 <= new_threshold <= len(members) or new_threshold < majority_threshold(len(members)):
            raise CeremonyFailedError(
                f"threshold {new_threshold} of {len(members)} members: at least a majority "
                f"({majority_threshold(len(members))}), at most all"
            )
        if not 0 < ttl_s <= 7 * 86_400:
            raise CeremonyFailedError(f"approval lifetime {ttl_s} s: between 0 and 7 days")
        until = asyncio.get_running_loop().time() + ttl_s
        self._reshare_approvals = {
            k: v for k, v in self._reshare_approvals.items() if v > asyncio.get_running_loop().time()
        }
        self._reshare_approvals[(members, new_threshold)] = until
        self._log.info("reshare_approved", new_members=list(members), new_threshold=new_threshold, ttl_s=ttl_s)
        return until

    def reshare_approved(self, new_members: Sequence[int], new_threshold: int) -> bool:
        until = self._reshare_approvals.get((tuple(sorted(set(new_members))), new_threshold))
        return until is not None and until > asyncio.get_running_loop().time()

    async def reshare(
        self,
        new_members: Sequence[int],
        new_threshold: int,
        *,
        old_signers: Sequence[int] | None = None,
        timeout_s: float = 60.0,
    ) -> tuple[CommitteeRecord, bytes]:
        self._signing_keys()
        self.approve_reshare(new_members, new_threshold)  # the coordinator's operator asks for it: approved here
        session = ReshareCoordinator(
            self,
            new_members=tuple(new_members),
            new_threshold=new_threshold,
            old_signers=None if old_signers is None else tuple(old_signers),
            timeout=timeout_s,
        )
        return await self._lead(session, session.run), session.session_id

    async def decryption_shares(
        self, ciphertext: bytes, requester_public_key: bytes, *, timeout_s: float | None = None
    ) -> DecryptionOutcome:
        keys = self._signing_keys()
        session = TdecLeader(
            self,
            keys,
            ciphertext=ciphertext,
            requester_public_key=requester_public_key,
            timeout=timeout_s or self.settings.session_timeout,
            # shares sealed to this enclave are opened and checked as they arrive (a bad one drops its member)
            opener=self.identity.open_sealed_box if requester_public_key == self.identity.x25519_public_key else None,
        )
        return await self._lead(session, session.run)

    def status(self, *, relayer: bool = False) -> StatusResult:
        """The committee view; `relayer=True` is our relayer's poll, which marks it attached (it may lead)."""
        if relayer:
            self.liveness.relayer_polled()
        keys = self._keys
        connected = getattr(self.transport, "connected", True)
        return StatusResult(
            committee_id=self.committee_id,
            member_id=self.member_id,
            epoch=self._epoch,
            has_keys=keys is not None,
            threshold=self.threshold,
            members=self.committee_members,
            members_up=self.members_up(),
            leader=self.leader(),
            relaying=self.liveness.relayers(self.committee_members),
            attested=self.channel.directory.member_ids,
            group_keys=None if keys is None else keys.record.group_keys,
            record_digest=None if keys is None else keys.record.digest(),
            identity_public_key=self.identity.public_key,
            measurement=current_measurement().value,
            platform_id=self._platform.platform_id,
            quote_rejections=dict(self.channel.directory.rejections),
            envelope_rejections=dict(self.channel.rejections),
            broker_connected=bool(connected),
        )
