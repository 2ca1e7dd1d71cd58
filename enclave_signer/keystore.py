"""The enclave's keystore: the identity key and the committee key shares, sealed at rest with `Sealer`.

Layout of `sealed_dir` (mode 0700, files 0600, written atomically by `Sealer.seal_to_file`):

    identity.sealed        purpose "identity-key"            the member's Ed25519 identity key
    keys-e{E}.sealed       purpose "committee-keys/e{E}"     epoch E: the committee record + this member's three shares
    current.sealed         purpose "committee-current"       the committed epoch (the commit point)

The epoch is in the purpose label, so one epoch's bundle cannot be loaded as another's. A bundle is written first and
only becomes current when `commit` rewrites `current.sealed`; a resharing writes the new epoch's bundle as pending
and commits it when the coordinator confirms the whole new committee holds its shares, then erases the old one.
Nothing here returns a share to a caller outside the enclave: `EpochKeys` stays in the process, redacts in repr and
refuses to be pickled; errors name files and epochs, never contents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from bridge.enclave_api import CommitteeRecord, GroupKeyName
from enclave_signer.frost.keys import KeyShare
from enclave_signer.identity import IdentityKey
from enclave_signer.sealing import Sealer, UnsealError

__all__ = ["GROUP_KEY_NAMES", "EpochKeys", "Keystore", "KeystoreError"]

_log = structlog.get_logger(__name__)

GROUP_KEY_NAMES: tuple[GroupKeyName, ...] = ("secp256k1", "ed25519", "encryption")
_IDENTITY_FILE = "identity.sealed"
_CURRENT_FILE = "current.sealed"
_CURRENT_PURPOSE = "committee-current"
_BUNDLE = re.compile(r"keys-e(\d+)\.sealed")


class KeystoreError(Exception):
    """A sealed file that cannot be read back (tampered, another build, malformed): names the file only."""


@dataclass(frozen=True)
class EpochKeys:
    """One epoch's public record and this member's shares of its three group keys."""

    record: CommitteeRecord
    shares: dict[GroupKeyName, KeyShare] = field(repr=False)

    @property
    def epoch(self) -> int:
        return self.record.epoch

    def share(self, name: GroupKeyName) -> KeyShare:
        return self.shares[name]

    def __repr__(self) -> str:
        return f"EpochKeys(epoch={self.record.epoch}, members={list(self.record.member_ids)}, shares=<sealed>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("EpochKeys hold key shares and cannot be pickled: the keystore seals them")


class Keystore:
    def __init__(self, sealer: Sealer, directory: Path) -> None:
        self._sealer = sealer
        self.directory = directory

    def __repr__(self) -> str:
        return f"Keystore(directory={str(self.directory)!r})"

    # ---- identity -------------------------------------------------------------------------------------------------

    def identity(self) -> IdentityKey:
        """The sealed identity key, or a new one sealed at once."""
        return IdentityKey.load_or_generate(self._sealer, self.directory / _IDENTITY_FILE)

    # ---- key shares -----------------------------------------------------------------------------------------------

    def store(self, keys: EpochKeys, *, commit: bool) -> None:
        """Seal an epoch's bundle; with `commit`, make it the current epoch (and erase older bundles)."""
        blob = json.dumps(
            {
                "record": keys.record.model_dump(mode="json"),
                "shares": {n: _share_json(s) for n, s in keys.shares.items()},
            }
        ).encode()
        self._sealer.seal_to_file(self._bundle_path(keys.epoch), blob, purpose=_purpose(keys.epoch))
        _log.info("epoch_keys_sealed", epoch=keys.epoch, committed=commit)
        if commit:
            self.commit(keys.epoch)

    def commit(self, epoch: int) -> None:
        if not self._bundle_path(epoch).exists():
            raise KeystoreError(f"no sealed keys for epoch {epoch} to commit")
        self._sealer.seal_to_file(self.directory / _CURRENT_FILE, str(epoch).encode(), purpose=_CURRENT_PURPOSE)
        self.erase(below=epoch)
        _log.info("epoch_committed", epoch=epoch)

    def load_pending(self, epoch: int) -> EpochKeys | None:
        path = self._bundle_path(epoch)
        return self._load_bundle(path, epoch) if path.exists() else None

    def load(self) -> EpochKeys | None:
        """The current epoch's keys, or None before the first DKG (or after this member left the committee)."""
        current = self.directory / _CURRENT_FILE
        if not current.exists():
            return None
        try:
            text = self._sealer.unseal_file(current, purpose=_CURRENT_PURPOSE).decode()
            epoch = int(text)
        except (UnsealError, ValueError) as exc:
            raise KeystoreError(f"{current} cannot be unsealed: {type(exc).__name__}") from None
        if epoch < 0:
            return None  # this member left the committee: its shares were erased
        return self._load_bundle(self._bundle_path(epoch), epoch)

    def leave(self, epoch: int) -> None:
        """This member is not in the committee of `epoch`: erase every share it holds."""
        self._sealer.seal_to_file(self.directory / _CURRENT_FILE, b"-1", purpose=_CURRENT_PURPOSE)
        self.erase(below=epoch + 1)
        _log.info("left_committee", epoch=epoch)

    def discard(self, epoch: int) -> None:
        """Forget epoch `epoch`'s keys (a ceremony that did not stand): its bundle, and the pointer if current."""
        current = self.directory / _CURRENT_FILE
        if current.exists():
            try:
                pointed = int(self._sealer.unseal_file(current, purpose=_CURRENT_PURPOSE).decode())
            except (UnsealError, ValueError):
                pointed = epoch
            if pointed == epoch:
                current.unlink()
        self._bundle_path(epoch).unlink(missing_ok=True)
        _log.info("epoch_keys_discarded", epoch=epoch)

    def erase(self, *, below: int) -> None:
        """Delete the bundles of epochs below `below` (Python cannot wipe memory; the files at least go)."""
        if not self.directory.exists():
            return
        for path in self.directory.iterdir():
            m = _BUNDLE.fullmatch(path.name)
            if m and int(m.group(1)) < below:
                path.unlink(missing_ok=True)
                _log.info("epoch_keys_erased", epoch=int(m.group(1)))

    def _bundle_path(self, epoch: int) -> Path:
        return self.directory / f"keys-e{epoch}.sealed"

    def _load_bundle(self, path: Path, epoch: int) -> EpochKeys:
        try:
            data = json.loads(self._sealer.unseal_file(path, purpose=_purpose(epoch)))
            record = CommitteeRecord.model_validate(data["record"])
            shares = {name: _share_of(data["shares"][name]) for name in GROUP_KEY_NAMES}
        except (UnsealError, ValueError, KeyError, TypeError) as exc:
            raise KeystoreError(f"{path} cannot be loaded: {type(exc).__name__}") from None
        if record.epoch != epoch:
            raise KeystoreError(f"{path} holds epoch {record.epoch}, not {epoch}")
        _log.info("epoch_keys_loaded", epoch=epoch, members=list(record.member_ids))
        return EpochKeys(record, shares)


def _purpose(epoch: int) -> str:
    return f"committee-keys/e{epoch}"


def _share_json(share: KeyShare) -> dict[str, object]:
    return {
        "identifier": share.identifier,
        "secret": f"{share.secret:x}",
        "public": share.public.hex(),
        "group_public_key": share.group_public_key.hex(),
        "threshold": share.threshold,
        "suite": share.suite,
    }


def _share_of(data: dict[str, object]) -> KeyShare:
    return KeyShare(
        identifier=int(str(data["identifier"])),
        secret=int(str(data["secret"]), 16),
        public=bytes.fromhex(str(data["public"])),
        group_public_key=bytes.fromhex(str(data["group_public_key"])),
        threshold=int(str(data["threshold"])),
        suite=str(data["suite"]),
    )
