"""The DKG ceremony over the committee channel: three Pedersen DKG runs at once (FROST secp256k1, FROST Ed25519,
and the edwards25519 encryption key, each with its own sub-session id), driven by a coordinator.

    coordinator -> all      dkg.start {epoch, participants, t}       (re-issued every poke interval: "send again")
    member -> all           dkg.round1 {three VSS commitments + PoKs}
    member -> member j      dkg.round2 {f_secp(j), f_ed(j), f_enc(j)}   encrypted to j, signed by the dealer
    member -> all           dkg.complaints [...]                     always sent (possibly empty)
    member -> all           dkg.justify [...]                        shares it was said to withhold (possibly none)
    member -> coordinator   dkg.result {group keys, verification shares, qualified, excluded} or the error
    coordinator -> all      dkg.done {the agreed committee's keys digest, or none: a failed ceremony}

A BAD_SHARE complaint carries the dealer's signed dkg.round2 envelope and the payload key that opens it, so every
member checks the accusation itself: the envelope must be the accused's (signature), for this session, to the
accuser; the share inside must fail VSS against the accused's commitment. If it does not, the accuser is excluded
instead. A `missing_share` complaint is answered by the accused dealer, which publishes the share (`dkg.justify`,
signed like every broadcast): everyone checks it against the dealer's commitment, a valid one clears the dealer and
the accuser uses it, none or an invalid one excludes the dealer (pedersen.py; a dealer accused by t or more members is
excluded without revealing). A round-1 `missing` complaint about a member whose package the judge holds excludes
nobody. All complaints are judged together, so the order they arrive in does not matter. A member excluded in any of
the three runs is excluded from all three, so everyone ends with one qualified
set. Each member seals its three shares (keystore) and the public record as soon as it finalizes; the coordinator
picks the outcome that every member of its qualified set reported, returns that committee record, and tells
everyone (`dkg.done`); a member whose keys differ from the agreed ones, or whose ceremony failed overall, discards
them, so a failed ceremony can simply be run again.

A member takes part only in the ceremony its own configuration describes: `dkg.start` must name exactly its
configured committee and threshold, and the threshold must be a strict majority (`dkg_start_refused` otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

import structlog

from bridge.enclave_api import CommitteeRecord, GroupKeyName, GroupKeys
from enclave_signer.committee.channel import NotAdmittedError, Received, Sent
from enclave_signer.committee.envelope import Envelope, open_with_payload_key
from enclave_signer.committee.errors import EnvelopeRejectedError
from enclave_signer.committee.messages import (
    CeremonyReport,
    ComplaintModel,
    DkgComplaints,
    DkgDone,
    DkgJustifications,
    DkgRound1,
    DkgRound2,
    DkgStart,
    JustificationModel,
    PayloadError,
    Round1Model,
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
from enclave_signer.committee.sessions.members import MemberSessions
from enclave_signer.dkg.complaints import Complaint, ComplaintKind
from enclave_signer.dkg.pedersen import DkgOutput, DkgParticipant, Round1Package, Round2Share
from enclave_signer.frost.errors import FrostError
from enclave_signer.identity import verify_signature
from enclave_signer.keystore import GROUP_KEY_NAMES, EpochKeys

__all__ = ["DkgCoordinator", "DkgMemberSession", "DkgMembers", "sub_session_id"]

_log = structlog.get_logger(__name__)


def sub_session_id(session_id: bytes, name: GroupKeyName) -> bytes:
    """Each of the three DKG runs binds its proofs to its own id (the encryption key is a separate run)."""
    return hashlib.sha256(b"phala-bridge/committee/dkg/v1\x00" + session_id + name.encode()).digest()


class _Abort(Exception):
    """This member cannot finish the ceremony (the message goes to the coordinator)."""


def resend_limited(last: float, interval: float) -> bool:
    return asyncio.get_running_loop().time() - last >= interval / 2


class DkgMemberSession:
    """One member's side of one ceremony."""

    def __init__(self, svc: Services, session_id: bytes, coordinator: int, start: DkgStart, epoch: int) -> None:
        self.svc = svc
        self.session_id = session_id
        self.coordinator = coordinator
        self.start = start
        self.epoch = epoch
        self.outbox: list[Sent] = []
        self.round1: dict[int, DkgRound1] = {}
        self.round2: dict[int, tuple[DkgRound2, Received]] = {}
        self.complaints: dict[int, DkgComplaints] = {}
        self.justifications: dict[int, DkgJustifications] = {}
        self.report: CeremonyReport | None = None
        self.installed: EpochKeys | None = None
        self.verdict: DkgDone | None = None
        self._signal = Signal()
        self._last_resend = -1e9
        self._log = _log.bind(session_id=short(session_id), member_id=svc.member_id, kind="dkg")

    # ---- inbound --------------------------------------------------------------------------------------------------

    def on_message(self, msg: Received) -> None:
        me, sender = self.svc.member_id, msg.sender
        if sender == me or sender not in self.start.participants:
            return
        try:
            if msg.kind == "dkg.round1":
                self.round1.setdefault(sender, decode(DkgRound1, msg.payload, kind=msg.kind))
            elif msg.kind == "dkg.round2":
                if msg.envelope is None or not msg.envelope.encrypted or msg.envelope.recipient != me:
                    return  # shares travel encrypted to their recipient, nothing else counts
                if sender not in self.round2:
                    self.round2[sender] = (decode(DkgRound2, msg.payload, kind=msg.kind), msg)
            elif msg.kind == "dkg.complaints":
                self.complaints.setdefault(sender, decode(DkgComplaints, msg.payload, kind=msg.kind))
            elif msg.kind == "dkg.justify":
                self.justifications.setdefault(sender, decode(DkgJustifications, msg.payload, kind=msg.kind))
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=sender, error=str(exc))
        self._signal.notify()

    def conclude(self, verdict: DkgDone) -> None:
        """The coordinator's verdict: keep our keys only if they are the agreed committee's."""
        self.verdict = verdict
        keys = self.installed
        if keys is None or (verdict.keys_digest is not None and keys.record.keys_digest() == verdict.keys_digest):
            return
        svc = self.svc
        if svc.keys is keys:
            if svc.keystore is not None:
                svc.keystore.discard(keys.epoch)
            svc.install_keys(None, self.epoch)
        self.installed = None
        self._log.warning("dkg_keys_discarded", reason="ceremony failed" if verdict.keys_digest is None else "outvoted")

    async def poke(self) -> None:
        """The coordinator asks again: send everything we have sent in this session once more."""
        if not resend_limited(self._last_resend, self.svc.settings.poke_interval):
            return
        self._last_resend = asyncio.get_running_loop().time()
        for sent in list(self.outbox):
            await self.svc.channel.resend(sent)

    # ---- the ceremony ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            report = await self._ceremony()
            self._log.info("dkg_member_done", qualified=list(report.qualified), excluded=list(report.excluded))
            outcome = "ok"
        except (_Abort, FrostError, KeyError, ValueError) as exc:
            report = CeremonyReport(ok=False, error=f"member {self.svc.member_id}: {exc}"[:500])
            self._log.warning("dkg_member_failed", error=str(exc))
            outcome = "failed"
        self.svc.metrics.sessions.labels("dkg", "member", outcome).inc()
        self.report = report
        with contextlib.suppress(NotAdmittedError):
            self.outbox.append(await self._send(self.coordinator, "dkg.result", encode(report)))

    def _phase_deadline(self, deadline: float) -> float:
        return min(deadline, asyncio.get_running_loop().time() + self.start.timeout_ms / 4000)

    async def _ceremony(self) -> CeremonyReport:
        svc, me, start = self.svc, self.svc.member_id, self.start
        loop = asyncio.get_running_loop()
        deadline = loop.time() + start.timeout_ms / 1000
        if svc.keys is not None:
            raise _Abort(f"already holds group keys for epoch {svc.keys.epoch}; keys move by resharing")
        if start.epoch != svc.epoch:
            raise _Abort(f"is at epoch {svc.epoch}, not {start.epoch}")
        self._check_start()
        missing = await svc.admission.wait_admitted(
            start.participants, min(svc.settings.attest_timeout, deadline - loop.time())
        )
        if missing:
            raise _Abort(f"has not attested members {missing}")
        parts = {
            name: DkgParticipant(
                SUITES[name], me, start.participants, start.threshold, sub_session_id(self.session_id, name)
            )
            for name in GROUP_KEY_NAMES
        }
        mine: list[tuple[GroupKeyName, Complaint]] = []
        others = [j for j in start.participants if j != me]

        # Round 1: commitments and proofs of knowledge, broadcast.
        packages = {name: p.round1() for name, p in parts.items()}
        r1 = DkgRound1(
            packages={
                n: Round1Model(commitment=k.commitment, proof_r=k.proof_r, proof_mu=k.proof_mu)
                for n, k in packages.items()
            }
        )
        await self._broadcast("dkg.round1", encode(r1))
        await self._signal.wait_until(lambda: all(j in self.round1 for j in others), self._phase_deadline(deadline))
        for name, p in parts.items():
            pkgs = [
                Round1Package(j, m.packages[name].commitment, m.packages[name].proof_r, m.packages[name].proof_mu)
                for j, m in self.round1.items()
                if name in m.packages
            ]
            mine += [(name, c) for c in p.receive_round1(pkgs)]
        _unify(parts)

        # Round 2: one encrypted message per qualified member, carrying its three shares.
        dealt = {name: p.round2() for name, p in parts.items()}
        dealers = [j for j in others if j not in parts["secp256k1"].excluded]
        for j in dealers:
            body = encode(DkgRound2(shares={name: dealt[name][j].value for name in GROUP_KEY_NAMES}))
            self.outbox.append(await self._send(j, "dkg.round2", body, encrypt=True))
        await self._signal.wait_until(lambda: all(j in self.round2 for j in dealers), self._phase_deadline(deadline))
        for name, p in parts.items():
            got = [
                Round2Share(j, me, self.round2[j][0].shares[name])
                for j in dealers
                if j in self.round2 and name in self.round2[j][0].shares
            ]
            mine += [(name, c) for c in p.receive_round2(got)]

        # Complaints: everyone broadcasts theirs (with evidence).
        models = tuple(self._complaint_model(name, c) for name, c in mine)
        await self._broadcast("dkg.complaints", encode(DkgComplaints(complaints=models)))
        await self._signal.wait_until(lambda: all(j in self.complaints for j in others), self._phase_deadline(deadline))
        heard: dict[GroupKeyName, list[Complaint]] = {name: [] for name in parts}
        for accuser in sorted(self.complaints):
            for c in self.complaints[accuser].complaints:
                heard[c.suite].append(self._complaint(accuser, c))

        # Justification: a dealer said to have withheld a share publishes it; everyone waits for those dealers.
        revealed = {name: p.justify(heard[name]) for name, p in parts.items()}
        answer = DkgJustifications(
            shares=tuple(
                JustificationModel(suite=name, recipient=sh.recipient, share=sh.value)
                for name, shares in revealed.items()
                for sh in shares
            )
        )
        await self._broadcast("dkg.justify", encode(answer))
        owing = {
            c.accused
            for c in [*(c for cs in heard.values() for c in cs), *(c for _, c in mine)]
            if c.kind is ComplaintKind.MISSING_SHARE and c.accused != me
        } - parts["secp256k1"].excluded
        await self._signal.wait_until(
            lambda: all(j in self.justifications for j in owing), self._phase_deadline(deadline)
        )

        # Judge every complaint the same way everywhere, all at once (the order they arrived in does not matter).
        for name, p in parts.items():
            answers = [
                Round2Share(dealer, j.recipient, j.share)
                for dealer in sorted(self.justifications)
                for j in self.justifications[dealer].shares
                if j.suite == name
            ]
            p.resolve(heard[name], answers)
        for j in others:
            if j not in self.complaints:  # silent through the whole ceremony's last phase: cannot be judged
                for p in parts.values():
                    p.excluded.add(j)
        _unify(parts)
        outputs: dict[GroupKeyName, DkgOutput] = {name: p.finalize() for name, p in parts.items()}
        return self._finish(outputs)

    def _check_start(self) -> None:
        """Take part only in the ceremony our configuration describes: exactly our committee, our threshold, and
        in any case a strict majority (fewer could let a minority hold, or withhold, the group keys)."""
        svc, start = self.svc, self.start
        configured = tuple(sorted(svc.committee_members))
        configured_t = svc.threshold  # before the first DKG (the only time it runs): the configured one
        n = len(start.participants)
        if tuple(sorted(set(start.participants))) != configured or n != len(configured):
            reason = "participants differ from the configured committee"
        elif start.threshold != configured_t:
            reason = "threshold differs from the configured threshold"
        elif not majority_threshold(n) <= start.threshold <= n:
            reason = "threshold is not a strict majority of the participants"
        else:
            return
        self._log.warning(
            "dkg_start_refused",
            reason=reason,
            coordinator=self.coordinator,
            participants=list(start.participants),
            threshold=start.threshold,
            configured_members=list(configured),
            configured_threshold=configured_t,
        )
        raise _Abort(f"refuses the ceremony: {reason} ({list(start.participants)}, t={start.threshold})")

    def _finish(self, outputs: dict[GroupKeyName, DkgOutput]) -> CeremonyReport:
        svc = self.svc
        first = outputs["secp256k1"]
        group_keys = GroupKeys(**{name: out.group_public_key for name, out in outputs.items()})
        verifying = {name: dict(out.verifying_shares) for name, out in outputs.items()}
        record = build_record(
            committee_id=svc.committee_id,
            epoch=self.epoch,
            threshold=self.start.threshold,
            members=first.qualified,
            directory=svc.channel.directory,
            group_keys=group_keys,
            verifying_shares=verifying,
            excluded=first.excluded,
        )
        keys = EpochKeys(record, {name: out.key_share for name, out in outputs.items()})
        if self.verdict is not None and self.verdict.keys_digest != record.keys_digest():
            raise _Abort("the coordinator concluded the ceremony with another outcome")
        if svc.keystore is not None:
            svc.keystore.store(keys, commit=True)
        svc.install_keys(keys, self.epoch)
        self.installed = keys
        return CeremonyReport(
            ok=True,
            epoch=self.epoch,
            threshold=self.start.threshold,
            group_keys=group_keys,
            verifying_shares=verifying,
            qualified=first.qualified,
            excluded=first.excluded,
        )

    # ---- complaints -----------------------------------------------------------------------------------------------

    def _complaint_model(self, name: GroupKeyName, c: Complaint) -> ComplaintModel:
        kind = c.kind.value
        assert kind != ComplaintKind.FALSE_ACCUSATION.value  # only resolve() makes those, never a round
        if c.kind is ComplaintKind.BAD_SHARE and c.accused in self.round2:
            received = self.round2[c.accused][1]
            assert received.envelope is not None and received.raw is not None
            return ComplaintModel(
                suite=name,
                accused=c.accused,
                kind="bad_share",
                evidence_envelope=received.raw,
                payload_key=self.svc.channel.disclose_key(received.envelope),
            )
        return ComplaintModel(suite=name, accused=c.accused, kind=kind)  # type: ignore[arg-type]

    def _complaint(self, accuser: int, c: ComplaintModel) -> Complaint:
        kind = ComplaintKind(c.kind)
        if kind is not ComplaintKind.BAD_SHARE:
            return Complaint(accuser, c.accused, kind)
        # Evidence that does not check out leaves evidence=None: judged a false accusation (the accuser goes).
        return Complaint(accuser, c.accused, kind, evidence=self._evidence(accuser, c))

    def _evidence(self, accuser: int, c: ComplaintModel) -> int | None:
        if c.evidence_envelope is None or c.payload_key is None:
            return None
        try:
            env = Envelope.from_bytes(c.evidence_envelope)
        except EnvelopeRejectedError:
            return None
        if (
            env.kind != "dkg.round2"
            or env.session_id != self.session_id
            or env.sender != c.accused
            or env.recipient != accuser
            or env.committee_id != self.svc.committee_id
            or env.epoch != self.epoch
        ):
            return None
        dealer = self.svc.channel.roster(self.epoch).get(c.accused)
        if dealer is None or not verify_signature(dealer.identity_public_key, env.signing_bytes(), env.signature):
            return None
        try:
            shares = decode(DkgRound2, open_with_payload_key(env, c.payload_key)).shares
        except (EnvelopeRejectedError, PayloadError):
            return None
        return shares.get(c.suite)

    # ---- sending --------------------------------------------------------------------------------------------------

    async def _broadcast(self, kind: str, body: bytes) -> None:
        self.outbox.append(await self.svc.channel.broadcast(self.epoch, self.session_id, kind, body))

    async def _send(self, to: int, kind: str, body: bytes, *, encrypt: bool = False) -> Sent:
        return await self.svc.channel.send(self.epoch, to, self.session_id, kind, body, encrypt=encrypt)


def _unify(parts: dict[GroupKeyName, DkgParticipant]) -> None:
    """Excluded in one run means excluded in all three: one qualified set for the committee."""
    union: set[int] = set().union(*(p.excluded for p in parts.values()))
    for p in parts.values():
        p.excluded |= union


class DkgMembers(MemberSessions[DkgMemberSession, DkgStart]):
    """Member side of every DKG on this node."""

    kind = "dkg"
    start_model = DkgStart
    session_class: type[DkgMemberSession] = DkgMemberSession  # tests substitute misbehaving members

    def involves(self, start: DkgStart) -> bool:
        return self.svc.member_id in start.participants

    def ttl(self, start: DkgStart) -> float:
        return start.timeout_ms / 1000 + self.svc.settings.member_session_ttl

    def create(self, sid: bytes, coordinator: int, start: DkgStart, epoch: int) -> DkgMemberSession:
        return self.session_class(self.svc, sid, coordinator, start, epoch)

    async def route(self, sid: bytes, session: DkgMemberSession, msg: Received) -> None:
        if msg.kind != "dkg.done":
            session.on_message(msg)
        elif msg.sender == session.coordinator:
            try:
                session.conclude(decode(DkgDone, msg.payload, kind=msg.kind))
            finally:
                self.close(sid)


class DkgCoordinator:
    """Runs one ceremony for the operator (through the local API) and returns the committee record."""

    def __init__(self, svc: Services, *, participants: tuple[int, ...], threshold: int, timeout: float) -> None:
        self.svc = svc
        self.session_id = new_session_id()
        self.participants = tuple(sorted(set(participants)))
        self.threshold = threshold
        self.timeout = timeout
        self.reports: dict[int, CeremonyReport] = {}
        self._signal = Signal()
        self._log = _log.bind(session_id=short(self.session_id), member_id=svc.member_id, kind="dkg")

    def on_message(self, msg: Received) -> None:
        if msg.kind != "dkg.result" or msg.sender not in self.participants:
            return
        try:
            self.reports.setdefault(msg.sender, decode(CeremonyReport, msg.payload, kind=msg.kind))
        except PayloadError as exc:
            self._log.warning("payload_rejected", sender=msg.sender, error=str(exc))
        self._signal.notify()

    async def run(self) -> CommitteeRecord:
        svc, loop = self.svc, asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout
        if svc.keys is not None:
            raise CeremonyFailedError(f"this member already holds group keys (epoch {svc.keys.epoch}); use reshare")
        if not majority_threshold(len(self.participants)) <= self.threshold <= len(self.participants):
            raise CeremonyFailedError(
                f"threshold {self.threshold} of {len(self.participants)} participants: at least a majority "
                f"({majority_threshold(len(self.participants))}), at most all"
            )
        missing = await svc.admission.wait_admitted(self.participants, min(svc.settings.attest_timeout, self.timeout))
        if missing:
            why = {m: svc.channel.directory.last_rejection.get(m, "no attestation evidence received") for m in missing}
            raise NotReadyError(f"members {missing} are not attested", why)
        epoch = svc.epoch
        body = encode(
            DkgStart(
                epoch=epoch,
                participants=self.participants,
                threshold=self.threshold,
                timeout_ms=int(self.timeout * 1000),
            )
        )
        ch = svc.channel
        ch.open_session(self.session_id)
        self._log.info("dkg_started", participants=list(self.participants), threshold=self.threshold, epoch=epoch)
        outcome = "failed"
        verdict = DkgDone()
        try:
            await ch.broadcast(epoch, self.session_id, "dkg.start", body)
            await self._signal.wait_until(
                lambda: all(p in self.reports for p in self.participants),
                deadline,
                tick=svc.settings.poke_interval,
                on_tick=lambda: self._poke(epoch, body),
            )
            record = self._evaluate(epoch)
            verdict = DkgDone(keys_digest=record.keys_digest())
            outcome = "ok"
            self._log.info(
                "dkg_done",
                members=list(record.member_ids),
                excluded=list(record.excluded),
                ms=round((loop.time() - started) * 1e3, 1),
            )
            return record
        finally:
            svc.metrics.sessions.labels("dkg", "coordinator", outcome).inc()
            with contextlib.suppress(NotAdmittedError):
                await ch.broadcast(epoch, self.session_id, "dkg.done", encode(verdict))
            ch.close_session(self.session_id)

    async def _poke(self, epoch: int, body: bytes) -> None:
        self.svc.metrics.retransmissions.labels("dkg.start").inc()
        await self.svc.channel.broadcast(epoch, self.session_id, "dkg.start", body)

    def _evaluate(self, epoch: int) -> CommitteeRecord:
        """The outcome every member of its own qualified set reported (members with another view are outvoted)."""
        oks = {m: r for m, r in self.reports.items() if r.ok}
        reasons = {m: r.error for m, r in self.reports.items() if not r.ok}
        reasons.update({m: "no report before the timeout" for m in self.participants if m not in self.reports})
        if not oks:
            raise CeremonyFailedError("no member finished the DKG", reasons)
        agreed = [
            r
            for r in {_view(r): r for r in oks.values()}.values()
            if r.group_keys is not None
            and len(r.qualified) >= self.threshold
            and all(m in oks and _view(oks[m]) == _view(r) for m in r.qualified)
        ]
        if len(agreed) != 1:
            raise CeremonyFailedError("the qualified members did not all report the same outcome", reasons)
        ref = agreed[0]
        assert ref.group_keys is not None
        for m, r in oks.items():
            if _view(r) != _view(ref):
                reasons[m] = "finished with another outcome than the qualified members (outvoted)"
        if reasons:
            self._log.warning("dkg_members_excluded", reasons={str(k): v for k, v in reasons.items()})
        return build_record(
            committee_id=self.svc.committee_id,
            epoch=epoch,
            threshold=self.threshold,
            members=ref.qualified,
            directory=self.svc.channel.directory,
            group_keys=ref.group_keys,
            verifying_shares=ref.verifying_shares,
            excluded=sorted(set(self.participants) - set(ref.qualified)),
        )


def _view(report: CeremonyReport) -> str:
    return report.model_copy(update={"error": ""}).model_dump_json()
