"""Recovering a file's data key from its master keys: age, PGP and Vault transit natively, Shamir across groups.

A transit key (``hc_vault``) is decrypted with one ``decrypt`` call to the operator's Vault (:mod:`..vault`), and
only when the file's ``vault_address`` is that Vault: the file chooses which transit key, never where the token
goes."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.sops import age, shamir
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import MissingLibrary, SopsError
from ansible_collections.trident.gitops.plugins.module_utils.vault.client import VaultClient, VaultError
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VaultSettings, same_address

try:
    import gnupg
except ImportError:  # reported when a PGP key is needed
    gnupg = None

_ORDER = {"age": 0, "pgp": 1, "hc_vault": 2}  # sops' default decryption order, then transit


class NoUsableKey(SopsError):
    """No key group yielded its part of the data key; ``foreign`` lists key types we do not implement."""

    def __init__(self, message, foreign=()):
        super().__init__(message, key_types=sorted(set(foreign)))
        self.foreign = tuple(sorted(set(foreign)))


@dataclass
class KeyOptions:
    """Where decryption keys come from. Secret fields are never shown in messages or repr."""

    age_keys: str = field(default="", repr=False)
    age_key_file: str = ""
    age_ssh_private_key_file: str = ""
    gnupg_home: str = ""
    pgp_private_keys: tuple = field(default=(), repr=False)
    sops_binary: str = "sops"
    # Also read SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_SSH_PRIVATE_KEY_FILE, GNUPGHOME, sops' default
    # age key file and ~/.ssh/id_ed25519, ~/.ssh/id_rsa, as sops does.
    use_environment: bool = True
    environment: dict = field(default=None, repr=False)
    # The operator's Vault (VAULT_* variables already applied): where transit keys are decrypted.
    vault: VaultSettings = field(default_factory=VaultSettings)
    _vault_client: object = field(default=None, repr=False, compare=False)

    def cache_key(self):
        """A hashable summary identifying these options (secrets reduced to a digest)."""
        digest = hashlib.sha256(repr((self.age_keys, tuple(self.pgp_private_keys))).encode()).hexdigest()
        return (digest, self.age_key_file, self.age_ssh_private_key_file, self.gnupg_home, self.sops_binary,
                self.use_environment, self.vault.cache_key())

    def vault_client(self):
        """One client (one login) for every file these options decrypt."""
        if self._vault_client is None:
            self._vault_client = VaultClient(self.vault)
        return self._vault_client


def _read_key_file(path, explicit, kind):
    """The bytes of a key file; None if it does not exist and was not asked for explicitly."""
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        if explicit:
            raise SopsError(f"{kind} {path} does not exist") from None
        return None
    except OSError as exc:
        raise SopsError(f"cannot read {kind} {path}: {exc.strerror}") from None


def _ssh_identities(options, env):
    files = [(options.age_ssh_private_key_file, True)] if options.age_ssh_private_key_file else []
    if options.use_environment:
        if env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE"):
            files.append((env["SOPS_AGE_SSH_PRIVATE_KEY_FILE"], True))
        files += [(path, False) for path in age.default_ssh_identity_files(env.get("HOME"))]
    found = age.Identities()
    for path, explicit in files:
        try:
            data = _read_key_file(path, explicit, "SSH key file")
        except SopsError as exc:
            if explicit:
                raise
            # sops passes over a default ~/.ssh key it cannot read; say so only if nothing decrypts.
            found += age.Identities(skipped=(exc.message,))
            continue
        if data is not None:
            found += age.parse_ssh_identity(data, f"SSH key file {path}")
    return found


def age_identities(options):
    """Every age identity (X25519, SSH) the options and (optionally) the environment provide."""
    env = os.environ if options.environment is None else options.environment
    found = _ssh_identities(options, env)
    if options.age_keys:
        found += age.parse_identities(options.age_keys, "age_keys", words=True)
    files = [(options.age_key_file, True)] if options.age_key_file else []
    if options.use_environment:
        if env.get("SOPS_AGE_KEY"):
            found += age.parse_identities(env["SOPS_AGE_KEY"], "SOPS_AGE_KEY", words=True)
        if env.get("SOPS_AGE_KEY_FILE"):
            files.append((env["SOPS_AGE_KEY_FILE"], False))
        files.append((age.default_identity_file(env), False))
    for path, explicit in files:
        data = _read_key_file(path, explicit, "age key file")
        if data is not None:
            found += age.parse_identities(data.decode("utf-8", errors="replace"), f"age key file {path}")
    return found


class _Pgp:
    """One GnuPG session: the given home, or a private temporary one holding imported keys."""

    def __init__(self, options, runner, stack):
        if gnupg is None:
            raise MissingLibrary("python-gnupg")
        env = os.environ if options.environment is None else options.environment
        home = options.gnupg_home or (env.get("GNUPGHOME") if options.use_environment else "") or None
        if options.pgp_private_keys:
            home = stack.enter_context(private_tempdir(prefix="trident-gpg-"))
            # The agent a private home starts must die with it, or it would outlive the run.
            stack.callback(runner, ["gpgconf", "--homedir", home, "--kill", "all"], check=False)
        self.gpg = gnupg.GPG(gnupghome=home)
        for block in options.pgp_private_keys:
            result = self.gpg.import_keys(block)
            if not result.count:
                raise SopsError("pgp_private_keys: an entry is not an armored PGP private key")

    def decrypt(self, enc):
        result = self.gpg.decrypt(enc)
        return result.data if result.ok else None


def transit_part(key, client):
    """A transit key's part of the data key: one ``decrypt`` call to the operator's Vault, if the file names it."""
    if not client.settings.configured:
        raise SopsError("no Vault is configured (the vault.address option or VAULT_ADDR)")
    if not same_address(key.field("vault_address"), client.settings):
        raise SopsError(f"the file names Vault {key.field('vault_address')!r}, not the operator's "
                        f"({client.settings.address}): refused, nothing was sent to it")
    try:
        return client.transit_decrypt(key.field("engine_path"), key.field("key_name"), key.enc)
    except VaultError as exc:
        raise SopsError(exc.message) from None


def _try_group(group, identities, pgp_session, vault_client=None):
    """The group's part of the data key, or (None, reasons)."""
    reasons, foreign = [], []
    for key in sorted(group, key=lambda k: _ORDER.get(k.type, len(_ORDER))):
        if key.type == "age":
            try:
                part = age.decrypt(key.enc, identities) if identities.usable or identities.skipped else None
            except age.PostQuantumOnly as exc:
                foreign.append("age-post-quantum")
                reasons.append(f"age {key.identity}: {exc.message}")
                continue
            except SopsError as exc:
                reasons.append(f"age {key.identity}: {exc.message}")
                continue
            if part is not None:
                return part, reasons, foreign
            skipped = f" (skipped: {'; '.join(identities.skipped)})" if identities.skipped else ""
            reasons.append(f"age {key.identity}: no matching identity{skipped}")
        elif key.type == "pgp":
            part = pgp_session().decrypt(key.enc)
            if part:
                return part, reasons, foreign
            reasons.append(f"pgp {key.identity}: no usable secret key in the GnuPG home")
        elif key.type == "hc_vault" and vault_client is not None:
            try:
                return transit_part(key, vault_client()), reasons, foreign
            except SopsError as exc:
                reasons.append(f"hc_vault {key.identity}: {exc.message}")
        else:
            foreign.append(key.type)
            reasons.append(f"{key.type} {key.identity}: key type not implemented natively")
    return None, reasons, foreign


def recover_data_key(metadata, options, runner):
    """The 32-byte data key: every group must yield its part (or ``shamir_threshold`` groups)."""
    needs_age = any(k.type == "age" for group in metadata.key_groups for k in group)
    identities = age_identities(options) if needs_age else age.Identities()
    with contextlib.ExitStack() as stack:
        session = []

        def pgp_session():
            if not session:
                session.append(_Pgp(options, runner, stack))
            return session[0]

        parts, failures, foreign = [], [], []
        for number, group in enumerate(metadata.key_groups, 1):
            part, reasons, group_foreign = _try_group(group, identities, pgp_session, options.vault_client)
            foreign += group_foreign
            if part is None:
                failures.append(f"group {number}: " + "; ".join(reasons))
            else:
                parts.append(part)
    groups = len(metadata.key_groups)
    needed = (metadata.shamir_threshold or groups) if groups > 1 else 1
    if len(parts) < needed:
        raise NoUsableKey(f"no usable key to decrypt the data key ({len(parts)} of {needed} key groups "
                          f"decrypted): " + " | ".join(failures), foreign=foreign)
    key = shamir.combine(parts[:needed]) if groups > 1 else parts[0]
    if len(key) != 32:
        raise SopsError("the recovered data key has the wrong length (wrong key group shares?)")
    return key
