"""Signature checks against an explicit set of trusted keys, in a private GnuPG home.

Only the trusted keys are in that home, and the signer's fingerprint is compared with the trusted set
as well, so neither the user's keyring nor GnuPG's web of trust decides what may be deployed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Optional

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

_ARMOR = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_FINGERPRINT = re.compile(r"^(?:0X)?([0-9A-F]{40}|[0-9A-F]{64})$")


@dataclass(frozen=True)
class Signer:
    fingerprint: str
    uid: str
    signing_key: str

    def as_dict(self):
        return {"fingerprint": self.fingerprint, "uid": self.uid, "signing_key": self.signing_key}


@dataclass(frozen=True)
class GpgStatus:
    """The parts of GnuPG's ``--status-fd`` output a decision needs."""

    good: bool = False
    signing_key: Optional[str] = None
    primary: Optional[str] = None
    uid: str = ""
    problem: Optional[str] = None


def normalize_fingerprint(entry):
    """A fingerprint in canonical form (upper case, no spaces/0x), or None if ``entry`` is not one."""
    match = _FINGERPRINT.match(re.sub(r"\s+", "", entry).upper())
    return match.group(1) if match else None


def split_trusted_keys(entries):
    """Split ``trusted_keys`` into (fingerprints, armored key blocks); anything else is an error."""
    fingerprints, armored = [], []
    for index, entry in enumerate(entries):
        if _ARMOR in entry:
            armored.append(entry)
            continue
        fingerprint = normalize_fingerprint(entry)
        if fingerprint is None:
            raise TridentError(f"trusted_keys[{index}] is neither a full key fingerprint nor an armored public key")
        fingerprints.append(fingerprint)
    return fingerprints, armored


def imported_fingerprints(status_output):
    """Fingerprints from ``[GNUPG:] IMPORT_OK`` lines of ``gpg --import --status-fd``."""
    found = set()
    for line in status_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[:2] == ["[GNUPG:]", "IMPORT_OK"]:
            found.add(fields[3].upper())
    return found


def parse_status(text):
    """Read the status lines git passes through from gpg (``git verify-commit --raw``)."""
    status = GpgStatus()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0] != "[GNUPG:]":
            continue
        word = fields[1]
        if word == "GOODSIG":
            status = GpgStatus(True, status.signing_key, status.primary, " ".join(fields[3:]), status.problem)
        elif word == "VALIDSIG" and len(fields) >= 12:
            status = GpgStatus(status.good, fields[2].upper(), fields[11].upper(), status.uid, status.problem)
        elif word in ("BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NO_PUBKEY", "ERRSIG"):
            status = GpgStatus(status.good, status.signing_key, status.primary, status.uid,
                               status.problem or word)
    return status


def decide(status, trusted, what):
    """The signer if ``status`` is a good signature by a trusted key; otherwise a refusal."""
    problems = {"NO_PUBKEY": "is signed by a key that is not in trusted_keys",
                "ERRSIG": "is signed by a key that is not in trusted_keys",
                "BADSIG": "has a bad signature (the content does not match it)",
                "EXPSIG": "has an expired signature", "EXPKEYSIG": "is signed by an expired key",
                "REVKEYSIG": "is signed by a revoked key"}
    if status.problem:
        raise TridentError(f"refusing {what}: it {problems[status.problem]}")
    if not status.good or not status.primary:
        raise TridentError(f"refusing {what}: it is not signed")
    if status.primary not in trusted and status.signing_key not in trusted:
        raise TridentError(f"refusing {what}: it is signed by {status.primary}, which is not in trusted_keys")
    return Signer(status.primary, status.uid, status.signing_key)


class TrustedKeys:
    """The trusted keys, imported into ``home`` (a private, empty GnuPG home directory)."""

    def __init__(self, runner, home, entries, gpg="gpg"):
        self.home = home
        self.env = {"GNUPGHOME": home}
        fingerprints, armored = split_trusted_keys(entries)
        trusted = set(fingerprints)
        for block in armored:
            trusted |= self._import(runner, gpg, block.encode(), "an armored trusted key")
        for fingerprint in fingerprints:
            # A bare fingerprint names a key in the user's own keyring; copy just that key.
            exported = runner([gpg, "--batch", "--export", fingerprint], binary_output=True).stdout
            if not exported:
                raise TridentError(f"trusted key {fingerprint} is not in the keyring of the user running the "
                                   "task; give its armored public key in trusted_keys instead")
            self._import(runner, gpg, exported, f"trusted key {fingerprint}")
        self.fingerprints: FrozenSet[str] = frozenset(trusted)

    def _import(self, runner, gpg, data, what):
        result = runner([gpg, "--batch", "--status-fd", "1", "--import"], env=self.env, data=data,
                        check=False, binary_output=True)
        found = imported_fingerprints(result.stdout.decode(errors="replace"))
        if not found:
            raise TridentError(f"could not import {what}: {result.stderr.decode(errors='replace').strip()}")
        return found

    def verify(self, runner, git_dir, kind, name, what):
        """Verify a commit (``kind`` "commit") or an annotated tag ("tag") in ``git_dir``."""
        result = runner(["git", "-C", git_dir, f"verify-{kind}", "--raw", name], env=self.env, check=False)
        return decide(parse_status(result.stderr), self.fingerprints, what)
