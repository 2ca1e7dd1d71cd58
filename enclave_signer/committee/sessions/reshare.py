"""Resharing: move the same three group keys from the committee of epoch E to a new committee (t', n') at E+1.

    coordinator -> all          reshare.start {old record, old signers S, new members N, t'}   (at epoch E+1)
    old signer i -> all         reshare.dealing {its view of the old record (digest), three commitments}
    old signer i -> new j       reshare.share {g_i(j) for the three keys}   encrypted to j
    new member j -> coord.      reshare.result {group keys (unchanged), new verification shares} or the error
    coordinator -> all          reshare.commit {new record}     (re-issued until every old and new member acks)
    member -> coordinator       reshare.ack

Envelopes of a resharing carry the new epoch; every member also listens one epoch ahead, and a member joining the
committee is started at the new epoch. A new member accepts a dealer only if the dealer's view of the old committee
is the start message's (record digest) and its dealing is a sub-sharing of its own old share (D_i,0 = lambda_i Y_i,
checked by `ReshareRecipient`). New shares stay pending (sealed, not current) until the coordinator's commit,
which it sends only when every new member reported the same outcome; on commit, new members switch to the new
epoch and members that are not in it erase their shares.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bridge.enclave_api import CommitteeRecord
from enclave_signer.committee.channel import NotAdmittedError, Received, Sent
from enclave_signer.committee.messages import (
    CeremonyReport,
    PayloadError,
    ReshareAck,
    ReshareCommit,
    ReshareDealingMsg,
    ReshareShares,
    ReshareStart,
    decode,
    encode,
)
from enclave_signer.committee.record import build_record
from enclave_signer.committee.sessions.common import (
    SUITES,
    CeremonyFailedError,
    NotReadyError,
    Services,
    Signal,
    majority_threshold,
    new_session_id,
    short,
)
from enclave_signer.committee.sessions.dkg import resend_limited
from enclave_signer.committee.sessions.members import MemberSessions
from enclave_signer.dkg.resharing import ReshareDealing, ReshareRecipient, ReshareShare, deal_reshare
from enclave_signer.frost.errors import FrostError
from enclave_signer.keystore import GROUP_KEY_NAMES, EpochKeys

__all__ = ["ReshareCoordinator", "ReshareMemberSession", "ReshareMembers"]

_log = structlog.get_logger(__name__)


class _Abort(Exception):
    pass


def _check_new_committee(svc: Services, start: ReshareStart) -> None:
    """A member takes part (deals, takes shares, erases its own on commit) only in a resharing to a committee with a
    majority threshold that its own operator approved (`committee approve-reshare`, the local API)."""
    members = tuple(sorted(set(start.new_members)))
    if start.new_threshold < majority_threshold(len(members)):
        raise _Abort(
            f"threshold {start.new_threshold} of {len(members)} new members is below a majority "
            f"({majority_threshold(len(members))})"
        )
    if not svc.reshare_approved(members, start.new_threshold):
        raise _Abort(
            f"its operator has not approved resharing to members {list(members)} with threshold "
            f"{start.new_threshold} (phala-bridge committee approve-reshare)"
        )


class ReshareMemberSession:
    def __init__(self, svc: Services, session_id: bytes, coordinator: int, start: ReshareStart, epoch: int) -> None:
        self.svc = svc
        self.session_id = session_id
        self.coordinator = coordinator
        self.start = start
        self.epoch = epoch  # the new epoch
        self.outbox: list[Sent] = []
        self.dealings: dict[int, ReshareDealingMsg] = {}
        self.shares: dict[int, ReshareShares] = {}
        self.pending: EpochKeys | None = None
        self.ack: Sent | None = None
        self._signal = Signal()
        self._last_resend = -1e9
        self._log = _log.bind(session_id=short(session_id), member_id=svc.member_id, kind="reshare")

    @property
    def is_dealer(self) -> bool:
        return self.svc.member_id in self.start.old_signers

    @property
    def is_recipient(self) -> bool:
        return self.svc.member_id in self.start.new_members

    def on_message(self, msg: Received) -> None:
        sender = msg.sender
        if sender not in self.start.old_signers:
            return
        try:
            if msg.kind == "reshare.dealing":
                self.dealings.setdefault(sender, decode(ReshareDealingMsg, msg.payload, kind=msg.kind))
            elif msg.kind == "reshare.share":
                if not msg.local and (msg.envelope is None or not msg.envelope.encrypted):
                    return
                self.shares.setdefault(sender, decode(ReshareShares, msg.payload, kind=msg.kind))
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=sender, error=str(exc))
        self._signal.notify()

    async def poke(self) -> None:
        if not resend_limited(self._last_resend, self.svc.settings.poke_interval):
            return
        self._last_resend = asyncio.get_running_loop().time()
        for sent in list(self.outbox):
            await self.svc.channel.resend(sent)

    async def run(self) -> None:
        report: CeremonyReport | None
        try:
            report = await self._ceremony()
            outcome = "ok"
        except (_Abort, FrostError, KeyError, ValueError) as exc:
            report = CeremonyReport(ok=False, error=f"member {self.svc.member_id}: {exc}"[:500])
            self._log.warning("reshare_member_failed", error=str(exc))
            outcome = "failed"
        self.svc.metrics.sessions.labels("reshare", "member", outcome).inc()
        if report is not None:
            with contextlib.suppress(NotAdmittedError):
                sent = await self.svc.channel.send(
                    self.epoch, self.coordinator, self.session_id, "reshare.result", encode(report)
                )
                self.outbox.append(sent)

    async def _ceremony(self) -> CeremonyReport | None:
        svc, start, me = self.svc, self.start, self.svc.member_id
        old = start.old_record
        loop = asyncio.get_running_loop()
        deadline = loop.time() + start.timeout_ms / 1000
        if self.epoch != old.epoch + 1:
            raise _Abort(f"resharing from epoch {old.epoch} must go to {old.epoch + 1}, not {self.epoch}")
        _check_new_committee(svc, start)
        signers = tuple(sorted(start.old_signers))
        if not set(signers) <= set(old.member_ids) or len(signers) < old.threshold:
            raise _Abort("the old signers are not a threshold of the old committee")
        involved = set(signers) | set(start.new_members)
        missing = await svc.admission.wait_admitted(involved, min(svc.settings.attest_timeout, deadline - loop.time()))
        if missing:
            raise _Abort(f"has not attested members {missing}")
        if self.is_dealer:
            await self._deal(old, signers)
        if not self.is_recipient:
            return None
        await self._signal.wait_until(lambda: all(i in self.dealings and i in self.shares for i in signers), deadline)
        lacking = [i for i in signers if i not in self.dealings or i not in self.shares]
        if lacking:
            raise _Abort(f"no dealing from old signers {lacking}")
        digest = old.keys_digest()
        differing = [i for i in signers if self.dealings[i].old_record_digest != digest]
        if differing:
            raise _Abort(f"old signers {differing} see another committee than the start message")
        new_members = tuple(sorted(start.new_members))
        shares, verifying = {}, {}
        for name in GROUP_KEY_NAMES:
            recipient = ReshareRecipient(
                SUITES[name],
                me,
                old.group_keys.get(name),
                old.verifying_shares[name],
                signers,
                new_members,
                start.new_threshold,
            )
            dealings = [ReshareDealing(i, self.dealings[i].commitments[name]) for i in signers]
            recipient.receive(dealings, [ReshareShare(i, me, self.shares[i].shares[name]) for i in signers])
            shares[name], verifying[name] = recipient.finalize()
        record = build_record(
            committee_id=svc.committee_id,
            epoch=self.epoch,
            threshold=start.new_threshold,
            members=new_members,
            directory=svc.channel.directory,
            group_keys=old.group_keys,
            verifying_shares=verifying,
        )
        self.pending = EpochKeys(record, shares)
        if svc.keystore is not None:
            svc.keystore.store(self.pending, commit=False)
        self._log.info("reshare_shares_pending", epoch=self.epoch)
        return CeremonyReport(
            ok=True,
            epoch=self.epoch,
            threshold=start.new_threshold,
            group_keys=old.group_keys,
            verifying_shares=verifying,
            qualified=new_members,
        )

    async def _deal(self, old: CommitteeRecord, signers: tuple[int, ...]) -> None:
        keys = self.svc.keys
        if keys is None or keys.epoch != old.epoch or keys.record.keys_digest() != old.keys_digest():
            raise _Abort("holds no keys of the committee the start message names")
        new_members = tuple(sorted(self.start.new_members))
        dealt = {
            name: deal_reshare(SUITES[name], keys.share(name), signers, new_members, self.start.new_threshold)
            for name in GROUP_KEY_NAMES
        }
        msg = ReshareDealingMsg(
            old_record_digest=old.keys_digest(), commitments={name: d.commitment for name, (d, _) in dealt.items()}
        )
        ch = self.svc.channel
        self.outbox.append(await ch.broadcast(self.epoch, self.session_id, "reshare.dealing", encode(msg)))
        for j in new_members:
            body = encode(ReshareShares(shares={name: s[j].value for name, (_, s) in dealt.items()}))
            self.outbox.append(await ch.send(self.epoch, j, self.session_id, "reshare.share", body, encrypt=True))
        self._log.info("reshare_dealt", to=list(new_members))

    async def on_commit(self, msg: Received) -> None:
        if msg.sender != self.coordinator:
            return
        if self.ack is not None:
            await self.svc.channel.resend(self.ack)
            return
        try:
            record = decode(ReshareCommit, msg.payload, kind=msg.kind).record
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=msg.sender, error=str(exc))
            return
        svc, me = self.svc, self.svc.member_id
        if record.epoch != self.epoch or record.group_keys != self.start.old_record.group_keys:
            self._log.error("reshare_commit_refused", reason="epoch or group keys differ")
            return
        # The committee committed must be the one the start named, which this member's operator approved: a
        # coordinator cannot commit another one (e.g. itself alone) and make the others erase their shares.
        if record.member_ids != tuple(sorted(self.start.new_members)) or record.threshold != self.start.new_threshold:
            self._log.error("reshare_commit_refused", reason="the record is not the committee the start named")
            return
        try:
            _check_new_committee(svc, self.start)
        except _Abort as exc:
            self._log.error("reshare_commit_refused", reason=str(exc))
            return
        directory = svc.channel.directory
        for m in record.members:
            known = directory.get(m.member_id)
            if known is None or known.identity_public_key != m.identity_public_key:
                self._log.error("reshare_commit_refused", reason=f"member {m.member_id} identity differs")
                return
        if me in record.member_ids:
            mine = self.pending
            if mine is None or mine.record.verifying_shares != record.verifying_shares:
                self._log.error("reshare_commit_refused", reason="no matching pending shares")
                return
            keys = EpochKeys(record, mine.shares)
            if svc.keystore is not None:
                svc.keystore.store(keys, commit=True)
            svc.install_keys(keys, self.epoch)
        elif svc.keys is not None and svc.keys.epoch == self.start.old_record.epoch:
            if svc.keystore is not None:
                svc.keystore.leave(self.epoch)
            svc.install_keys(None, self.epoch)
        self._log.info("reshare_committed", epoch=self.epoch, member=me in record.member_ids)
        self.ack = await svc.channel.send(
            self.epoch,
            self.coordinator,
            self.session_id,
            "reshare.ack",
            encode(ReshareAck(record_digest=record.digest())),
        )


class ReshareMembers(MemberSessions[ReshareMemberSession, ReshareStart]):
    """Member side of every resharing on this node (old signers, new members, and old members who will leave)."""

    kind = "reshare"
    start_model = ReshareStart

    def involves(self, start: ReshareStart) -> bool:
        me = self.svc.member_id
        return me in start.old_signers or me in start.new_members or me in start.old_record.member_ids

    def ttl(self, start: ReshareStart) -> float:
        return 2 * start.timeout_ms / 1000 + self.svc.settings.member_session_ttl  # two rounds of the timeout

    def create(self, sid: bytes, coordinator: int, start: ReshareStart, epoch: int) -> ReshareMemberSession:
        return ReshareMemberSession(self.svc, sid, coordinator, start, epoch)

    def opened(self, start: ReshareStart) -> None:
        self.svc.admission.expect([*start.old_signers, *start.new_members])

    async def route(self, sid: bytes, session: ReshareMemberSession, msg: Received) -> None:
        if msg.kind == "reshare.commit":
            await session.on_commit(msg)
        else:
            session.on_message(msg)


class ReshareCoordinator:
    def __init__(
        self,
        svc: Services,
        *,
        new_members: tuple[int, ...],
        new_threshold: int,
        old_signers: tuple[int, ...] | None,
        timeout: float,
    ) -> None:
        self.svc = svc
        self.session_id = new_session_id()
        self.new_members = tuple(sorted(set(new_members)))
        self.new_threshold = new_threshold
        self.old_signers = old_signers
        self.timeout = timeout
        self.reports: dict[int, CeremonyReport] = {}
        self.acks: set[int] = set()
        self._signal = Signal()
        self._log = _log.bind(session_id=short(self.session_id), member_id=svc.member_id, kind="reshare")

    def on_message(self, msg: Received) -> None:
        try:
            if msg.kind == "reshare.result" and msg.sender in self.new_members:
                self.reports.setdefault(msg.sender, decode(CeremonyReport, msg.payload, kind=msg.kind))
            elif msg.kind == "reshare.ack":
                decode(ReshareAck, msg.payload, kind=msg.kind)
                self.acks.add(msg.sender)
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=msg.sender, error=str(exc))
        self._signal.notify()

    def _signers(self, old: CommitteeRecord) -> tuple[int, ...]:
        if self.old_signers is not None:
            return tuple(sorted(set(self.old_signers)))
        me = self.svc.member_id
        up = [m for m in self.svc.liveness.up(old.member_ids)]
        ordered = ([me] if me in up else []) + [m for m in up if m != me]
        return tuple(sorted(ordered[: old.threshold]))

    async def run(self) -> CommitteeRecord:
        svc, loop = self.svc, asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout
        keys = svc.keys
        if keys is None:
            raise NotReadyError("this member holds no group keys to reshare")
        old = keys.record
        signers = self._signers(old)
        if not set(signers) <= set(old.member_ids) or len(signers) < old.threshold:
            raise CeremonyFailedError(
                f"old signers {list(signers)} are not {old.threshold} members of epoch {old.epoch}"
            )
        if not majority_threshold(len(self.new_members)) <= self.new_threshold <= len(self.new_members):
            raise CeremonyFailedError(
                f"threshold {self.new_threshold} of {len(self.new_members)} members: at least a majority "
                f"({majority_threshold(len(self.new_members))}), at most all"
            )
        involved = sorted(set(signers) | set(self.new_members))
        missing = await svc.admission.wait_admitted(involved, min(svc.settings.attest_timeout, self.timeout))
        if missing:
            why = {m: svc.channel.directory.last_rejection.get(m, "no attestation evidence received") for m in missing}
            raise NotReadyError(f"members {missing} are not attested", why)
        epoch = old.epoch + 1
        start = ReshareStart(
            old_record=old,
            old_signers=signers,
            new_members=self.new_members,
            new_threshold=self.new_threshold,
            timeout_ms=int(self.timeout * 1000),
        )
        body = encode(start)
        ch = svc.channel
        ch.ensure_epoch(epoch)
        ch.open_session(self.session_id)
        self._log.info("reshare_started", old_epoch=old.epoch, signers=list(signers), new=list(self.new_members))
        outcome = "failed"
        try:
            await ch.broadcast(epoch, self.session_id, "reshare.start", body)
            await self._signal.wait_until(
                lambda: all(m in self.reports for m in self.new_members),
                deadline,
                tick=svc.settings.poke_interval,
                on_tick=lambda: self._rebroadcast(epoch, "reshare.start", body),
            )
            record = self._evaluate(old, epoch)
            commit = encode(ReshareCommit(record=record))
            await ch.broadcast(epoch, self.session_id, "reshare.commit", commit)
            everyone = set(self.new_members) | set(old.member_ids)
            acked = await self._signal.wait_until(
                lambda: everyone <= self.acks,
                deadline,
                tick=svc.settings.poke_interval,
                on_tick=lambda: self._rebroadcast(epoch, "reshare.commit", commit),
            )
            if not acked:
                self._log.warning("reshare_unacknowledged", members=sorted(everyone - self.acks))
            outcome = "ok"
            self._log.info("reshare_done", epoch=epoch, ms=round((loop.time() - started) * 1e3, 1))
            return record
        finally:
            svc.metrics.sessions.labels("reshare", "coordinator", outcome).inc()
            ch.close_session(self.session_id)

    async def _rebroadcast(self, epoch: int, kind: str, body: bytes) -> None:
        self.svc.metrics.retransmissions.labels(kind).inc()
        await self.svc.channel.broadcast(epoch, self.session_id, kind, body)

    def _evaluate(self, old: CommitteeRecord, epoch: int) -> CommitteeRecord:
        reasons = {m: r.error for m, r in self.reports.items() if not r.ok}
        reasons.update({m: "no report before the timeout" for m in self.new_members if m not in self.reports})
        if reasons:
            raise CeremonyFailedError("resharing failed; rerun, possibly with other old signers", reasons)
        views = {
            (r.model_dump_json(include={"group_keys", "verifying_shares", "threshold"})) for r in self.reports.values()
        }
        ref = next(iter(self.reports.values()))
        if len(views) != 1 or ref.group_keys != old.group_keys:
            raise CeremonyFailedError("new members finished with different outcomes")
        return build_record(
            committee_id=self.svc.committee_id,
            epoch=epoch,
            threshold=self.new_threshold,
            members=self.new_members,
            directory=self.svc.channel.directory,
            group_keys=old.group_keys,
            verifying_shares=ref.verifying_shares,
        )
