"""Throwaway GnuPG homes with generated keys, and age identities, made by the real gpg and age-keygen."""

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import tool


@dataclass
class PGPKey:
    fingerprint: str
    uid: str


class GnuPGHome:
    """A private GNUPGHOME; every key in it has no passphrase."""

    def __init__(self, path=None):
        self._tmp = None if path else tempfile.TemporaryDirectory(prefix="trident-gpg-")
        self.path = Path(path or self._tmp.name)
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)
        self.keys = []

    @property
    def env(self):
        return {**os.environ, "GNUPGHOME": str(self.path)}

    def gpg(self, *args, input_data=None):
        proc = subprocess.run([tool("gpg"), "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "",
                               *args], input=input_data, env=self.env, capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def generate(self, uid="Trident Test <test@trident.invalid>", algorithm="rsa3072"):
        """Create a key (sign + encrypt subkey) and return it."""
        before = set(self.fingerprints())
        self.gpg("--quick-generate-key", uid, algorithm, "cert,sign", "never")
        fingerprint = (set(self.fingerprints()) - before).pop()
        encrypt_algo = "cv25519" if algorithm.startswith("ed") else algorithm
        self.gpg("--quick-add-key", fingerprint, encrypt_algo, "encrypt", "never")
        key = PGPKey(fingerprint, uid)
        self.keys.append(key)
        return key

    def fingerprints(self):
        out = self.gpg("--with-colons", "--list-secret-keys").decode()
        lines = out.splitlines()
        return [lines[i + 1].split(":")[9] for i, line in enumerate(lines)
                if line.startswith("sec:") and i + 1 < len(lines) and lines[i + 1].startswith("fpr:")]

    def export_public(self, fingerprint):
        return self.gpg("--armor", "--export", fingerprint).decode()

    def export_secret(self, fingerprint):
        return self.gpg("--armor", "--export-secret-keys", fingerprint).decode()

    def close(self):
        subprocess.run(["gpgconf", "--homedir", str(self.path), "--kill", "all"], capture_output=True, check=False)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class AgeIdentity:
    public: str
    secret: str
    path: Path


def age_identity(directory):
    """Generate an age identity file in ``directory`` with the real age-keygen."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkstemp(prefix="age-", suffix=".txt", dir=directory)[1])
    path.unlink()
    subprocess.run([tool("age-keygen"), "-o", str(path)], check=True, capture_output=True)
    text = path.read_text()
    public = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("# public key: "))
    secret = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    return AgeIdentity(public=public, secret=secret, path=path)
